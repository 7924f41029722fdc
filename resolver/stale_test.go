package resolver_test

import (
	"testing"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

func ednsCode(m *dns.Msg) (uint16, bool) {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if x, ok := e.(*dns.EDNS0_EDE); ok {
				return x.InfoCode, true
			}
		}
	}
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			for _, e := range o.Option {
				if x, ok := e.(*dns.EDNS0_EDE); ok {
					return x.InfoCode, true
				}
			}
		}
	}
	return 0, false
}

// TestServeStale (issue 13, item 1): once an answer has expired and its
// zone's servers fail, clients get the expired answer with TTL 30 and
// EDE 3 (19 for NXDOMAIN) instead of SERVFAIL; once the servers are back,
// the fresh answer. With serve-stale off, SERVFAIL.
func TestServeStale(t *testing.T) {
	for _, tc := range []struct {
		name    string
		qname   string
		rcode   int
		ede     uint16
		noStale bool
		slow    bool // the servers are slow rather than failing
	}{
		{"answer", "www.plain.example.", dns.RcodeSuccess, resolver.EDEStaleAnswer, false, false},
		{"NXDOMAIN", "nope.plain.example.", dns.RcodeNameError, resolver.EDEStaleNXDomain, false, false},
		{"off", "www.plain.example.", dns.RcodeServerFailure, 0, true, false},
		{"slow servers: stale after the client timeout", "www.plain.example.", dns.RcodeSuccess, resolver.EDEStaleAnswer, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t)
			clk := newFakeClock(time.Unix(1.7e9, 0))
			c := cache.New(cache.Config{StaleFor: time.Hour})
			r := newResolver(t, n, func(cfg *resolver.Config) {
				cfg.AgeClock = clk.Now
				cfg.Cache = c
				cfg.NoServeStale = tc.noStale
				cfg.StaleClientTimeout = 20 * time.Millisecond
			})
			if _, err := ask(t, r, tc.qname, dns.TypeA); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Hour) // past every TTL of the zone
			fault := resolvertest.Fault{ServFail: true}
			if tc.slow {
				// Slower than the client timeout, within the query
				// timeout: the refresh succeeds, after the stale answer.
				fault = resolvertest.Fault{Delay: 150 * time.Millisecond}
			}
			for a := range zoneServers(n, "plain.example.") {
				n.SetFault(a, fault)
			}
			m, err := askEDNS(t, r, tc.qname, dns.TypeA)
			if tc.noStale {
				if err == nil && m.Rcode != dns.RcodeServerFailure {
					t.Fatalf("got %v; want SERVFAIL with serve-stale off", m)
				}
				return
			}
			if err != nil || m.Rcode != tc.rcode {
				t.Fatalf("got %v, %v; want the stale answer", m, err)
			}
			for _, rr := range append(m.Answer, m.Ns...) {
				if rr.Header().Ttl != cache.StaleTTL {
					t.Errorf("stale TTL %d; want %d: %v", rr.Header().Ttl, cache.StaleTTL, rr)
				}
			}
			if code, ok := ednsCode(m); !ok || code != tc.ede {
				t.Errorf("EDE %d (present %t); want %d", code, ok, tc.ede)
			}
			if tc.slow {
				return // the refresh is still on its way
			}
			// The servers are back: the fresh answer, no EDE.
			for a := range zoneServers(n, "plain.example.") {
				n.SetFault(a, resolvertest.Fault{})
			}
			m, err = askEDNS(t, r, tc.qname, dns.TypeA)
			if err != nil || m.Rcode != tc.rcode {
				t.Fatalf("after recovery: %v, %v", m, err)
			}
			if code, ok := ednsCode(m); ok {
				t.Errorf("after recovery: EDE %d; want none", code)
			}
		})
	}
}

func askEDNS(t *testing.T, r *resolver.Resolver, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	return askDO(t, r, name, qtype, false, false)
}
