// Package clock gives hush the clock it measures ages and timeouts with:
// cache TTLs, negative-cache TTLs, server hold-downs and negative trust
// anchor expiries. Go's monotonic clock (time.Now, time.Since) stops while
// the machine is suspended on Linux and macOS, so a laptop that sleeps for
// two hours would wake with a cache whose entries had aged not at all.
// The clocks here count suspend too.
//
// Signature validity is not this package's business: it needs the wall
// clock, which may be wrong at boot and is passed around separately.
package clock

import (
	"sync/atomic"
	"time"
)

// Func is a clock: it returns the current time. The times a Func from this
// package returns carry no monotonic reading; compare them with Sub,
// Before and After only against times from the same Func.
type Func func() time.Time

// Boot returns a clock for ages and timeouts that counts time spent
// suspended. Its times start at the wall-clock time of the call and
// advance with CLOCK_BOOTTIME on Linux, so they never jump when the wall
// clock is set (at boot, by NTP) and never lag after a suspend.
//
// Where CLOCK_BOOTTIME is missing (other systems, or kernels before 2.6.39)
// it falls back to the larger of the monotonic and the wall-clock time
// elapsed since the call, never going backwards: a suspend shows in the
// wall clock, and a wall clock set backwards is outvoted by the monotonic
// one. Setting the wall clock forwards then ages everything by the jump,
// which errs on the side of expiring.
func Boot() Func {
	base := time.Now().Round(0)
	if b0, ok := boottime(); ok {
		return func() time.Time {
			b, ok := boottime()
			if !ok {
				// The clock worked a moment ago; a failure now would be a
				// kernel bug. Stand still rather than jump.
				b = b0
			}
			return base.Add(b - b0)
		}
	}
	start := time.Now()
	return fallback(base, func() time.Duration { return time.Since(start) }, time.Now)
}

// fallback is Boot's clock without CLOCK_BOOTTIME: base plus the larger of
// mono() and the wall-clock time elapsed since base, made monotone.
func fallback(base time.Time, mono func() time.Duration, wall func() time.Time) Func {
	var last atomic.Int64 // largest elapsed time returned, in ns
	return func() time.Time {
		d := max(mono(), wall().Round(0).Sub(base))
		for {
			l := last.Load()
			if int64(d) <= l {
				d = time.Duration(l)
				break
			}
			if last.CompareAndSwap(l, int64(d)) {
				break
			}
		}
		return base.Add(d)
	}
}
