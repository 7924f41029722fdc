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
