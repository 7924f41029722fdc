package resolver_test

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// TestTTLClamp (issue 13, item 8): every answer a client gets respects
// the cache's MaxTTL (24 h by default), the first, uncached one
// included, and a TTL with its top bit set counts as zero (RFC 2181 §8)
// rather than passing through raw.
func TestTTLClamp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ttl     uint32
		wantMax uint32
	}{
		{"2^31-1 is clamped to a day", 1<<31 - 1, 86400},
		{"2^32-1 counts as zero", 1<<32 - 1, 0},
		{"2^31 counts as zero", 1 << 31, 0},
		{"an ordinary TTL passes", 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
				rootAddr: func(q dns.Question) *dns.Msg {
					a := &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: tc.ttl}, A: []byte{192, 0, 2, 1}}
					m := msg(t, true, 0)
					m.Answer = []dns.RR{a}
					return m
				},
			}}
			r, _ := scriptedResolver(t, s, nil)
			for i := range 2 {
				m, err := ask(t, r, "big.example.", dns.TypeA)
				if err != nil || len(m.Answer) != 1 {
					t.Fatalf("query %d: got %v, %v; want one record", i, m, err)
				}
				if got := m.Answer[0].Header().Ttl; got > tc.wantMax {
					t.Errorf("query %d: TTL %d; want at most %d", i, got, tc.wantMax)
				}
			}
		})
	}
}
