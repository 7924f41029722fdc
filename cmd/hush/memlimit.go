package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/hush-dns/hush/cache"
)

// defaultCacheBytes is --cache-size's default: cache.DefaultMaxBytes.
const defaultCacheBytes = cache.DefaultMaxBytes

// sizeUnits are the units --cache-size takes, lowercased: binary for the
// IEC names and the single letters Unbound's settings use ("64m"), decimal
// for the SI names.
var sizeUnits = map[string]int64{
	"b":   1,
	"k":   1 << 10,
	"kib": 1 << 10,
	"m":   1 << 20,
	"mib": 1 << 20,
	"g":   1 << 30,
	"gib": 1 << 30,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
}

var (
	errNotSize   = errors.New("want a size with a unit (64MiB, 512KiB, 1GB) or a number of entries")
	errSizeZero  = errors.New("must be greater than 0")
	errSizeLarge = errors.New("must be at most 1TiB")
)

// parseCacheSize reads --cache-size: bytes when a unit follows the number
// (case-insensitive, a space between allowed), a number of entries when
// none does, as before sizes in bytes existed.
func parseCacheSize(s string) (bytes int64, entries int, err error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' })
	if i < 0 {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, 0, errNotSize
		}
		if n <= 0 {
			return 0, 0, errSizeZero
		}
		return 0, n, nil
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok || i == 0 {
		return 0, 0, errNotSize
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s[:i]), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, 0, errNotSize
	}
	switch b := f * float64(unit); {
	case b < 1:
		return 0, 0, errSizeZero
	case b > 1<<40:
		return 0, 0, errSizeLarge
	default:
		return int64(b), 0, nil
	}
}

// memoryLimit is the Go runtime's soft memory limit for a cache of
// cacheBytes: the cache, half as much again (at least 32 MiB) for the
// garbage of the data passing through it and the queries in flight, and
// 16 MiB for the rest of the process (validated keys, server statistics).
//
// Measured on the fake internet's cold pass (20,000 names, 500 queries in
// flight) with an 8 MiB cache, about 28 MiB is live besides the cache's
// own bytes; a limit of 44 MiB made the collector run 196 times instead of
// 47 and hush use 1.8 times the CPU, 64 MiB cost nothing. Hence the floor.
func memoryLimit(cacheBytes int64) int64 {
	return cacheBytes + max(cacheBytes/2, 32<<20) + 16<<20
}

// gcPercent is hush's GOGC: the heap may grow by half of what is live
// before the collector runs, not by all of it (Go's default, 100). Most of
// what is live is the cache, which the miss path does not churn, so
// doubling it only doubled the resident size: after the fake internet's
// 20,000-name cold pass with the default cache, 95 MB instead of 115-122
// MB, for the collector's share of CPU going from 7 to 12 % (47 cycles
// instead of 24).
const gcPercent = 50

// setMemoryLimit sets the Go runtime's soft memory limit from the cache
// size, unless GOMEMLIMIT already says what it is, and GOGC to gcPercent
// unless GOGC does. Without a limit the heap may grow to what GOGC allows
// over what is live and stay there: after a flood of queries the process
// would keep what the flood made it grow to. With one, the collector works
// harder as the heap nears it and the runtime returns memory above it to
// the system.
func setMemoryLimit(cacheBytes int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(memoryLimit(cacheBytes))
}
