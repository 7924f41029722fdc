package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestBurstWatch drives burstWatch with one sample a second and checks on
// which ticks it asks for a reclaim.
func TestBurstWatch(t *testing.T) {
	const mib = 1 << 20
	type step struct {
		alloc      uint64 // allocated during the tick, MiB
		held, live uint64 // MiB
		want       bool
	}
	busy := func(n int) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{alloc: 90, held: 120, live: 40}
		}
		return s
	}
	repeat := func(n int, s step) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	idle := func(n int) []step { return repeat(n, step{alloc: 0, held: 50, live: 40}) }
	light := func(n int) []step { return repeat(n, step{alloc: 2, held: 50, live: 40}) }
	// end is a burst's end: two quiet ticks, the second reclaims.
	end := []step{{alloc: 1, held: 120, live: 40}, {alloc: 1, held: 120, live: 40, want: true}}
	cat := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a burst that ends, and its follow-up once idle", cat(busy(3), end, idle(9), []step{{alloc: 0, held: 50, live: 40, want: true}}, idle(30))},
		{"no follow-up while busy", cat(busy(3), end, light(20), idle(1), []step{{alloc: 0, held: 50, live: 40, want: true}}, idle(30))},
		{"one quiet second inside a burst", cat(busy(3), []step{{alloc: 1, held: 120, live: 40}}, busy(3))},
		{"still busy", busy(10)},
		{"a burst slowing but not ended", cat(busy(3), []step{{alloc: 20, held: 120, live: 40}, {alloc: 12, held: 120, live: 40}})},
		{"too small a burst", []step{{alloc: 20, held: 120, live: 40}, {alloc: 20, held: 120, live: 40}, {alloc: 0, held: 120, live: 40}, {alloc: 0, held: 120, live: 40}}},
		{"nothing to give back", cat(busy(3), repeat(2, step{alloc: 1, held: 52, live: 40}))},
		{"a full cache and the collector's headroom", cat(busy(3), []step{{alloc: 1, held: 105, live: 70}, {alloc: 1, held: 105, live: 70, want: true}})},
		{"a burst smaller than what is live", []step{{alloc: 90, held: 400, live: 200}, {alloc: 0, held: 400, live: 200}, {alloc: 0, held: 400, live: 200}}},
		{"two bursts 10 s apart, then 30 s", cat(
			busy(3), end,
			busy(3), repeat(2, step{alloc: 1, held: 120, live: 40}),
			busy(26), end,
		)},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w burstWatch
			allocs := uint64(1000 * mib)
			if w.observe(memSample{allocs: allocs}, t0) {
				t.Fatalf("reclaim on the first sample")
			}
			for i, s := range tt.steps {
				allocs += s.alloc * mib
				got := w.observe(memSample{allocs: allocs, held: s.held * mib, live: s.live * mib}, t0.Add(time.Duration(i+1)*time.Second))
				if got != s.want {
					t.Errorf("tick %d (%+v): reclaim = %v, want %v", i+1, s, got, s.want)
				}
				if got {
					w.reclaimed(allocs)
				}
			}
		})
	}
}

// TestReclaimAfterBurstsStops: the reclaimer returns when its context ends.
func TestReclaimAfterBurstsStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reclaimAfterBursts(ctx, func(string, ...any) {}, false)
	}()
	cancel()
	<-done
}

// TestGCPercentFor: a small live heap gets room of at least minGCHeadroom
// before the next collection, within maxGCPercent; a large one gcPercent.
func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, gcPercent},
		{1 << 20, maxGCPercent},
		{2 << 20, 400},
		{4 << 20, 200},
		{8 << 20, 100},
		{16 << 20, gcPercent},
		{64 << 20, gcPercent},
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}

// TestGCTuner: the percentage changes when it moves by a tenth or more,
// or back to gcPercent, and not for the small moves of every collection.
func TestGCTuner(t *testing.T) {
	g := gcTuner{percent: gcPercent}
	in := gcPercent // what the runtime has
	for i, step := range []struct {
		live    uint64
		want    int
		change  bool
		outside int // not 0: set by someone else before the step
	}{
		{0, gcPercent, false, 0},
		{4 << 20, 200, true, 0},
		{4<<20 + 100<<10, 200, false, 0}, // 195: under a tenth
		{5 << 20, 160, true, 0},
		{15 << 20, 53, true, 0},
		{16 << 20, gcPercent, true, 0},
		{40 << 20, gcPercent, false, 0},
		{3 << 20, 266, true, 0},
		// A reload set gcPercent again (setMemoryLimit): put back.
		{3 << 20, 266, true, gcPercent},
		{3 << 20, 266, false, 0},
	} {
		if step.outside != 0 {
			in = step.outside
		}
		got, change := g.next(step.live, in)
		if change {
			in = got
		}
		if got != step.want || change != step.change {
			t.Errorf("step %d (%d KiB live): %d, %v; want %d, %v", i, step.live>>10, got, change, step.want, step.change)
		}
	}
}

// TestGCTunerAfterReload: a reload that changes cache-size sets gcPercent
// again (setMemoryLimit); the tuner, reading the percentage in force from
// the runtime, puts its own back at the next tick.
func TestGCTunerAfterReload(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	orig := debug.SetMemoryLimit(-1)
	origGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(orig); debug.SetGCPercent(origGC) })
	samples := make([]metrics.Sample, len(memSampleNames))
	for i, n := range memSampleNames {
		samples[i].Name = n
	}
	const live = 4 << 20
	g := gcTuner{percent: gcPercent}
	tick := func() { // reclaimAfterBursts' loop, with a live heap of its own
		if p, ok := g.next(live, readMemSample(samples).gogc); ok {
			debug.SetGCPercent(p)
		}
	}
	setMemoryLimit(64 << 20) // at start (serve.go)
	tick()
	if got := readMemSample(samples).gogc; got != gcPercentFor(live) {
		t.Fatalf("after a tick: GOGC %d, want %d", got, gcPercentFor(live))
	}
	setMemoryLimit(16 << 20) // a reload with another cache-size (ops.go)
	if got := readMemSample(samples).gogc; got != gcPercent {
		t.Fatalf("after the reload: GOGC %d, want %d", got, gcPercent)
	}
	tick()
	if got := readMemSample(samples).gogc; got != gcPercentFor(live) {
		t.Errorf("a tick after the reload: GOGC %d, want %d", got, gcPercentFor(live))
	}
}
