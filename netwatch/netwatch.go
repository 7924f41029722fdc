// Package netwatch tells hush when the machine's network has changed: an
// address or a route came or went, as when a laptop moves from one Wi-Fi
// network to another or a router's uplink reconnects. What servers were
// fast or dead on the old network says nothing about the new one, so hush
// forgets it (but keeps its cache).
//
// On Linux it listens to rtnetlink (NETLINK_ROUTE) address and route
// notifications; elsewhere Watch returns ErrUnsupported at once. It learns
// no names and sends nothing over the network.
package netwatch

import (
	"context"
	"errors"
	"time"
)

// ErrUnsupported is returned by Watch where there is no way to watch.
var ErrUnsupported = errors.New("netwatch: not supported on this system")

// DefaultQuiet is how long the network must stay unchanged after a change
// before Watch reports it: bringing an interface up brings a burst of
// address and route messages, and they should make one report.
const DefaultQuiet = 2 * time.Second

// DefaultMaxDelay bounds how long a stream of changes can hold a report
// back.
const DefaultMaxDelay = 10 * time.Second

// Watch calls changed, on Watch's goroutine, after each change to the
// machine's addresses or main routing table, once the changes have paused
// for quiet (or maxDelay after the first, if they do not pause). Zero
// durations take DefaultQuiet and DefaultMaxDelay. It returns when ctx is
// done (with ctx.Err()) or the watch fails; where watching is not
// possible it returns ErrUnsupported at once.
//
// Watch does not report the state at its start, and refreshes that
// change nothing (an IPv6 address whose lifetime a router advertisement
// renewed) are not changes.
func Watch(ctx context.Context, quiet, maxDelay time.Duration, changed func()) error {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	events := make(chan struct{}, 1)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- watch(ctx, events, nil) }()
	return debounce(ctx, events, errc, quiet, maxDelay, changed)
}

// debounce calls changed once per burst of events: after quiet without
// one, or maxDelay after the burst's first.
func debounce(ctx context.Context, events <-chan struct{}, errc <-chan error, quiet, maxDelay time.Duration, changed func()) error {
	var (
		timer    *time.Timer
		fire     <-chan time.Time
		deadline time.Time
	)
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case err := <-errc:
			if timer != nil {
				timer.Stop()
			}
			return err
		case <-events:
			now := time.Now()
			if timer == nil {
				deadline = now.Add(maxDelay)
				timer = time.NewTimer(quiet)
				fire = timer.C
				continue
			}
			timer.Reset(min(quiet, max(deadline.Sub(now), 0)))
		case <-fire:
			timer, fire = nil, nil
			changed()
		}
	}
}

// notify sends an event without blocking: one pending is enough.
func notify(events chan<- struct{}) {
	select {
	case events <- struct{}{}:
	default:
	}
}
