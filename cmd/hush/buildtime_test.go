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
	// A test binary records no commit: unstamped means no floor.
	buildTime = ""
	if got := clockFloor(); !got.IsZero() {
		t.Errorf("unstamped: got %v, want zero", got)
	}
}
