package rpl

import (
	"testing"

	"github.com/miekg/dns"
)

// TestSameRR checks the record comparison of CHECK_ANSWER: TTL and the
// case of names and of case-insensitive encodings do not matter, the data
// does.
func TestSameRR(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"owner case", "a.example. 60 IN A 192.0.2.1", "A.EXAMPLE. 300 IN A 192.0.2.1", true},
		{"nsec3 next hash case", "x.example. 60 IN NSEC3 1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A", "x.example. 60 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A", true},
		{"ds digest case", "x.example. 60 IN DS 1 8 2 ABCDEF0123", "x.example. 60 IN DS 1 8 2 abcdef0123", true},
		{"nsec3 other hash", "x.example. 60 IN NSEC3 1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A", "x.example. 60 IN NSEC3 1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJS A", false},
		{"other address", "a.example. 60 IN A 192.0.2.1", "a.example. 60 IN A 192.0.2.2", false},
		{"other owner", "a.example. 60 IN A 192.0.2.1", "b.example. 60 IN A 192.0.2.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := dns.NewRR(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := dns.NewRR(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := sameRR(a, b); got != tt.want {
				t.Errorf("sameRR(%v, %v) = %v, want %v", a, b, got, tt.want)
			}
		})
	}
}
