package transport

import (
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUDPWorkersReused: queries asked one after another are handled by
// the handler goroutine the first one started, which waits for the next
// (its stack grown already); Shutdown ends it (checkLeaks).
func TestUDPWorkersReused(t *testing.T) {
	checkLeaks(t)
	addr, s := startUDP(t, Config{Handler: testHandler(t)})
	const n = 20
	for i := range n {
		r := exchange(t, "udp", addr, query("example.com.", dns.TypeA, false, 0, false))
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("query %d: %v", i, r)
		}
		// The handler sent the answer before it went back to waiting:
		// wait for it to wait (a condition, not a time).
		deadline := time.Now().Add(testTimeout)
		for s.idleWorkers.Load() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("after query %d: %d handlers waiting, want 1", i, s.idleWorkers.Load())
			}
			runtime.Gosched()
		}
	}
	if got := s.spawned.Load(); got != 1 {
		t.Errorf("%d handler goroutines started for %d queries one after another, want 1", got, n)
	}
}
