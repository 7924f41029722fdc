package cache

import (
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"testing"
)

// mix64 is a deterministic, well-mixed hash (the splitmix64 finalizer), so
// that which keys share a shard is the same on every run.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func TestNewShardedShards(t *testing.T) {
	tests := []struct {
		capacity, shards int
		want             int
	}{
		{capacity: 1000, shards: 1, want: 1},
		{capacity: 1000, shards: 3, want: 4},
		{capacity: 1000, shards: 16, want: 16},
		{capacity: 1000, shards: 17, want: 32},
		{capacity: 10, shards: 16, want: 8},
		{capacity: 1, shards: 64, want: 1},
		{capacity: 0, shards: 64, want: 1},
		{capacity: -5, shards: 4, want: 1},
		{capacity: 1 << 20, shards: 1 << 20, want: maxShards},
	}
	for _, tt := range tests {
		s := NewSharded[uint64, int](tt.capacity, tt.shards, mix64)
		if got := s.Shards(); got != tt.want {
			t.Errorf("NewSharded(%d, %d).Shards() = %d, want %d", tt.capacity, tt.shards, got, tt.want)
		}
	}
	// The default: a power of two, at most maxShards.
	s := NewSharded[uint64, int](1<<20, 0, nil)
	if n := s.Shards(); n > maxShards || bits.OnesCount(uint(n)) != 1 {
		t.Errorf("default Shards() = %d, want a power of two <= %d", n, maxShards)
	}
}

func TestShardedBound(t *testing.T) {
	tests := []struct {
		capacity, shards int
	}{
		{1, 16},
		{7, 1},
		{10, 16},
		{100, 3},
		{1000, 0},
		{1001, 64},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("cap%d/shards%d", tt.capacity, tt.shards), func(t *testing.T) {
			s := NewSharded[uint64, int](tt.capacity, tt.shards, mix64)
			evictions := 0
			n := 20 * tt.capacity
			for i := range n {
				if s.Add(uint64(i), i) {
					evictions++
				}
				if got := s.Len(); got > tt.capacity {
					t.Fatalf("after %d adds Len() = %d, want <= %d", i+1, got, tt.capacity)
				}
			}
			// 20 keys per slot fill every shard: the shards' capacities
			// add up to exactly the capacity asked for.
			if got := s.Len(); got != tt.capacity {
				t.Errorf("full Len() = %d, want %d", got, tt.capacity)
			}
			if got, want := evictions, n-tt.capacity; got != want {
				t.Errorf("evictions = %d, want %d", got, want)
			}
			s.Purge()
			if got := s.Len(); got != 0 {
				t.Errorf("Len() after Purge = %d, want 0", got)
			}
		})
	}
}

func TestShardedLRUOrder(t *testing.T) {
	// One shard, so that recency is global and the victim predictable.
	s := NewSharded[string, int](2, 1, nil)
	s.Add("a", 1)
	s.Add("b", 2)
	s.Get("a") // a is now the most recent
	if evicted := s.Add("c", 3); !evicted {
		t.Errorf("Add(c) evicted = false, want true")
	}
	if _, ok := s.Peek("b"); ok {
		t.Errorf("b survived, want it evicted as least recently used")
	}
	s.Peek("a") // Peek must not refresh a
	s.Add("d", 4)
	if _, ok := s.Get("a"); ok {
		t.Errorf("a survived, want it evicted: Peek must not refresh")
	}
	for _, k := range []string{"c", "d"} {
		if _, ok := s.Get(k); !ok {
			t.Errorf("Get(%s) missed, want hit", k)
		}
	}
}

func TestShardedOps(t *testing.T) {
	s := NewSharded[string, int](16, 4, nil)
	s.Add("k", 1)
	if v, ok := s.Get("k"); !ok || v != 1 {
		t.Errorf("Get(k) = %d, %v, want 1, true", v, ok)
	}

	// AddIf: absent keys are always added, present ones when replace says so.
	if added, _ := s.AddIf("new", 5, func(int) bool { return false }); !added {
		t.Errorf("AddIf(absent key) added = false, want true")
	}
	if added, _ := s.AddIf("k", 2, func(old int) bool { return old > 1 }); added {
		t.Errorf("AddIf(k, replace=false) added = true, want false")
	}
	if v, _ := s.Get("k"); v != 1 {
		t.Errorf("after refused AddIf Get(k) = %d, want 1", v)
	}
	if added, _ := s.AddIf("k", 3, func(old int) bool { return old == 1 }); !added {
		t.Errorf("AddIf(k, replace=true) added = false, want true")
	}
	if v, _ := s.Get("k"); v != 3 {
		t.Errorf("after AddIf Get(k) = %d, want 3", v)
	}

	// RemoveIf removes only a matching value.
	if s.RemoveIf("k", func(v int) bool { return v == 1 }) {
		t.Errorf("RemoveIf(k, v==1) = true, want false")
	}
	if !s.RemoveIf("k", func(v int) bool { return v == 3 }) {
		t.Errorf("RemoveIf(k, v==3) = false, want true")
	}
	if s.RemoveIf("absent", func(int) bool { return true }) {
		t.Errorf("RemoveIf(absent) = true, want false")
	}
	if _, ok := s.Get("k"); ok {
		t.Errorf("Get(k) after RemoveIf hit, want miss")
	}

	s.Remove("new")
	if got := s.Len(); got != 0 {
		t.Errorf("Len() = %d, want 0", got)
	}
}

func TestShardedConcurrent(t *testing.T) {
	const capacity = 64
	s := NewSharded[uint64, uint64](capacity, 8, mix64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := uint64((g*7919 + i) % 200)
				switch i % 5 {
				case 0:
					s.Add(k, k)
				case 1:
					s.AddIf(k, k, func(old uint64) bool { return old == k })
				case 2:
					s.Remove(k)
				case 3:
					if s.Len() > capacity {
						t.Errorf("Len() > %d", capacity)
					}
				default:
					if v, ok := s.Get(k); ok && v != k {
						t.Errorf("Get(%d) = %d, want %d", k, v, k)
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestWeightedBound(t *testing.T) {
	tests := []struct {
		capacity   int64
		maxEntries int
		shards     int
	}{
		{1000, 0, 1},
		{1000, 0, 8},
		{1000, 20, 4},
		{64, 0, 16},
		{1, 0, 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("cap%d/entries%d/shards%d", tt.capacity, tt.maxEntries, tt.shards), func(t *testing.T) {
			// Weight is the value: every operation's effect on the sum
			// is known.
			s := NewWeighted[uint64, int64](tt.capacity, tt.maxEntries, tt.shards, mix64, func(_ uint64, v int64) int64 { return v })
			for i := range uint64(2000) {
				v := int64(mix64(i)%50) + 1
				switch i % 7 {
				case 5:
					s.Remove(i / 2)
				case 6:
					s.RemoveIf(i/3, func(v int64) bool { return v%2 == 0 })
				default:
					s.Add(i%300, v)
				}
				if got := s.Weight(); got > tt.capacity {
					t.Fatalf("after op %d Weight() = %d, want <= %d", i, got, tt.capacity)
				}
				if tt.maxEntries > 0 && s.Len() > tt.maxEntries {
					t.Fatalf("after op %d Len() = %d, want <= %d", i, s.Len(), tt.maxEntries)
				}
			}
			var sum int64
			for k := range uint64(300) {
				if v, ok := s.Peek(k); ok {
					sum += v
				}
			}
			if got := s.Weight(); got != sum {
				t.Errorf("Weight() = %d, want %d (the sum of the values present)", got, sum)
			}
			s.Purge()
			if got := s.Weight(); got != 0 || s.Len() != 0 {
				t.Errorf("after Purge Weight() = %d, Len() = %d; want 0, 0", got, s.Len())
			}
		})
	}
}

func TestWeightedTooHeavy(t *testing.T) {
	s := NewWeighted[string, int64](100, 0, 1, nil, func(_ string, v int64) int64 { return v })
	s.Add("a", 10)
	s.Add("b", 20)
	if evicted := s.Add("a", 101); evicted {
		t.Errorf("Add(too heavy) evicted = true, want false")
	}
	if _, ok := s.Peek("a"); ok {
		t.Errorf("a kept its old value after a too heavy Add, want it gone")
	}
	if added, _ := s.AddIf("c", 500, func(int64) bool { return true }); added {
		t.Errorf("AddIf(too heavy) added = true, want false")
	}
	if got := s.Weight(); got != 20 {
		t.Errorf("Weight() = %d, want 20", got)
	}
	// A value of exactly the capacity fits, alone.
	if evicted := s.Add("d", 100); !evicted {
		t.Errorf("Add(capacity) evicted = false, want true")
	}
	if got, n := s.Weight(), s.Len(); got != 100 || n != 1 {
		t.Errorf("Weight(), Len() = %d, %d; want 100, 1", got, n)
	}
}

func TestWeightedLRUOrder(t *testing.T) {
	s := NewWeighted[string, int64](10, 0, 1, nil, func(_ string, v int64) int64 { return v })
	s.Add("a", 4)
	s.Add("b", 4)
	s.Get("a")
	s.Add("c", 4) // evicts b, the least recently used
	if _, ok := s.Peek("b"); ok {
		t.Errorf("b survived, want it evicted as least recently used")
	}
	s.Add("c", 6) // replacing c makes room for nothing else: a (4) + c (6) = 10 fit
	if _, ok := s.Peek("a"); !ok {
		t.Errorf("a evicted by replacing c, want it kept")
	}
	if got := s.Weight(); got != 10 {
		t.Errorf("Weight() = %d, want 10", got)
	}
}

// TestShardedEvict: NewShardedEvict's callback sees every value that
// leaves, whichever way: eviction, replacement, Remove, RemoveIf,
// RemoveFunc and Purge.
func TestShardedEvict(t *testing.T) {
	var left []int
	s := NewShardedEvict[int, int](2, 1, func(k int) uint64 { return uint64(k) }, func(_, v int) { left = append(left, v) })
	s.Add(1, 10)
	s.Add(2, 20)
	s.Add(3, 30) // evicts 1
	s.Add(2, 21) // replaces 20
	s.Remove(3)
	s.Add(4, 40)
	s.RemoveIf(4, func(int) bool { return true })
	s.Add(5, 50)
	s.RemoveFunc(func(k, _ int) bool { return k == 5 })
	s.Purge() // 21
	want := []int{10, 20, 30, 40, 50, 21}
	if !slices.Equal(left, want) {
		t.Errorf("values left: %v, want %v", left, want)
	}
}

// TestShardedEvictNear: EvictNear removes the least recently used entry of
// the i-th shard from k's, never k's own entry, through the callback.
func TestShardedEvictNear(t *testing.T) {
	var gone []int
	// Four shards; key k falls in shard k%4.
	s := NewShardedEvict[int, int](64, 4, func(k int) uint64 { return uint64(k) }, func(k, _ int) { gone = append(gone, k) })
	for _, k := range []int{1, 5, 9, 2, 6} { // shard 1: 1, 5, 9; shard 2: 2, 6
		s.Add(k, k)
	}
	s.Get(1) // shard 1's least recent is now 5
	for _, tc := range []struct {
		k, i    int
		removed bool
		gone    int
	}{
		{5, 0, false, 0}, // the oldest of 5's shard is 5 itself
		{13, 0, true, 5}, // 13 (absent) falls in shard 1: 5 goes
		{1, 1, true, 2},  // shard 2, from 1's
		{3, 0, false, 0}, // shard 3 is empty
		{3, 2, true, 9},  // shard (3+2)%4 = 1: 9 is its oldest now
	} {
		gone = nil
		if got := s.EvictNear(tc.k, tc.i); got != tc.removed {
			t.Fatalf("EvictNear(%d, %d) = %v, want %v", tc.k, tc.i, got, tc.removed)
		}
		if tc.removed && (len(gone) != 1 || gone[0] != tc.gone) {
			t.Fatalf("EvictNear(%d, %d) evicted %v, want [%d]", tc.k, tc.i, gone, tc.gone)
		}
		if _, ok := s.Peek(tc.gone); tc.removed && ok {
			t.Fatalf("%d still there", tc.gone)
		}
	}
	if n := s.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (1 and 6)", n)
	}
}
