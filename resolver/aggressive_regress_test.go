package resolver_test

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// TestAggressiveWildcardStaysInItsZone: a wildcard RRset expands to other
// names only with a proof from its own zone (RFC 8198 §5.3). kid.nsec3.sec.
// is a signed child of the NSEC3 zone nsec3.sec., with a wildcard at its
// apex and a real name beside it. Neither the child's wildcard learnt from
// a literal "*." question nor the parent's NSEC3 records may answer
// real.kid.nsec3.sec., which exists; a wildcard learnt with the child's
// own NSEC proof still answers the child's other names from the cache.
func TestAggressiveWildcardStaysInItsZone(t *testing.T) {
	n, r := newSignedResolver(t)
	// Fill the parent's NSEC3 store: each wildcard answer of nsec3.sec.
	// brings the NSEC3 covering its next closer name, so that one of them
	// covers the hash of real.kid.nsec3.sec. in the parent's chain.
	for i := range 60 {
		if _, err := askDO(t, r, fmt.Sprintf("n%d.nsec3.sec.", i), dns.TypeA, true, false); err != nil {
			t.Fatal(err)
		}
	}
	m, err := askDO(t, r, "*.kid.nsec3.sec.", dns.TypeA, true, false)
	if err != nil || !answerHas(m, "192.0.2.66") || !m.AuthenticatedData {
		t.Fatalf("*.kid.nsec3.sec. A: got %v (%v), want the wildcard's own Secure RRset", m, err)
	}
	m, err = askDO(t, r, "real.kid.nsec3.sec.", dns.TypeA, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !answerHas(m, "192.0.2.99") || answerHas(m, "192.0.2.66") || !m.AuthenticatedData {
		t.Errorf("real.kid.nsec3.sec. A: got AD=%v %v, authority %v; want its own Secure 192.0.2.99", m.AuthenticatedData, m.Answer, m.Ns)
	}

	// The child's wildcard, proved by the child's NSEC, expands as before.
	m, err = askDO(t, r, "a1.kid.nsec3.sec.", dns.TypeA, true, false)
	if err != nil || !answerHas(m, "192.0.2.66") || !m.AuthenticatedData {
		t.Fatalf("a1.kid.nsec3.sec. A: got %v (%v), want a Secure wildcard answer", m, err)
	}
	n.ResetLog()
	m, err = askDO(t, r, "b2.kid.nsec3.sec.", dns.TypeA, true, false)
	if err != nil || !answerHas(m, "192.0.2.66") || !m.AuthenticatedData || !hasType(m.Ns, dns.TypeNSEC) {
		t.Errorf("b2.kid.nsec3.sec. A: got %v (%v), want the wildcard synthesised with its NSEC proof", m, err)
	}
	if log := n.Log(); len(log) > 0 {
		t.Errorf("b2.kid.nsec3.sec. A: sent %v, want an answer from the cache", log)
	}
	for _, rr := range m.Answer {
		if s, ok := rr.(*dns.RRSIG); ok && s.SignerName != "kid.nsec3.sec." {
			t.Errorf("b2.kid.nsec3.sec. A: signature by %s, want kid.nsec3.sec.", s.SignerName)
		}
	}
}
