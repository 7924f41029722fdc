package resolver

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestServerOrder(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	fast, slow, dead, lame := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")
	s := newServers()
	s.success(fast, 10*time.Millisecond, now)
	s.success(slow, 200*time.Millisecond, now)
	for range holdDownAfter {
		s.timeout(dead, time.Second, now)
	}
	s.setLame(lame, "example.", now)
	firsts := map[netip.Addr]int{}
	for range 1000 {
		got := s.order([]netip.Addr{dead, lame, slow, fast}, "example.", now)
		firsts[got[0]]++
		if last2 := got[2:]; !(containsAddr(last2, dead) && containsAddr(last2, lame)) {
			t.Fatalf("order = %v, want held-down and lame servers last", got)
		}
	}
	if firsts[fast] < 900 {
		t.Errorf("fastest server first %d times in 1000, want most", firsts[fast])
	}
	if firsts[slow] == 0 {
		t.Errorf("slower server never explored in 1000 orderings")
	}
	// Lameness is per zone.
	if got := s.order([]netip.Addr{lame}, "other.", now); got[0] != lame {
		t.Errorf("order = %v", got)
	}
	// The hold-down ends.
	later := now.Add(holdDown + time.Second)
	if got := s.order([]netip.Addr{dead, slow}, "x.", later); got[0] != slow && got[1] != slow {
		t.Errorf("order after hold-down = %v", got)
	}
	if rto := s.rto(fast, now, time.Second); rto <= 10*time.Millisecond || rto >= time.Second {
		t.Errorf("rto(fast) = %v, want between the RTT and the cap", rto)
	}
	if rto := s.rto(dead, now, time.Second); rto != time.Second {
		t.Errorf("rto(dead) = %v, want the cap", rto)
	}
}

func TestFlightsCoalesce(t *testing.T) {
	var f flights[string, int]
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan int, 10)
	wg.Add(1)
	go func() {
		defer wg.Done()
		v, _, _ := f.do(context.Background(), "k", func() (int, error) {
			calls.Add(1)
			close(started)
			<-release
			return 42, nil
		})
		results <- v
	}()
	<-started
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One that comes too late to join starts a flight of its own.
			v, _, _ := f.do(context.Background(), "k", func() (int, error) { calls.Add(1); return 42, nil })
			results <- v
		}()
	}
	// A waiter whose context ends leaves without the result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := f.do(ctx, "k", func() (int, error) { return 0, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: got %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != 42 {
			t.Errorf("result %d, want 42", v)
		}
	}
	if c := calls.Load(); c > 6 || c < 1 {
		t.Errorf("fn ran %d times", c)
	}
}
