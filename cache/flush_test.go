package cache

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestFlush(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	fill := func() *Cache {
		c := New(Config{MaxEntries: 100, Shards: 1}) // one shard: no eviction by hashing
		for _, name := range []string{"example.com.", "www.example.com.", "a.b.example.com.", "example.net.", "notexample.com."} {
			// A and AAAA answers (one entry each: DO is not part of the
			// key) and an NS RRset: three entries per name.
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				m := new(dns.Msg)
				m.SetQuestion(name, qt)
				rr, _ := dns.NewRR(name + " 300 IN A 192.0.2.1")
				m.Answer = []dns.RR{rr}
				c.SetMsg(NewKey(name, qt, dns.ClassINET, false, false), m, Meta{}, now)
				c.SetMsg(NewKey(name, qt, dns.ClassINET, true, false), m, Meta{}, now)
			}
			rr, _ := dns.NewRR(name + " 300 IN NS ns.example.org.")
			c.SetRRset([]dns.RR{rr}, Meta{Rank: RankAnswer}, now)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		flush    func(c *Cache) int
		dropped  int
		gone     []string
		survives []string
	}{
		{"name", func(c *Cache) int { return c.FlushName("WWW.example.com") }, 3,
			[]string{"www.example.com."}, []string{"example.com.", "a.b.example.com.", "example.net."}},
		{"zone", func(c *Cache) int { return c.FlushZone("example.com.") }, 9,
			[]string{"example.com.", "www.example.com.", "a.b.example.com."}, []string{"notexample.com.", "example.net."}},
		{"root", func(c *Cache) int { return c.FlushZone(".") }, 15,
			[]string{"example.com.", "example.net.", "notexample.com."}, nil},
	} {
		c := fill()
		if got := tc.flush(c); got != tc.dropped {
			t.Errorf("%s: dropped %d; want %d", tc.name, got, tc.dropped)
		}
		for _, n := range tc.gone {
			if _, _, ok := c.GetMsg(NewKey(n, dns.TypeA, dns.ClassINET, true, false), now); ok {
				t.Errorf("%s: %s still cached", tc.name, n)
			}
			if _, _, ok := c.GetRRset(n, dns.TypeNS, dns.ClassINET, now); ok {
				t.Errorf("%s: %s NS still cached", tc.name, n)
			}
		}
		for _, n := range tc.survives {
			if _, _, ok := c.GetMsg(NewKey(n, dns.TypeAAAA, dns.ClassINET, false, false), now); !ok {
				t.Errorf("%s: %s flushed too", tc.name, n)
			}
		}
	}
}
