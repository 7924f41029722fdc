package netwatch

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestDebounce: a burst of events makes one report after the quiet time;
// a stream that never pauses is reported after the maximum delay.
func TestDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		events := make(chan struct{})
		errc := make(chan error)
		var reports atomic.Int32
		done := make(chan error)
		go func() {
			done <- debounce(ctx, events, errc, 2*time.Second, 10*time.Second, func() { reports.Add(1) })
		}()
		check := func(step string, want int) {
			t.Helper()
			synctest.Wait()
			if got := reports.Load(); got != int32(want) {
				t.Fatalf("%s: %d reports, want %d", step, got, want)
			}
		}
		// A burst: five events 100 ms apart.
		for range 5 {
			events <- struct{}{}
			time.Sleep(100 * time.Millisecond)
		}
		check("during the burst", 0)
		time.Sleep(2 * time.Second)
		check("after 2 s of quiet", 1)

		// A stream every second for 15 s: reported at 10 s, not later.
		start := time.Now()
		for time.Since(start) < 15*time.Second {
			events <- struct{}{}
			time.Sleep(time.Second)
			if time.Since(start) == 9*time.Second {
				check("9 s into the stream", 1)
			}
		}
		check("15 s into the stream", 2)
		time.Sleep(3 * time.Second)
		check("after the stream", 3)

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("debounce returned %v, want context.Canceled", err)
		}
	})
}

func TestDebounceError(t *testing.T) {
	errc := make(chan error, 1)
	errc <- ErrUnsupported
	err := debounce(t.Context(), make(chan struct{}), errc, time.Second, time.Second, func() {})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
}
