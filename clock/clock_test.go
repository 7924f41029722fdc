package clock

import (
	"runtime"
	"testing"
	"time"
)

func TestBootAdvances(t *testing.T) {
	c := Boot()
	a := c()
	b := c()
	if b.Before(a) {
		t.Fatalf("second reading %v before first %v", b, a)
	}
	if d := time.Until(a); d > time.Minute || d < -time.Minute {
		t.Fatalf("Boot starts %v away from the wall clock; want about the same time", d)
	}
}

func TestBoottimeOnLinux(t *testing.T) {
	if _, ok := boottime(); !ok && runtime.GOOS == "linux" {
		t.Fatal("CLOCK_BOOTTIME unreadable on Linux")
	}
}

// TestFallback drives the fallback clock through a suspend (the wall clock
// leaps, the monotonic one does not), a wall clock set backwards and one
// set forwards.
func TestFallback(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mono time.Duration
	wall := base
	c := fallback(base, func() time.Duration { return mono }, func() time.Time { return wall })
	steps := []struct {
		name string
		mono time.Duration // monotonic time since base
		wall time.Duration // wall clock minus base
		want time.Duration // the clock minus base
	}{
		{"start", 0, 0, 0},
		{"both run", time.Minute, time.Minute, time.Minute},
		{"suspend of two hours", time.Minute + time.Second, 2*time.Hour + time.Minute, 2*time.Hour + time.Minute},
		{"runs on", 2 * time.Minute, 2*time.Hour + 2*time.Minute, 2*time.Hour + 2*time.Minute},
		{"wall set back a day", 3 * time.Minute, -22 * time.Hour, 2*time.Hour + 2*time.Minute},
		{"monotonic catches up no further", 4 * time.Minute, -22 * time.Hour, 2*time.Hour + 2*time.Minute},
		{"wall set forward", 5 * time.Minute, 3 * time.Hour, 3 * time.Hour},
	}
	for _, s := range steps {
		mono, wall = s.mono, base.Add(s.wall)
		if got := c().Sub(base); got != s.want {
			t.Errorf("%s: clock at base%+v; want base%+v", s.name, got, s.want)
		}
	}
}

// TestCachedBoot drives Boot's clock through a simulated machine: the
// monotonic clock, the wall clock and CLOCK_BOOTTIME, and counts the reads
// of the last (a system call).
func TestCachedBoot(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		mono      time.Duration // since the start
		wall      = base.UnixNano()
		suspended time.Duration // CLOCK_BOOTTIME - CLOCK_MONOTONIC
		reads     int
	)
	const b0 = 1000 * time.Second
	c := cachedBoot(base, b0,
		func() (time.Duration, int64) { return mono, wall },
		func() (time.Duration, bool) { reads++; return b0 + mono + suspended, true })
	run := func(d time.Duration) { mono += d; wall += int64(d) }
	steps := []struct {
		name      string
		do        func()
		calls     int           // clock calls at this step
		want      time.Duration // the clock minus base
		wantReads int           // boot clock reads so far
	}{
		{"start", func() {}, 1, 0, 0},
		{"calls within a resync period read no boot clock", func() { run(time.Millisecond) }, 1000, time.Millisecond, 0},
		{"a resync period later, one read", func() { run(bootResync) }, 100, bootResync + time.Millisecond, 1},
		{"a suspend of two hours shows at once", func() {
			suspended += 2 * time.Hour
			wall += int64(2 * time.Hour)
			run(time.Millisecond)
		}, 10, 2*time.Hour + bootResync + 2*time.Millisecond, 2},
		{"the wall clock set back a day changes nothing", func() {
			wall -= int64(24 * time.Hour)
			run(time.Millisecond)
		}, 10, 2*time.Hour + bootResync + 3*time.Millisecond, 3},
		{"a suspend the wall clock missed shows within a resync period", func() {
			suspended += time.Hour
			run(bootResync)
		}, 1, 3*time.Hour + 2*bootResync + 3*time.Millisecond, 4},
		{"NTP slewing the wall clock a little reads nothing", func() {
			wall += int64(100 * time.Microsecond)
			run(time.Millisecond)
		}, 10, 3*time.Hour + 2*bootResync + 4*time.Millisecond, 4},
	}
	var last time.Time
	for _, s := range steps {
		s.do()
		for range s.calls {
			got := c()
			if got.Before(last) {
				t.Fatalf("%s: went back from %v to %v", s.name, last, got)
			}
			last = got
		}
		if got := last.Sub(base); got != s.want {
			t.Errorf("%s: clock at base%+v, want base%+v", s.name, got, s.want)
		}
		if reads != s.wantReads {
			t.Errorf("%s: %d boot clock reads, want %d", s.name, reads, s.wantReads)
		}
	}
}

// TestBootAllocs: a reading of Boot's clock allocates nothing (the hit
// path reads it once per answer).
func TestBootAllocs(t *testing.T) {
	c := Boot()
	if n := testing.AllocsPerRun(1000, func() { _ = c() }); n != 0 {
		t.Errorf("%v allocations per reading", n)
	}
}
