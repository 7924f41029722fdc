package main

import (
	"runtime/debug"
	"time"
)

// clockFloor returns the earliest time the wall clock can plausibly show
// on a machine running this binary: its build time, stamped by the
// Makefile (main.buildTime), or else the time of the commit it was built
// from, which go build records when it builds from a checkout. Before it,
// the resolver does not check signature times (resolver.Config.
// ClockNotBefore). Zero when neither is known: the clock is then always
// believed, as before.
func clockFloor() time.Time {
	if t, err := time.Parse(time.RFC3339, buildTime); err == nil {
		return t
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t
				}
			}
		}
	}
	return time.Time{}
}
