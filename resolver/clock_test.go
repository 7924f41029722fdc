package resolver_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// suspendNet is a root and one zone whose answers live 60 seconds.
func suspendNet(t *testing.T) *resolvertest.Network {
	t.Helper()
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
sus. 3600 IN NS ns.sus.
ns.sus. 3600 IN A 127.53.200.2
`, `sus. 3600 IN SOA ns.sus. host.sus. 1 3600 600 86400 60
sus. 3600 IN NS ns.sus.
ns.sus. 3600 IN A 127.53.200.2
short.sus. 60 IN A 192.0.2.60
`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSuspendAgesCache is a laptop that sleeps: the wall clock (Config.Now)
// stands still as Go's monotonic clock does across a suspend on Linux,
// while the age clock (CLOCK_BOOTTIME in production) jumps two hours.
// Answers and negative answers with a TTL of 60 seconds must be gone.
func TestSuspendAgesCache(t *testing.T) {
	wall := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	age := newFakeClock(wall)
	tests := []struct {
		name  string
		qname string
		rcode int
	}{
		{"answer", "short.sus.", dns.RcodeSuccess},
		{"negative answer", "missing.sus.", dns.RcodeNameError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := suspendNet(t)
			r := newResolver(t, n, func(c *resolver.Config) {
				c.Now = func() time.Time { return wall }
				c.AgeClock = age.Now
			})
			zone := netip.MustParseAddr("127.53.200.2")
			for i, step := range []struct {
				jump      time.Duration
				wantAsked int // queries the zone's server has had in all
			}{
				{0, 1},                // first: resolved
				{30 * time.Second, 1}, // within the TTL: a cache hit
				{2 * time.Hour, 2},    // after the suspend: asked again
			} {
				age.Add(step.jump)
				m, err := ask(t, r, tc.qname, dns.TypeA)
				if err != nil || m.Rcode != tc.rcode {
					t.Fatalf("step %d: got %v (%v), want rcode %s", i, m, err, dns.RcodeToString[tc.rcode])
				}
				if got := n.Queries(zone); got != step.wantAsked {
					t.Errorf("step %d (after %v): the zone's server was asked %d times; want %d", i, step.jump, got, step.wantAsked)
				}
			}
		})
	}
}

// TestSuspendEndsHoldDown: what the resolver holds against a server (a
// cached failure, lameness) ends once its time has passed on the age
// clock, though the wall clock has not moved.
func TestSuspendEndsHoldDown(t *testing.T) {
	wall := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	age := newFakeClock(wall)
	n := suspendNet(t)
	r := newResolver(t, n, func(c *resolver.Config) {
		c.Now = func() time.Time { return wall }
		c.AgeClock = age.Now
	})
	zone := netip.MustParseAddr("127.53.200.2")
	n.SetFault(zone, resolvertest.Fault{Refuse: true})
	if m, err := ask(t, r, "short.sus.", dns.TypeA); err == nil {
		t.Fatalf("through a refusing server: got %v, want an error", m)
	}
	n.ClearFaults()
	age.Add(time.Second)
	if m, err := ask(t, r, "short.sus.", dns.TypeA); err == nil {
		t.Fatalf("a second later: got %v, want the failure remembered", m)
	}
	age.Add(2 * time.Hour)
	m, err := ask(t, r, "short.sus.", dns.TypeA)
	if err != nil || !answerHas(m, "192.0.2.60") {
		t.Fatalf("after the suspend: got %v (%v), want the answer", m, err)
	}
}
