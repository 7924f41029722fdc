package resolver_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// zoneServers returns the addresses that serve zone in n.
func zoneServers(n *resolvertest.Network, zone string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for a, zones := range n.Servers() {
		for _, z := range zones {
			if strings.EqualFold(z, zone) {
				out[a] = true
			}
		}
	}
	return out
}

// TestMinimisationRelaxedPerZone: when one zone's servers drop minimised
// NS queries (a filter in front of the root, say), hush retries that zone
// with minimised A queries and goes on minimising below it: no server
// above the zone that holds the name sees the full name (RFC 9156 §2.3
// relaxes one zone, not the walk).
func TestMinimisationRelaxedPerZone(t *testing.T) {
	n := newNet(t)
	for a := range zoneServers(n, ".") {
		n.SetFault(a, resolvertest.Fault{DropType: dns.TypeNS})
	}
	r := newResolver(t, n)
	const name = "www.plain.example."
	m, err := ask(t, r, name, dns.TypeA)
	if err != nil || m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
		t.Fatalf("got %v, %v; want an answer", m, err)
	}
	owners := zoneServers(n, "plain.example.")
	sawA := false
	for _, q := range n.Log() {
		if strings.EqualFold(q.Name, name) && !owners[q.Server.Addr()] {
			t.Errorf("full name sent to a server above its zone: %v", q)
		}
		if q.Type == dns.TypeA && strings.EqualFold(q.Name, "example.") {
			sawA = true
		}
	}
	if !sawA {
		t.Errorf("no minimised A query to the root after its NS queries went unanswered:\n%v", n.Log())
	}
}

// TestDeadZoneCost: once a zone's servers stop answering, the first
// question below it may walk the relaxed-minimisation ladder and ask the
// parent again; after that, each question costs one query per dead server
// and nothing more (an attacker's random names under a dead zone must not
// multiply traffic, nor reach the parent once per name).
func TestDeadZoneCost(t *testing.T) {
	n := newNet(t)
	r := newResolver(t, n)
	if _, err := ask(t, r, "www.plain.example.", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	dead := zoneServers(n, "plain.example.")
	for a := range dead {
		n.SetFault(a, resolvertest.Fault{Drop: true})
	}
	for i, name := range []string{"a.b.c.plain.example.", "x.plain.example.", "d.e.f.plain.example.", "g.h.plain.example."} {
		n.ResetLog()
		if m, err := ask(t, r, name, dns.TypeA); err == nil && m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("%s: got %v, want SERVFAIL from a dead zone", name, m)
		}
		toDead, toOthers := 0, 0
		for _, q := range n.Log() {
			if dead[q.Server.Addr()] {
				toDead++
			} else {
				toOthers++
			}
		}
		limit, others := len(dead), 0
		if i == 0 {
			// NS, then A minimised, then the full name; and the
			// parent once, which hands back the same servers.
			limit, others = 3*len(dead)+len(dead), 1
		}
		if toDead > limit || toOthers > others {
			t.Errorf("%s (question %d): %d queries to the %d dead servers and %d to others, want at most %d and %d:\n%v",
				name, i+1, toDead, len(dead), toOthers, limit, others, n.Log())
		}
	}
}
