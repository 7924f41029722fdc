package cache

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// t0 is the time entries are stored at in tests; readers add to it.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// rr parses a record in zone-file syntax.
func rr(tb testing.TB, s string) dns.RR {
	tb.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		tb.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return r
}

func rrs(tb testing.TB, ss ...string) []dns.RR {
	tb.Helper()
	out := make([]dns.RR, 0, len(ss))
	for _, s := range ss {
		out = append(out, rr(tb, s))
	}
	return out
}

// answer builds a response to (name, qtype) in the shape of CoreDNS's
// test.Case: records as zone-file strings.
type answer struct {
	Rcode  int
	Answer []string
	Ns     []string
	Extra  []string
}

func (a answer) msg(tb testing.TB, name string, qtype uint16) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Response = true
	m.RecursionAvailable = true
	m.Rcode = a.Rcode
	m.Answer = rrs(tb, a.Answer...)
	m.Ns = rrs(tb, a.Ns...)
	m.Extra = rrs(tb, a.Extra...)
	return m
}

// ttlsOf returns the TTLs of a message's records in message order, OPT
// excluded.
func ttlsOf(m *dns.Msg) []uint32 {
	var out []uint32
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, r := range sec {
			if r.Header().Rrtype != dns.TypeOPT {
				out = append(out, r.Header().Ttl)
			}
		}
	}
	return out
}
