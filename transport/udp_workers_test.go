package transport

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// parkedWorkers counts the handler goroutines parked in work's select:
// only those can take a query from dispatch's non-blocking send
// (idleWorkers counts a handler a moment before it gets there).
func parkedWorkers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && strings.Contains(g, " [select") && strings.Contains(g, ".(*UDPServer).work(") {
			n++
		}
	}
	return n
}

// TestUDPWorkersReused: queries asked one after another are handled by
// the handler goroutine the first one started, which waits for the next
// (its stack grown already); Shutdown ends it (checkLeaks).
func TestUDPWorkersReused(t *testing.T) {
	checkLeaks(t)
	addr, s := startUDP(t, Config{Handler: testHandler(t)})
	s.idleFor.Store(int64(time.Hour)) // however slow the machine
	const n = 20
	for i := range n {
		r := exchange(t, "udp", addr, query("example.com.", dns.TypeA, false, 0, false))
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("query %d: %v", i, r)
		}
		// The handler sends the answer before it goes back to waiting:
		// wait for it to wait (a condition, not a time).
		deadline := time.Now().Add(testTimeout)
		for parkedWorkers() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("after query %d: %d handlers waiting, want 1", i, parkedWorkers())
			}
			runtime.Gosched()
		}
	}
	if got := s.spawned.Load(); got != 1 {
		t.Errorf("%d handler goroutines started for %d queries one after another, want 1", got, n)
	}
}

// TestUDPLimitedEvent: a query dropped because MaxUDPInFlight handlers
// run is counted (Events.Limited), by the batched reader (Linux) as by
// the plain one.
func TestUDPLimitedEvent(t *testing.T) {
	ev := make(chanEvents, 8)
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		entered <- struct{}{}
		<-release
		return new(dns.Msg), nil
	})
	addr, _ := startUDP(t, Config{Handler: h, MaxUDPInFlight: 1, Events: ev})
	defer close(release)
	c := dialRaw(t, "udp", addr)
	for id := range uint16(2) {
		m := query("slow.example.", dns.TypeA, false, 0, false)
		m.Id = id
		if _, err := c.Write(pack(t, m)); err != nil {
			t.Fatal(err)
		}
		if id == 0 {
			<-entered
		}
	}
	nextEvent(t, ev, "limited")
}
