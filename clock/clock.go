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
	start := time.Now()
	if b0, ok := boottime(); ok {
		read := func() (time.Duration, int64) {
			t := time.Now()
			return t.Sub(start), t.UnixNano()
		}
		return cachedBoot(start.Round(0), b0, read, boottime)
	}
	return fallback(start.Round(0), func() time.Duration { return time.Since(start) }, time.Now)
}

// Reading CLOCK_BOOTTIME is a system call: Go reads the monotonic and the
// wall clock through the vDSO, but not this one. The resolver reads its
// clock a dozen times and more for every uncached query (17, strace -c
// under a flood) and once for every cache hit, and each call cost 0.40 µs
// on this project's VM against 0.09 µs for time.Now (go test -bench).
// So Boot reads it only to learn the offset between it and the monotonic
// clock, which changes only when the machine suspends (both count the
// same seconds otherwise, NTP adjusting both alike), and between readings
// adds the monotonic clock to it.
//
// A suspend shows in the wall clock, which counts it, as a jump against
// the monotonic clock, which does not: the offset is read again at once
// when the wall clock has moved by more than bootSkewTolerance against the
// monotonic one (a suspend, or the wall clock set), and in any case every
// bootResync, for a suspend the wall clock did not see (no RTC).
const (
	bootSkewTolerance = time.Millisecond
	bootResync        = 250 * time.Millisecond
)

// bootSync is what Boot learnt at its last reading of CLOCK_BOOTTIME.
type bootSync struct {
	at     time.Duration // monotonic time since start, at the reading
	offset time.Duration // boot time elapsed since start, minus monotonic
	skew   int64         // wall clock minus monotonic time, ns
}

// cachedBoot is Boot's clock with CLOCK_BOOTTIME (boot, b0 at the start):
// base plus the monotonic time since the start plus the suspend time learnt
// from boot. read returns the monotonic time since the start and the wall
// clock in ns. The clock never goes backwards: the offset only grows.
func cachedBoot(base time.Time, b0 time.Duration, read func() (time.Duration, int64), boot func() (time.Duration, bool)) Func {
	var sync atomic.Pointer[bootSync]
	mono0, wall0 := read()
	sync.Store(&bootSync{at: mono0, skew: wall0 - int64(mono0)})
	return func() time.Time {
		mono, wall := read()
		skew := wall - int64(mono)
		s := sync.Load()
		if d := skew - s.skew; d > int64(bootSkewTolerance) || d < -int64(bootSkewTolerance) || mono-s.at >= bootResync {
			if b, ok := boot(); ok {
				// The monotonic clock read after the boot clock makes
				// the offset err low, never high, by the time between
				// the two reads; and the offset only grows (suspends
				// add to it), so such an error never takes it back nor
				// piles up.
				after, _ := read()
				ns := &bootSync{at: mono, offset: max(s.offset, b-b0-after), skew: skew}
				if sync.CompareAndSwap(s, ns) {
					s = ns
				} else {
					s = sync.Load()
				}
			}
		}
		return base.Add(mono + s.offset)
	}
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
