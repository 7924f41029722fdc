package resolvertest

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// defaultNet builds the embedded network or fails the test.
func defaultNet(t testing.TB) *Network {
	t.Helper()
	n, err := Default()
	if err != nil {
		t.Fatalf("Default() error: %v", err)
	}
	return n
}

// query builds a query; edns 0 means no OPT record.
func query(name string, qtype uint16, edns uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	if edns > 0 {
		q.SetEdns0(edns, false)
	}
	return q
}

// at is server address s on port 53.
func at(s string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(s), 53) }

// rrs normalises records written as zone-file strings (or taken from a
// message, OPT left out) into sorted, lowercased presentation lines.
func rrs(t testing.TB, in any) []string {
	t.Helper()
	var out []string
	switch v := in.(type) {
	case []string:
		for _, s := range v {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatalf("bad record %q in test: %v", s, err)
			}
			out = append(out, strings.ToLower(rr.String()))
		}
	case []dns.RR:
		for _, rr := range v {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			out = append(out, strings.ToLower(rr.String()))
		}
	}
	slices.Sort(out)
	return out
}

// exchange sends q in-process with a background context and fails the
// test on error.
func exchange(t testing.TB, n *Network, network, server string, q *dns.Msg) *dns.Msg {
	t.Helper()
	r, err := n.Exchange(context.Background(), network, at(server), q)
	if err != nil {
		t.Fatalf("Exchange(%s %s %s) error: %v", network, server, q.Question[0].Name, err)
	}
	return r
}
