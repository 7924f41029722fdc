package resolver_test

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// TestTrustAnchorSentinel checks RFC 8509 §3.2 on Secure wildcard names of
// the signed simulated internet (wild.sec. answers every name): is-ta with
// a root anchor's key tag and not-ta with another answer as usual, the
// opposite ones are SERVFAIL, and CD, other types and other labels are
// left alone.
func TestTrustAnchorSentinel(t *testing.T) {
	n, r := newSignedResolver(t)
	var tag uint16
	for _, rr := range n.TrustAnchor() {
		if rr.Header().Name == "." {
			switch a := rr.(type) {
			case *dns.DS:
				tag = a.KeyTag
			case *dns.DNSKEY:
				tag = a.KeyTag()
			}
		}
	}
	if tag == 0 {
		t.Fatal("no root trust anchor")
	}
	other := tag + 1
	tests := []struct {
		label string
		qtype uint16
		cd    bool
		zone  string
		fail  bool
	}{
		{fmt.Sprintf("root-key-sentinel-is-ta-%05d", tag), dns.TypeA, false, "wild.sec.", false},
		{fmt.Sprintf("root-key-sentinel-not-ta-%05d", tag), dns.TypeA, false, "wild.sec.", true},
		{fmt.Sprintf("ROOT-KEY-SENTINEL-NOT-TA-%05d", tag), dns.TypeA, false, "wild.sec.", true},
		{fmt.Sprintf("root-key-sentinel-is-ta-%05d", other), dns.TypeA, false, "wild.sec.", true},
		{fmt.Sprintf("root-key-sentinel-not-ta-%05d", other), dns.TypeA, false, "wild.sec.", false},
		{fmt.Sprintf("root-key-sentinel-is-ta-%05d", other), dns.TypeTXT, false, "wild.sec.", false},
		{fmt.Sprintf("root-key-sentinel-is-ta-%05d", other), dns.TypeA, true, "wild.sec.", false},
		{"root-key-sentinel-is-ta-123", dns.TypeA, false, "wild.sec.", false}, // not five digits
		{fmt.Sprintf("x.root-key-sentinel-is-ta-%05d", other), dns.TypeA, false, "wild.sec.", false},
	}
	for _, tt := range tests {
		name := tt.label + "." + tt.zone
		t.Run(fmt.Sprintf("%s/%s/cd=%v", name, dns.TypeToString[tt.qtype], tt.cd), func(t *testing.T) {
			m, err := askDO(t, r, name, tt.qtype, true, tt.cd)
			if tt.fail {
				if err == nil {
					t.Errorf("got %v, want SERVFAIL", m)
				}
				return
			}
			if err != nil || len(m.Answer) == 0 {
				t.Errorf("got %v (%v), want the answer", m, err)
			}
		})
	}
}

// TestNoADWithCD checks that a client that sets CD, and so validates for
// itself, gets no AD even for a Secure answer (as from Unbound and Knot
// Resolver; Deckard's val_ta_sentinel).
func TestNoADWithCD(t *testing.T) {
	_, r := newSignedResolver(t)
	for _, cd := range []bool{false, true} {
		m, err := askDO(t, r, "www.alg13.sec.", dns.TypeA, true, cd)
		if err != nil {
			t.Fatal(err)
		}
		if m.AuthenticatedData == cd {
			t.Errorf("CD=%v: AD=%v, want %v", cd, m.AuthenticatedData, !cd)
		}
	}
}
