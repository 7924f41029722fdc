package main

import (
	"testing"
	"time"
)

func TestClockFloor(t *testing.T) {
	saved := buildTime
	t.Cleanup(func() { buildTime = saved })
	buildTime = "2026-12-06T01:25:26Z"
	if got, want := clockFloor(), time.Date(2026, 12, 6, 1, 25, 26, 0, time.UTC); !got.Equal(want) {
		t.Errorf("stamped: got %v, want %v", got, want)
	}
	buildTime = "1796520326" // SOURCE_DATE_EPOCH form, the same instant
	if got, want := clockFloor(), time.Date(2026, 12, 6, 1, 25, 26, 0, time.UTC); !got.Equal(want) {
		t.Errorf("stamped in seconds: got %v, want %v", got, want)
	}
	// A test binary records no commit: unstamped, the floor is the
	// binary's modification time, which is not in the future.
	buildTime = ""
	if got := clockFloor(); got.IsZero() || got.After(time.Now()) {
		t.Errorf("unstamped: got %v, want the test binary's time", got)
	}
}
