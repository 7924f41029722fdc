package cache

import (
	"hash/maphash"
	"math/bits"
	"runtime"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// maxShards caps the number of shards: past a few thousand, more shards only
// cost memory and make Len and Purge slower, they no longer reduce
// contention.
const maxShards = 4096

// Sharded is a fixed-capacity LRU map split into 2^n shards, each a
// simplelru.LRU behind its own mutex, so that goroutines working on
// different keys rarely wait for each other. There is no global lock.
//
// Recency is tracked per shard, not globally: when a shard is full, Add
// evicts that shard's least recently used entry, which need not be the
// least recently used entry overall. The total number of entries never
// exceeds the capacity given to NewSharded.
//
// A Sharded is safe for concurrent use. Its zero value is not usable; call
// NewSharded.
type Sharded[K comparable, V any] struct {
	shards []shard[K, V]
	mask   uint64
	hash   func(K) uint64
}

// shard is one lock and its LRU. The padding keeps two shards' mutexes out
// of one cache line, so that a hot shard does not slow its neighbours.
type shard[K comparable, V any] struct {
	// mu guards lru. It is a plain Mutex, not an RWMutex: Get moves the
	// entry to the front of the recency list, so every access writes.
	mu  sync.Mutex
	lru *simplelru.LRU[K, V]
	_   [48]byte
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
		// NewLRU fails only for size <= 0, which the arithmetic above
		// rules out.
		lru, err := simplelru.NewLRU[K, V](size, nil)
		if err != nil {
			panic("cache: " + err.Error())
		}
		s.shards[i].lru = lru
	}
	return s
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
// used. It reports whether another entry was evicted to make room.
func (s *Sharded[K, V]) Add(k K, v V) (evicted bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	evicted = sh.lru.Add(k, v)
	sh.mu.Unlock()
	return evicted
}

// AddIf stores v for k unless k already holds a value old for which
// replace(old) is false. The check and the store are atomic: no other
// operation on k runs between them. It reports whether v was stored and
// whether another entry was evicted to make room.
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
	return true, sh.lru.Add(k, v)
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
