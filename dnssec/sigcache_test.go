package dnssec

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSigCache: a check that succeeded is remembered and answers the same
// question again; nothing else does. The window, the signer and the
// budget are checked whatever the memo holds.
func TestSigCache(t *testing.T) {
	k := newKey(t, "example.", dns.ECDSAP256SHA256, 256)
	other := newKey(t, "example.", dns.ECDSAP256SHA256, 256)
	rrset := mustRRs(t, "www.example. 300 IN A 192.0.2.1")
	good := k.sign(t, rrset)
	c := NewSigCache(16)
	verify := func(rrset []dns.RR, sig *dns.RRSIG, key *dns.DNSKEY, now time.Time, b *Budget) Result {
		if b == nil {
			b = NewBudget(Limits{}, Policy{})
		}
		return VerifyRRset(rrset, []*dns.RRSIG{sig}, []*dns.DNSKEY{key}, "example.", now, b.WithSigCache(c))
	}

	if got := verify(rrset, good, k.key, testNow, nil); got.Status != Secure {
		t.Fatalf("first check: %v (%v), want secure", got.Status, got.Err)
	}
	if c.Len() != 1 {
		t.Fatalf("Len() = %d after a good check, want 1", c.Len())
	}
	b := NewBudget(Limits{}, Policy{})
	if got := verify(rrset, good, k.key, testNow, b); got.Status != Secure {
		t.Errorf("remembered check: %v (%v), want secure", got.Status, got.Err)
	}
	if b.Validations() != 1 {
		t.Errorf("a remembered check counted %d validations, want 1", b.Validations())
	}

	forged := dns.Copy(good).(*dns.RRSIG)
	forged.Signature = other.sign(t, rrset).Signature
	otherData := mustRRs(t, "www.example. 300 IN A 192.0.2.66")
	tests := []struct {
		name  string
		rrset []dns.RR
		sig   *dns.RRSIG
		key   *dns.DNSKEY
		now   time.Time
	}{
		{"other key's signature", rrset, forged, k.key, testNow},
		{"other data", otherData, good, k.key, testNow},
		{"expired", rrset, good, k.key, testExpiration.Add(time.Hour)},
		{"not yet valid", rrset, good, k.key, testInception.Add(-time.Hour)},
	}
	for _, tt := range tests {
		for range 2 {
			if got := verify(tt.rrset, tt.sig, tt.key, tt.now, nil); got.Status != Bogus {
				t.Errorf("%s: %v, want bogus", tt.name, got.Status)
			}
		}
	}
	if c.Len() != 1 {
		t.Errorf("Len() = %d after failed checks, want 1: failures are not remembered", c.Len())
	}
	// A budget that is spent refuses even a remembered check.
	spent := NewBudget(Limits{MaxValidations: 1}, Policy{})
	verify(otherData, good, k.key, testNow, spent)
	if got := verify(rrset, good, k.key, testNow, spent); got.Status != Bogus {
		t.Errorf("spent budget: %v, want bogus", got.Status)
	}
}

// TestSigCacheBound: a SigCache remembers at most the checks it was made
// for, however many succeed (resolver.SideCaches.SigEntries sizes it).
func TestSigCacheBound(t *testing.T) {
	k := newKey(t, "example.", dns.ECDSAP256SHA256, 256)
	const n = 4
	c := NewSigCache(n)
	for i := range 3 * n {
		rrset := mustRRs(t, fmt.Sprintf("www.example. 300 IN A 192.0.2.%d", i+1))
		b := NewBudget(Limits{}, Policy{}).WithSigCache(c)
		if got := VerifyRRset(rrset, []*dns.RRSIG{k.sign(t, rrset)}, []*dns.DNSKEY{k.key}, "example.", testNow, b); got.Status != Secure {
			t.Fatalf("check %d: %v (%v), want secure", i, got.Status, got.Err)
		}
	}
	if got := c.Len(); got < 1 || got > n {
		t.Errorf("Len() = %d after %d checks, want at most %d", got, 3*n, n)
	}
}
