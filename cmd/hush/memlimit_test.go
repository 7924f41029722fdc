package main

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"testing"
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
