package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"time"
)

// clockFloor returns the earliest time the wall clock can plausibly show
// on a machine running this binary: its build time, stamped by the
// Makefile (main.buildTime, RFC 3339 or seconds since 1970); else the time of the commit it was built
// from, which go build records when it builds from a checkout; else the
// binary file's modification time, which packages (opkg, dpkg) keep from
// the build. Before it, the resolver does not check signature times
// (resolver.Config.ClockNotBefore). Zero when none is known: the clock is
// then always believed.
func clockFloor() time.Time {
	if t, err := time.Parse(time.RFC3339, buildTime); err == nil {
		return t
	}
	// Seconds since 1970, as build systems hand out SOURCE_DATE_EPOCH
	// (OpenWRT's package Makefile stamps it so).
	if secs, err := strconv.ParseInt(buildTime, 10, 64); err == nil && secs > 0 {
		return time.Unix(secs, 0).UTC()
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
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fi.ModTime()
		}
	}
	return time.Time{}
}
