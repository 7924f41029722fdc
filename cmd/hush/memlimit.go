package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
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

// Bounds of the resolver's side caches (sideCaches).
const (
	// sideShare is the part of the answer cache's bytes each side cache
	// may hold: an eighth.
	sideShare = 8
	// minSideBytes is the least a side cache gets in bytes, however
	// small the answer cache: 1 MiB keeps the keys of about a thousand
	// zones, so that a small validating resolver does not fetch and
	// check its usual zones' keys again on most queries.
	minSideBytes = 1 << 20
	// minSigEntries is the least the signature cache remembers (about
	// 190 KiB).
	minSigEntries = 1024
)

// sideCaches bounds the resolver's caches other than the answer cache
// (validated keys, aggressive-NSEC records, signature checks) by the
// answer cache's size in bytes, so that --cache-size bounds all of them:
// a router's 16 MiB must not leave an attacker with many signed zones 41
// MiB more to fill. Each gets an eighth of cacheBytes, at least
// minSideBytes (minSigEntries checks) and at most its default
// (resolver.DefaultSideCaches), which a server's cache is large enough
// not to need more than. With entries above zero (--cache-size without a
// unit, as old config files have) the bounds stay the defaults, as
// before sizes in bytes existed.
func sideCaches(cacheBytes int64, entries int) resolver.SideCaches {
	d := resolver.DefaultSideCaches
	if entries > 0 || cacheBytes <= 0 {
		return d
	}
	share := cacheBytes / sideShare
	return resolver.SideCaches{
		KeyBytes:   min(d.KeyBytes, max(minSideBytes, share)),
		NSECBytes:  min(d.NSECBytes, max(minSideBytes, share)),
		SigEntries: int(min(int64(d.SigEntries), max(minSigEntries, share/dnssec.SigCacheEntryBytes))),
	}
}

// memoryLimit is the Go runtime's soft memory limit for a cache of
// cacheBytes: the cache, half as much again (at least 32 MiB) for the
// side caches (sideCaches: together at most three-eighths of the cache
// from 8 MiB up), the garbage of the data passing through them and the
// queries in flight, and 16 MiB for the rest of the process (server
// statistics, the parent side's glue and delegations).
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
