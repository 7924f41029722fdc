package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// holdExchanger passes queries on to a Network, except for two kinds.
// Those hold matches never get an answer: they wait until their context
// ends (a server that never answers). Those gate matches wait until a
// later query matches releaseOn, or their context ends. It records what
// the tests assert on: how many held queries were outstanding when a
// query matching watch was sent, and how gated ones ended.
type holdExchanger struct {
	next      resolver.Exchanger
	hold      func(netip.Addr, dns.Question) bool
	gate      func(netip.Addr, dns.Question) bool
	releaseOn func(netip.Addr, dns.Question) bool
	watch     func(netip.Addr, dns.Question) bool

	mu          sync.Mutex
	released    chan struct{}
	held        int   // held queries outstanding now
	heldAtWatch []int // held queries outstanding at each watched query
	gated       int   // gated queries in all
	byRelease   int   // gated queries that ended by release
}

func newHoldExchanger(next resolver.Exchanger) *holdExchanger {
	never := func(netip.Addr, dns.Question) bool { return false }
	return &holdExchanger{next: next, released: make(chan struct{}), hold: never, gate: never, releaseOn: never, watch: never}
}

func (h *holdExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	a, qq := server.Addr(), q.Question[0]
	qq.Name = strings.ToLower(qq.Name)
	h.mu.Lock()
	if h.watch(a, qq) {
		h.heldAtWatch = append(h.heldAtWatch, h.held)
	}
	if h.releaseOn(a, qq) {
		select {
		case <-h.released:
		default:
			close(h.released)
		}
	}
	switch {
	case h.hold(a, qq):
		h.held++
		h.mu.Unlock()
		<-ctx.Done()
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
		return nil, ctx.Err()
	case h.gate(a, qq):
		h.gated++
		h.mu.Unlock()
		select {
		case <-h.released:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		h.mu.Lock()
		h.byRelease++
		h.mu.Unlock()
	default:
		h.mu.Unlock()
	}
	return h.next.Exchange(ctx, network, server, q)
}

// gluelessNet is a glueless delegation, par., to host.aslow. and
// host.zfast., in that order however the NS set is sorted; each name's
// zone has a server of its own, and par. a third one.
func gluelessNet(t *testing.T) *resolvertest.Network {
	t.Helper()
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
aslow. 3600 IN NS ns.aslow.
ns.aslow. 3600 IN A 127.53.200.2
zfast. 3600 IN NS ns.zfast.
ns.zfast. 3600 IN A 127.53.200.3
par. 3600 IN NS host.aslow.
par. 3600 IN NS host.zfast.
`, `aslow. 3600 IN SOA ns.aslow. host.aslow. 1 3600 600 86400 300
aslow. 3600 IN NS ns.aslow.
ns.aslow. 3600 IN A 127.53.200.2
host.aslow. 3600 IN A 127.53.200.4
`, `zfast. 3600 IN SOA ns.zfast. host.zfast. 1 3600 600 86400 300
zfast. 3600 IN NS ns.zfast.
ns.zfast. 3600 IN A 127.53.200.3
host.zfast. 3600 IN A 127.53.200.4
`, `par. 3600 IN SOA host.zfast. host.par. 1 3600 600 86400 300
par. 3600 IN NS host.aslow.
par. 3600 IN NS host.zfast.
www.par. 3600 IN A 192.0.2.1
`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var slowServer = netip.MustParseAddr("127.53.200.2")

// TestGluelessNSNamesInParallel checks that the addresses of a glueless
// delegation's NS names are looked up at once: while the first name's
// server has not answered (it never does), the second name's address is
// found and the zone asked. No goroutine of the query outlives it.
func TestGluelessNSNamesInParallel(t *testing.T) {
	n := gluelessNet(t)
	h := newHoldExchanger(n.Exchanger(t))
	h.hold = func(a netip.Addr, _ dns.Question) bool { return a == slowServer }
	// The second name's address is found only once the first's server
	// was asked: whatever the scheduling, its lookup was under way then.
	h.gate = func(_ netip.Addr, q dns.Question) bool { return q.Name == "host.zfast." }
	h.releaseOn = func(a netip.Addr, q dns.Question) bool { return a == slowServer && q.Name == "host.aslow." }
	h.watch = func(_ netip.Addr, q dns.Question) bool { return q.Name == "www.par." }
	r := newResolver(t, n, func(c *resolver.Config) {
		c.Exchanger = h
		c.Limits.QueryTimeout = time.Minute
		c.Limits.Timeout = time.Minute
	})
	before := runtime.NumGoroutine()
	m, err := ask(t, r, "www.par.", dns.TypeA)
	if err != nil || !answerHas(m, "192.0.2.1") {
		t.Fatalf("got %v (%v), want the A record", m, err)
	}
	waitGoroutines(t, before)

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.heldAtWatch) != 1 || h.heldAtWatch[0] == 0 {
		t.Errorf("queries to the unanswering server outstanding when the zone was asked: %v, want one query asked with some outstanding", h.heldAtWatch)
	}
	if h.held != 0 {
		t.Errorf("after the answer: %d queries to the unanswering server still waiting, want all ended by the query's end", h.held)
	}
}

// TestGluelessFanOutBudget checks that the parallel lookups spend the
// query's one budget of upstream queries: however they interleave, no
// more are sent than it allows, and nothing is left running.
func TestGluelessFanOutBudget(t *testing.T) {
	const limit = 4
	n := gluelessNet(t)
	r := newResolver(t, n, func(c *resolver.Config) { c.Limits.MaxQueries = limit })
	before := runtime.NumGoroutine()
	m, err := ask(t, r, "www.par.", dns.TypeA)
	if err != nil && !errors.Is(err, resolver.ErrBudget) || err == nil && !answerHas(m, "192.0.2.1") {
		t.Errorf("got %v (%v), want the answer or a budget error", m, err)
	}
	waitGoroutines(t, before)
	if got := len(n.Log()); got > limit {
		t.Errorf("%d upstream queries sent, want at most %d:\n%v", got, limit, n.Log())
	}
}

// TestZoneKeysFetchedBesideAnswer checks that a signed zone's DNSKEY is
// asked for while the zone's servers answer the question, not after:
// the answer query is held until the DNSKEY query arrives, and is
// released by it. The keys are fetched once all the same.
func TestZoneKeysFetchedBesideAnswer(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	h := newHoldExchanger(n.Exchanger(t))
	h.gate = func(_ netip.Addr, q dns.Question) bool { return q.Name == "www.alg13.sec." && q.Qtype == dns.TypeA }
	h.releaseOn = func(_ netip.Addr, q dns.Question) bool {
		return q.Name == "alg13.sec." && q.Qtype == dns.TypeDNSKEY
	}
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
		c.Exchanger = h
		c.Limits.QueryTimeout = time.Minute
		c.Limits.Timeout = time.Minute
	})
	before := runtime.NumGoroutine()
	m, err := askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false)
	if err != nil || !m.AuthenticatedData || len(m.Answer) == 0 {
		t.Fatalf("got %v (%v), want a Secure answer", m, err)
	}
	waitGoroutines(t, before)
	h.mu.Lock()
	if h.gated == 0 || h.byRelease != h.gated {
		t.Errorf("answer queries held %d, released by the DNSKEY query %d; want every one released by it", h.gated, h.byRelease)
	}
	h.mu.Unlock()
	keys := map[string]int{}
	for _, q := range n.Log() {
		if q.Type == dns.TypeDNSKEY {
			keys[strings.ToLower(q.Name)]++
		}
	}
	for zone, c := range keys {
		if c != 1 {
			t.Errorf("DNSKEY %s asked %d times, want once", zone, c)
		}
	}
	if keys["alg13.sec."] == 0 {
		t.Errorf("DNSKEY queries %v, want alg13.sec. among them", keys)
	}
}

// TestConcurrentColdQueriesShareKeys checks that queries arriving at once
// for names of one signed zone fetch its keys once, and agree.
func TestConcurrentColdQueriesShareKeys(t *testing.T) {
	n, r := newSignedResolver(t)
	names := []string{"www.alg13.sec.", "www.alg8.sec.", "www.nsec3.sec.", "x.wild.sec.", "www.cname.sec."}
	var wg sync.WaitGroup
	errs := make([]error, len(names)*2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := askDO(t, r, names[i%len(names)], dns.TypeA, true, false)
			if err == nil && !m.AuthenticatedData {
				err = errNotSecure
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v, want a Secure answer", names[i%len(names)], err)
		}
	}
	seen := map[string]int{}
	for _, q := range n.Log() {
		if q.Type == dns.TypeDNSKEY {
			seen[strings.ToLower(q.Name)]++
		}
	}
	for zone, c := range seen {
		if c > 1 {
			t.Errorf("DNSKEY %s asked %d times, want once", zone, c)
		}
	}
}

// waitGoroutines fails the test if the goroutine count does not come back
// to at most want: a goroutine of the query still waiting for something.
// One that has finished its work takes a moment to be unscheduled after
// the query's end has counted it out, so it yields for a while.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotSecure = constError("answer without AD")
