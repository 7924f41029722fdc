package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
)

func TestParseCacheSize(t *testing.T) {
	tests := []struct {
		in      string
		bytes   int64
		entries int
		err     error
	}{
		{in: "64MiB", bytes: 64 << 20},
		{in: "512KiB", bytes: 512 << 10},
		{in: "1GiB", bytes: 1 << 30},
		{in: "16m", bytes: 16 << 20},
		{in: "16 MiB", bytes: 16 << 20},
		{in: "1.5MiB", bytes: 3 << 19},
		{in: "1GB", bytes: 1e9},
		{in: "500kb", bytes: 500e3},
		{in: "4096B", bytes: 4096},
		{in: "100000", entries: 100_000},
		{in: "0", err: errSizeZero},
		{in: "-1", err: errSizeZero},
		{in: "0MiB", err: errSizeZero},
		{in: "2TiB", err: errNotSize},
		{in: "2048GiB", err: errSizeLarge},
		{in: "lots", err: errNotSize},
		{in: "MiB", err: errNotSize},
		{in: "12 parsecs", err: errNotSize},
		{in: "1e3MiB", err: errNotSize},
	}
	for _, tt := range tests {
		b, n, err := parseCacheSize(tt.in)
		if b != tt.bytes || n != tt.entries || err != tt.err {
			t.Errorf("parseCacheSize(%q) = %d, %d, %v; want %d, %d, %v", tt.in, b, n, err, tt.bytes, tt.entries, tt.err)
		}
	}
}

func TestSetMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	origGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(orig); debug.SetGCPercent(origGC) })

	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	setMemoryLimit(16 << 20)
	if got, want := debug.SetMemoryLimit(-1), memoryLimit(16<<20); got != want {
		t.Errorf("limit = %d, want %d", got, want)
	}
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC = %d, want %d", got, gcPercent)
	}
	// GOGC set by the user wins.
	t.Setenv("GOGC", "100")
	setMemoryLimit(16 << 20)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC = %d with GOGC=100 set, want it untouched", got)
	}
	// GOMEMLIMIT set by the user wins.
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	setMemoryLimit(16 << 20)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit = %d with GOMEMLIMIT set, want it untouched", got)
	}
	// The defaults keep the process far under 256 MiB.
	if got := memoryLimit(defaultCacheBytes); got > 128<<20 {
		t.Errorf("memoryLimit(default) = %d MiB, want at most 128", got>>20)
	}
}

// TestReloadSetsMemoryLimit: a reload that changes the cache's size moves
// the memory limit with it.
func TestReloadSetsMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	origGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(orig); debug.SetGCPercent(origGC) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	socket := filepath.Join(dir, "ctl.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("listen: dns://%s\nforward: %s\ndnssec: off\ncontrol-socket: %s\n", loopbackAddr(t), up.addr, socket)
	rewrite(t, config, base+"cache-size: 16MiB\n")
	startHushServe(t, []string{"serving dns://", "control socket"}, "--config", config)
	if got, want := debug.SetMemoryLimit(-1), memoryLimit(16<<20); got != want {
		t.Fatalf("limit at start = %d, want %d", got, want)
	}
	rewrite(t, config, base+"cache-size: 64MiB\n")
	if code, _, errOut := hushCtl(t, socket, "reload"); code != 0 {
		t.Fatalf("reload: %d %q", code, errOut)
	}
	if got, want := debug.SetMemoryLimit(-1), memoryLimit(64<<20); got != want {
		t.Errorf("limit after the reload = %d, want %d", got, want)
	}
}

// TestSideCaches: each side cache gets an eighth of a cache sized in
// bytes, within its floor and its default; a cache sized in entries
// keeps the defaults.
func TestSideCaches(t *testing.T) {
	const mib = 1 << 20
	def := resolver.DefaultSideCaches
	tests := []struct {
		name    string
		bytes   int64
		entries int
		want    resolver.SideCaches
	}{
		{"tiny: the floors", 512 << 10, 0, resolver.SideCaches{KeyBytes: mib, NSECBytes: mib, SigEntries: 1024}},
		{"1 MiB: the floors", mib, 0, resolver.SideCaches{KeyBytes: mib, NSECBytes: mib, SigEntries: 1024}},
		{"8 MiB: an eighth", 8 * mib, 0, resolver.SideCaches{KeyBytes: mib, NSECBytes: mib, SigEntries: mib / 192}},
		{"12 MiB: signatures at the ceiling", 12 * mib, 0, resolver.SideCaches{KeyBytes: 1.5 * mib, NSECBytes: 1.5 * mib, SigEntries: 8192}},
		{"16 MiB router", 16 * mib, 0, resolver.SideCaches{KeyBytes: 2 * mib, NSECBytes: 2 * mib, SigEntries: 8192}},
		{"64 MiB default", 64 * mib, 0, resolver.SideCaches{KeyBytes: 8 * mib, NSECBytes: 8 * mib, SigEntries: 8192}},
		{"128 MiB: keys at the ceiling", 128 * mib, 0, resolver.SideCaches{KeyBytes: 16 * mib, NSECBytes: 16 * mib, SigEntries: 8192}},
		{"256 MiB: all at the ceilings", 256 * mib, 0, def},
		{"1 GiB", 1024 * mib, 0, def},
		{"entries (legacy)", defaultCacheBytes, 100_000, def},
		{"entries, few", defaultCacheBytes, 1000, def},
	}
	for _, tt := range tests {
		if got := sideCaches(tt.bytes, tt.entries); got != tt.want {
			t.Errorf("%s: sideCaches(%d, %d) = %+v, want %+v", tt.name, tt.bytes, tt.entries, got, tt.want)
		}
	}
	// From 8 MiB up, all caches together stay under 1.4 × the size
	// (README says so).
	for size := int64(8 * mib); size <= 2048*mib; size *= 2 {
		s := sideCaches(size, 0)
		total := size + s.KeyBytes + s.NSECBytes + int64(s.SigEntries)*dnssec.SigCacheEntryBytes
		if total > size*14/10 {
			t.Errorf("cache-size %d MiB: caches total %d MiB, over 1.4 times", size/mib, total/mib)
		}
	}
}

// TestReloadBoundsSideCaches: the side caches follow the cache's size at
// start and through reloads, down to a router's size and back to the
// defaults for a size in entries.
func TestReloadBoundsSideCaches(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	origGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(orig); debug.SetGCPercent(origGC) })
	cfg := defaultServeConfig()
	cfg.CacheBytes = 64 << 20
	next := cfg
	o := &opsRuntime{
		stderr:  io.Discard,
		cookies: &cookie.Keeper{},
		load:    func() (serveConfig, error) { return next, nil },
		newResolver: func(cfg serveConfig, ntas []dnssec.NTA, c *cache.Cache) (*resolver.Resolver, []io.Closer, error) {
			r, err := resolver.New(resolverConfig(cfg, ntas, c, nil, nil, trustState{}, io.Discard))
			return r, nil, err
		},
	}
	if err := o.start(cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := o.live.stage().res.SideCaches(), (resolver.SideCaches{KeyBytes: 8 << 20, NSECBytes: 8 << 20, SigEntries: 8192}); got != want {
		t.Errorf("at start with 64MiB: %+v, want %+v", got, want)
	}
	steps := []struct {
		name    string
		bytes   int64
		entries int
		want    resolver.SideCaches
	}{
		{"16MiB", 16 << 20, 0, resolver.SideCaches{KeyBytes: 2 << 20, NSECBytes: 2 << 20, SigEntries: 8192}},
		{"8MiB", 8 << 20, 0, resolver.SideCaches{KeyBytes: 1 << 20, NSECBytes: 1 << 20, SigEntries: 5461}},
		{"100000 entries", defaultCacheBytes, 100_000, resolver.DefaultSideCaches},
	}
	for _, s := range steps {
		next.CacheBytes, next.CacheSize = s.bytes, s.entries
		if err := o.Reload(t.Context()); err != nil {
			t.Fatalf("reload to %s: %v", s.name, err)
		}
		if got := o.live.stage().res.SideCaches(); got != s.want {
			t.Errorf("after a reload to %s: %+v, want %+v", s.name, got, s.want)
		}
	}
}
