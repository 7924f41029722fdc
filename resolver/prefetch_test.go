package resolver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// TestPrefetch (issue 13, item 2): an answer asked for in the last tenth
// of its TTL is refreshed in the background, once however many ask, so
// that after its first TTL it is still a cache hit.
func TestPrefetch(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  bool
		wire bool // the clients hit through AppendCached, the listeners' path
	}{{"on", false, false}, {"off", true, false}, {"on, wire hits", false, true}, {"off, wire hits", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t)
			clk := newFakeClock(time.Unix(1.7e9, 0))
			r := newResolver(t, n, func(cfg *resolver.Config) {
				cfg.AgeClock = clk.Now
				cfg.Cache = cache.New(cache.Config{})
				cfg.NoPrefetch = tc.off
			})
			const name = "www.plain.example."
			m, err := ask(t, r, name, dns.TypeA)
			if err != nil || len(m.Answer) == 0 {
				t.Fatalf("got %v, %v", m, err)
			}
			ttl := time.Duration(m.Answer[0].Header().Ttl) * time.Second
			asked := func() int {
				k := 0
				for _, q := range n.Log() {
					if strings.EqualFold(q.Name, name) {
						k++
					}
				}
				return k
			}
			before := asked()
			clk.Add(ttl * 95 / 100)
			for range 5 { // five clients in the last tenth: one prefetch
				if !hit(t, r, name, tc.wire) {
					t.Fatal("not a cache hit before expiry")
				}
			}
			if tc.off {
				if got := asked(); got != before {
					t.Errorf("%d queries with prefetch off; want none", got-before)
				}
				return
			}
			// The prefetch runs in the background: wait for its query.
			deadline := time.Now().Add(10 * time.Second)
			for asked() == before && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if got := asked() - before; got != 1 {
				t.Fatalf("%d upstream queries for the name in the last tenth of its TTL; want 1 (the prefetch)", got)
			}
			// Once the prefetched answer is stored, the original TTL
			// can pass and the name is still a hit.
			for time.Now().Before(deadline) {
				clk.Add(0)
				if m, ok := r.AnswerCached(question(name)); ok && m.Answer[0].Header().Ttl > uint32(ttl/time.Second/10) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			clk.Add(ttl / 10)
			if _, ok := r.AnswerCached(question(name)); !ok {
				t.Errorf("no cache hit after the original TTL: the prefetch did not refresh the answer")
			}
		})
	}
}

func question(name string) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	return q
}

// hit asks r's cache for name's A records, through AnswerCached or, with
// wire set, through AppendCached as a listener does.
func hit(t *testing.T, r *resolver.Resolver, name string, wire bool) bool {
	t.Helper()
	if !wire {
		_, ok := r.AnswerCached(question(name))
		return ok
	}
	qname := make([]byte, 256)
	end, err := dns.PackDomainName(name, qname, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := r.AppendCached(nil, qname[:end], dns.TypeA, false, false, false)
	return ok
}
