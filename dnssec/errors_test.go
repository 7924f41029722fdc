package dnssec

import (
	"errors"
	"fmt"
	"testing"
)

func TestEDE(t *testing.T) {
	tests := []struct {
		err    error
		want   uint16
		wantOK bool
	}{
		{nil, 0, false},
		{errors.New("other"), 0, false},
		{ErrBogus, 6, true},
		{ErrSignatureExpired, 7, true},
		{ErrSignatureNotYetValid, 8, true},
		{ErrDNSKEYMissing, 9, true},
		{ErrRRSIGsMissing, 10, true},
		{ErrNSECMissing, 12, true},
		{ErrUnsupportedAlgorithm, 1, true},
		{ErrUnsupportedDigest, 2, true},
		{ErrNSEC3Iterations, 27, true},
		{fmt.Errorf("wrapped: %w", ErrBudget), 6, true},
	}
	for _, tt := range tests {
		got, ok := EDE(tt.err)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("EDE(%v): got %d %v, want %d %v", tt.err, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNilBudget(t *testing.T) {
	var b *Budget
	if b.Validations() != 0 || b.Failures() != 0 || b.Hashes() != 0 {
		t.Errorf("nil budget reports spend")
	}
	if got := b.Limits(); got != DefaultLimits() {
		t.Errorf("got %+v, want defaults", got)
	}
	if got := NewBudget(Limits{MaxSigsPerRRset: 2}, Policy{}).Limits(); got.MaxSigsPerRRset != 2 || got.MaxNSEC3Iterations != 150 {
		t.Errorf("got %+v, want MaxSigsPerRRset 2 and defaults elsewhere", got)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Indeterminate: "indeterminate", Secure: "secure", Insecure: "insecure", Bogus: "bogus"} {
		if got := s.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
