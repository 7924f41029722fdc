package cache

import (
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sync"
)

// maxShards caps the number of shards: past a few thousand, more shards only
// cost memory and make Len and Purge slower, they no longer reduce
// contention.
const maxShards = 4096

// Sharded is a fixed-capacity LRU map split into 2^n shards, each an lru
// (see lru.go) behind its own mutex, so that goroutines working on
// different keys rarely wait for each other. There is no global lock.
//
// Recency is tracked per shard, not globally: when a shard is full, Add
// evicts that shard's least recently used entry, which need not be the
// least recently used entry overall. The total number of entries never
// exceeds the capacity given to NewSharded.
//
// A Sharded made by NewWeighted is bounded by the sum of its values'
// weights instead (bytes, for Cache), each shard holding an equal part.
//
// A Sharded is safe for concurrent use. Its zero value is not usable; call
// NewSharded or NewWeighted.
type Sharded[K comparable, V any] struct {
	shards []shard[K, V]
	mask   uint64
	hash   func(K) uint64
}

// shard is one lock and its LRU. The padding keeps two shards' mutexes out
// of one cache line, so that a hot shard does not slow its neighbours.
type shard[K comparable, V any] struct {
	// mu guards lru and used. It is a plain Mutex, not an RWMutex: Get
	// moves the entry to the front of the recency list, so every access
	// writes.
	mu  sync.Mutex
	lru *lru[K, V]
	// weigh is nil for a shard bounded in entries only. Otherwise used is
	// the sum of weigh over the entries (kept by the LRU's eviction
	// callback, which every removal goes through) and limit its bound.
	weigh       func(K, V) int64
	used, limit int64
	_           [24]byte
}

// NewSharded returns a Sharded holding at most capacity entries (at least
// 1) in shards shards.
//
// shards is rounded up to a power of two; zero or less picks 16 ×
// GOMAXPROCS. It is then capped at 4096 and lowered to the largest power of
// two not above capacity, so that every shard holds at least one entry and
// the shards' capacities add up to exactly capacity.
//
// hash spreads keys over the shards; only its low bits are used, so they
// must be well mixed. Nil means maphash.Comparable with a random seed.
func NewSharded[K comparable, V any](capacity, shards int, hash func(K) uint64) *Sharded[K, V] {
	capacity = max(capacity, 1)
	if shards <= 0 {
		shards = 16 * runtime.GOMAXPROCS(0)
	}
	shards = min(shards, maxShards)
	n := 1 << bits.Len(uint(shards-1)) // round up to a power of two
	for n > capacity {
		n >>= 1
	}
	if hash == nil {
		seed := maphash.MakeSeed()
		hash = func(k K) uint64 { return maphash.Comparable(seed, k) }
	}
	s := &Sharded[K, V]{
		shards: make([]shard[K, V], n),
		mask:   uint64(n - 1),
		hash:   hash,
	}
	per, extra := capacity/n, capacity%n
	for i := range s.shards {
		size := per
		if i < extra {
			size++
		}
		s.shards[i].lru = newLRU[K, V](size, nil)
	}
	return s
}

// NewShardedEvict is NewSharded with onEvict called for every entry that
// leaves: evicted, replaced by Add, removed or purged. It runs with the
// shard locked: it must be quick and must not call back into s. Its use
// is accounting for what the values hold.
func NewShardedEvict[K comparable, V any](capacity, shards int, hash func(K) uint64, onEvict func(K, V)) *Sharded[K, V] {
	s := NewSharded[K, V](capacity, shards, hash)
	for i := range s.shards {
		s.shards[i].lru.onEvict = onEvict
	}
	return s
}

// NewWeighted returns a Sharded bounded by weight rather than by count: the
// sum of weight(k, v) over its entries never exceeds capacity (at least 1),
// split equally between the shards. When maxEntries is above zero the
// number of entries is bounded too, split likewise.
//
// When a shard is over its part, the least recently used entries of that
// shard are evicted until it fits. A value heavier than a shard's part is
// not stored at all (and the key loses any value it had), so the bound
// holds whatever the values weigh. weight must return the same for the
// same key and value every time, and run quickly: it is called with the
// shard locked. Values must therefore not change in ways that change their
// weight once stored.
//
// shards is rounded as for NewSharded, then lowered until each shard's part
// of capacity (and of maxEntries, if set) is at least 1; callers that store
// heavy values pick fewer shards, so that a shard's part exceeds the
// heaviest value they mean to keep.
func NewWeighted[K comparable, V any](capacity int64, maxEntries, shards int, hash func(K) uint64, weight func(K, V) int64) *Sharded[K, V] {
	capacity = max(capacity, 1)
	entries := maxEntries
	if entries <= 0 {
		entries = math.MaxInt
	}
	bound := int(min(capacity, int64(entries), math.MaxInt32))
	s := NewSharded[K, V](bound, shards, hash)
	n := int64(len(s.shards))
	per, extra := capacity/n, capacity%n
	eper, eextra := entries/int(n), entries%int(n)
	if maxEntries <= 0 {
		eper, eextra = math.MaxInt, 0
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.weigh = weight
		sh.limit = per
		if int64(i) < extra {
			sh.limit++
		}
		size := eper
		if i < eextra {
			size++
		}
		sh.lru = newLRU(size, func(k K, v V) { sh.used -= sh.weigh(k, v) })
	}
	return s
}

// addLocked stores v for k and evicts what no longer fits. It reports
// whether v was stored (always, unless it weighs more than the shard holds)
// and whether another entry was evicted. The caller holds sh.mu.
func (sh *shard[K, V]) addLocked(k K, v V) (stored, evicted bool) {
	if sh.weigh == nil {
		if sh.lru.onEvict != nil {
			// A replaced value leaves too (NewShardedEvict).
			sh.lru.Remove(k)
		}
		return true, sh.lru.Add(k, v)
	}
	// Removing first runs the eviction callback for the old value, so
	// that used never counts a replaced value.
	sh.lru.Remove(k)
	w := sh.weigh(k, v)
	if w > sh.limit {
		return false, false
	}
	sh.used += w
	evicted = sh.lru.Add(k, v)
	for sh.used > sh.limit {
		// The value just added is the most recent and fits alone, so
		// this stops before reaching it.
		sh.lru.RemoveOldest()
		evicted = true
	}
	return true, evicted
}

func (s *Sharded[K, V]) shard(k K) *shard[K, V] {
	return &s.shards[s.hash(k)&s.mask]
}

// Get returns the value stored for k and marks it most recently used.
func (s *Sharded[K, V]) Get(k K) (V, bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	v, ok := sh.lru.Get(k)
	sh.mu.Unlock()
	return v, ok
}

// Peek returns the value stored for k. Unlike Get it does not change the
// entry's recency, so a scan or a check does not keep entries alive.
func (s *Sharded[K, V]) Peek(k K) (V, bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	v, ok := sh.lru.Peek(k)
	sh.mu.Unlock()
	return v, ok
}

// Add stores v for k, replacing any value k had, and marks it most recently
// used. It reports whether another entry was evicted to make room. In a
// Sharded made by NewWeighted, a value heavier than a shard's part is not
// stored, and k loses any value it had.
func (s *Sharded[K, V]) Add(k K, v V) (evicted bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	_, evicted = sh.addLocked(k, v)
	sh.mu.Unlock()
	return evicted
}

// AddIf stores v for k unless k already holds a value old for which
// replace(old) is false (or, as for Add, v is too heavy). The check and the
// store are atomic: no other operation on k runs between them. It reports
// whether v was stored and whether another entry was evicted to make room.
//
// replace runs with the shard locked: it must be quick and must not call
// back into s.
func (s *Sharded[K, V]) AddIf(k K, v V, replace func(old V) bool) (added, evicted bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.lru.Peek(k); ok && !replace(old) {
		return false, false
	}
	return sh.addLocked(k, v)
}

// Remove deletes k, if present.
func (s *Sharded[K, V]) Remove(k K) {
	sh := s.shard(k)
	sh.mu.Lock()
	sh.lru.Remove(k)
	sh.mu.Unlock()
}

// RemoveIf deletes k if it holds a value v for which remove(v) is true, and
// reports whether it did. Like AddIf it is atomic, so a caller that found an
// entry stale can drop it without also dropping a fresh value another
// goroutine stored in the meantime.
//
// remove runs with the shard locked: it must be quick and must not call
// back into s.
func (s *Sharded[K, V]) RemoveIf(k K, remove func(v V) bool) bool {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := sh.lru.Peek(k); ok && remove(v) {
		return sh.lru.Remove(k)
	}
	return false
}

// EvictNear removes the least recently used entry of the i-th shard after
// the one k falls in (i = 0: k's own), unless that entry is k's, and
// reports whether it removed one (the eviction callback runs for it). A
// store bounded by what its values hold rather than by their number (the
// resolver's aggressive-NSEC store) makes room with it once full, trying
// a few shards: a shard's recency stands for the whole store's, as it does
// when entries are evicted by count.
func (s *Sharded[K, V]) EvictNear(k K, i int) bool {
	sh := &s.shards[(s.hash(k)+uint64(i))&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := sh.lru.root.prev
	if n == &sh.lru.root || n.key == k {
		return false
	}
	sh.lru.remove(n)
	return true
}

// Len returns the number of entries. It locks one shard at a time, so under
// concurrent writes it is an estimate, not a snapshot; it never exceeds the
// capacity.
func (s *Sharded[K, V]) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.lru.Len()
		sh.mu.Unlock()
	}
	return n
}

// Weight returns the sum of the entries' weights for a Sharded made by
// NewWeighted (0 for one made by NewSharded). Like Len it locks one shard at
// a time; it never exceeds the capacity.
func (s *Sharded[K, V]) Weight() int64 {
	var w int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		w += sh.used
		sh.mu.Unlock()
	}
	return w
}

// Purge deletes every entry. It locks one shard at a time: entries added
// concurrently to an already purged shard survive.
func (s *Sharded[K, V]) Purge() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.lru.Purge()
		sh.mu.Unlock()
	}
}

// Shards returns the number of shards, after rounding and capping.
func (s *Sharded[K, V]) Shards() int { return len(s.shards) }
