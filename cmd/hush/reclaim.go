package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a burst.
//
// A burst of uncached queries (a cold start, a flood of random names)
// allocates fast, and the heap grows to what GOGC and the memory limit
// allow over what is live. When the burst ends the runtime keeps those
// pages: the background scavenger returns free memory slowly, and an idle
// process does not collect (so what the burst left is not even known to
// be free) for two minutes. Measured after the fake internet's
// 20,000-name cold pass with the default cache: 38 MB live, 115 MB
// resident, 88 MB after debug.FreeOSMemory.
//
// So once a burst is over, the reclaimer collects and returns every free
// page to the system (debug.FreeOSMemory). It costs a collection, tens of
// milliseconds of CPU, at most once per reclaimMinGap. (Copying the cache
// to fresh memory first, so that its entries would no longer pin pages
// the burst's garbage had filled, gave back nothing more: the pages stay
// pinned by the resolver's other long-lived data.)

const (
	// reclaimTick is how often the reclaimer looks at the allocation rate.
	reclaimTick = time.Second
	// reclaimMinGap is the least time between two reclaims.
	reclaimMinGap = 30 * time.Second
	// reclaimMinBurst is the least allocated since the last reclaim that
	// counts as a burst; below it there is little to give back.
	reclaimMinBurst = 64 << 20
	// reclaimSlack is how far the memory the runtime holds may exceed what
	// is live (plus an eighth) before reclaiming is worth a collection; it
	// includes the runtime's own few MiB (stacks, collector metadata).
	reclaimSlack = 8 << 20
	// reclaimFollowUp is how long after a burst's reclaim a second one
	// comes, once the process is idle (reclaimIdleTick): the queries still
	// in flight when the burst ended (up to the query timeout) held memory
	// the first could not return. After a flood of 35 KB answers that was
	// 22 MiB returned by the first and nothing more without a second, the
	// runtime collecting on its own only every two minutes.
	reclaimFollowUp = 10 * time.Second
	// reclaimIdleTick is the most allocated in a tick that counts as idle
	// for the follow-up.
	reclaimIdleTick = 1 << 20
)

// memSample is what the reclaimer reads from the runtime at each tick.
type memSample struct {
	allocs uint64 // bytes allocated on the heap since the process started
	held   uint64 // memory the runtime holds: mapped and not returned
	live   uint64 // heap bytes live at the end of the last collection
	gogc   int    // the collector's percentage in force (GOGC)
}

// readMemSample reads a memSample from runtime/metrics (no stop of the
// world, unlike runtime.ReadMemStats).
func readMemSample(s []metrics.Sample) memSample {
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	held := v(1) - min(v(1), v(2))
	return memSample{allocs: v(0), held: held, live: v(3), gogc: int(v(4))}
}

// memSampleNames are the metrics readMemSample reads, in its order.
var memSampleNames = []string{
	"/gc/heap/allocs:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/heap/live:bytes",
	"/gc/gogc:percent",
}

// burstWatch decides, from one memSample a tick, when a burst has ended
// and reclaiming is worth it. It is a plain value so that tests can drive
// it without a runtime.
type burstWatch struct {
	last      time.Time // of the last reclaim (zero: none yet)
	allocs0   uint64    // allocs at the last reclaim
	prev      uint64    // allocs at the previous tick
	peak      uint64    // most allocated in one tick since the last reclaim
	initiated bool      // prev is set
	// followUp, when not zero, is when the follow-up of the last burst's
	// reclaim is due.
	followUp time.Time
	// quiet and idle count the ticks in a row that were quiet (an eighth
	// of the peak) and idle (reclaimIdleTick).
	quiet, idle int
}

// reclaimTicks is how many quiet (or idle) ticks in a row it takes: one
// second of little allocation happens inside a burst too, on a machine
// whose CPU others share, and a reclaim then would only be undone.
const reclaimTicks = 2

// observe takes the tick's sample at now and reports whether to reclaim:
// a burst (at least reclaimMinBurst allocated since the last reclaim, and
// at least as much as is live) has ended (the last reclaimTicks ticks each
// allocated less than an eighth of the busiest tick since), the heap holds
// reclaimSlack more than it needs, and the last reclaim is reclaimMinGap
// old. Once, at least reclaimFollowUp after a burst's reclaim, it asks
// again after reclaimTicks idle ticks.
func (w *burstWatch) observe(s memSample, now time.Time) bool {
	if !w.initiated {
		w.initiated, w.prev, w.allocs0 = true, s.allocs, s.allocs
		return false
	}
	tick := s.allocs - min(s.allocs, w.prev)
	w.prev = s.allocs
	w.idle = inARow(w.idle, tick <= reclaimIdleTick)
	if !w.followUp.IsZero() && !now.Before(w.followUp) && w.idle >= reclaimTicks {
		w.followUp, w.last = time.Time{}, now
		return true
	}
	burst := s.allocs - min(s.allocs, w.allocs0)
	w.quiet = inARow(w.quiet, tick*8 < w.peak)
	w.peak = max(w.peak, tick)
	switch {
	case w.quiet < reclaimTicks,
		burst < max(reclaimMinBurst, s.live),
		s.held < s.live+s.live/8+reclaimSlack,
		!w.last.IsZero() && now.Sub(w.last) < reclaimMinGap:
		return false
	}
	w.last, w.followUp = now, now.Add(reclaimFollowUp)
	return true
}

// inARow counts n+1 ticks in a row when ok, none when not.
func inARow(n int, ok bool) int {
	if ok {
		return n + 1
	}
	return 0
}

// reclaimed restarts the watch after a reclaim, from allocs (the
// allocations after it: the reclaim's own copies are not a burst).
func (w *burstWatch) reclaimed(allocs uint64) {
	w.allocs0, w.prev, w.peak, w.quiet, w.idle = allocs, allocs, 0, 0, 0
}

// reclaimAfterBursts watches the heap until ctx is done and, when a burst
// ends, collects and returns free memory to the system. logf reports each
// reclaim. With tuneGC (GOGC not set by the user), it also keeps the
// collector's percentage at gcPercentFor what is live.
func reclaimAfterBursts(ctx context.Context, logf func(format string, args ...any), tuneGC bool) {
	samples := make([]metrics.Sample, len(memSampleNames))
	for i, n := range memSampleNames {
		samples[i].Name = n
	}
	var w burstWatch
	gc := gcTuner{percent: gcPercent}
	t := time.NewTicker(reclaimTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := readMemSample(samples)
			if p, ok := gc.next(s.live, s.gogc); ok && tuneGC {
				debug.SetGCPercent(p)
			}
			if !w.observe(s, now) {
				continue
			}
			debug.FreeOSMemory()
			after := readMemSample(samples)
			logf("hush: a burst ended: returned %d MiB to the system, %d MiB live", (s.held-min(s.held, after.held))>>20, after.live>>20)
			w.reclaimed(after.allocs)
		}
	}
}

// The collector's percentage and a small heap.
//
// hush's GOGC (gcPercent, 50) lets the heap grow by half of what is live
// before the next collection, which keeps a large cache from doubling the
// resident size. But the runtime scales its least heap goal (4 MiB) by
// GOGC too, and when little is live (a fresh process, a router's small
// cache) half of it is a collection every megabyte or two: under a flood
// of uncached names at 2,000 QPS, a few MiB live, 9 to 11 collections a second
// and a tenth of the CPU. So the percentage follows what is live, giving
// the heap at least minGCHeadroom of room before a collection, and is
// gcPercent again once that half is larger.
const (
	// minGCHeadroom is the least the heap grows between collections.
	minGCHeadroom = 8 << 20
	// maxGCPercent bounds the percentage when almost nothing is live.
	maxGCPercent = 400
)

// gcPercentFor is the collector's percentage for a heap with live bytes
// live after the last collection: gcPercent, or more so that the heap may
// grow by at least minGCHeadroom. Before any collection (live 0) it is
// gcPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcPercent
	}
	return int(min(max(gcPercent, minGCHeadroom*100/live), maxGCPercent))
}

// gcTuner says when the collector's percentage should change, from the
// live heap read at each tick.
type gcTuner struct {
	percent int // the percentage in force
}

// next returns the percentage for live and true when it differs from the
// one in force by a tenth or more (the live heap moves a little at every
// collection; setting the percentage each time would only churn), or
// when it returns to gcPercent. current is the percentage the runtime
// has (0: unknown): whoever set it, it is the one in force. A reload
// that changes the cache's size sets gcPercent again (setMemoryLimit),
// and the tuner must not go on believing its own.
func (g *gcTuner) next(live uint64, current int) (int, bool) {
	if current > 0 {
		g.percent = current
	}
	p := gcPercentFor(live)
	if p == g.percent || p != gcPercent && 10*abs(p-g.percent) < g.percent {
		return g.percent, false
	}
	g.percent = p
	return p, true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
