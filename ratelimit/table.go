package ratelimit

import (
	"math/bits"
	"sync"
	"time"
)

// ways is the associativity of the table: a key may live in any of the
// ways entries of its set, so eviction can pick the most idle of them.
const ways = 8

// entrySize is what one bucket costs in the table, in octets.
const entrySize = 16

type entry struct {
	key uint64 // 0: empty slot
	tat int64  // GCRA theoretical arrival time, ns since table.base
}

// set is one row of the table: 128 octets, two cache lines.
type set [ways]entry

type shard struct {
	mu   sync.Mutex
	sets []set  // mu guards the entries
	over uint32 // mu guards; over-limit checks seen, for slip and factor
	_    [64 - 8 - 24 - 4]byte
}

// table is a sharded, set-associative map from uint64 keys to GCRA
// buckets. Its size never changes after newTable.
type table struct {
	base      time.Time // zero point of the tat values (monotonic)
	interval  int64     // ns between tokens: 1/rate
	tolerance int64     // ns a bucket may run ahead of now: burst * interval
	shards    []shard
	shardBits uint
	setMask   uint64
	seed      uint64 // mixes keys so sets cannot be chosen from outside
}

// newTable builds a table of about entries buckets (rounded up to a power
// of two, at least ways per shard) refilled at rate per second with room
// for burst. rate must be > 0 and burst >= 1.
func newTable(entries int, rate float64, burst int, seed uint64) *table {
	const shardBits = 6 // 64 shards: enough to keep 2 to 64 cores apart
	sets := max(1, entries/ways/(1<<shardBits))
	sets = 1 << bits.Len(uint(sets-1)) // round up to a power of two
	t := &table{
		// base lies in the past so that every tat is positive: an old
		// bucket and an empty one then read the same.
		base:      time.Now().Add(-time.Hour),
		interval:  int64(float64(time.Second) / rate),
		shards:    make([]shard, 1<<shardBits),
		shardBits: shardBits,
		setMask:   uint64(sets - 1),
		seed:      seed | 1,
	}
	t.interval = max(t.interval, 1)
	t.tolerance = int64(burst) * t.interval
	for i := range t.shards {
		t.shards[i].sets = make([]set, sets)
	}
	return t
}

// bytes is the table's memory for buckets.
func (t *table) bytes() int {
	return len(t.shards) * len(t.shards[0].sets) * ways * entrySize
}

// mix is a 64-bit finaliser (from SplitMix64) keyed by the seed, so that
// the set a key falls in cannot be predicted from outside.
func (t *table) mix(k uint64) uint64 {
	k ^= t.seed
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	k ^= k >> 31
	return k
}

// take spends a token of key's bucket at now. It reports whether there
// was one and, when there was not, how many over-limit takes the key's
// shard has seen (1, 2, ...), for slip and factor decisions.
func (t *table) take(key uint64, now time.Time) (ok bool, over uint32) {
	n := now.Sub(t.base).Nanoseconds()
	h := t.mix(key)
	sh := &t.shards[h>>(64-t.shardBits)]
	s := &sh.sets[h&t.setMask]
	sh.mu.Lock()
	e := s.find(key)
	tat := max(e.tat, n)
	if tat+t.interval-n > t.tolerance {
		sh.over++
		over = sh.over
		sh.mu.Unlock()
		return false, over
	}
	e.key, e.tat = key, tat+t.interval
	sh.mu.Unlock()
	return true, 0
}

// find returns key's entry in s or, when it has none, the entry to
// replace: an empty one, else the one whose bucket is fullest (the
// smallest tat). A key over its limit has the largest tat of all, so it
// is evicted last. The replaced entry is returned unchanged; take writes
// the new key only when it spends a token, so a refused newcomer costs
// nothing. Entries are never emptied, only replaced, so a set fills from
// the left and no key sits after an empty slot.
func (s *set) find(key uint64) *entry {
	victim := &s[0]
	for i := range s {
		e := &s[i]
		if e.key == key {
			return e
		}
		if e.key == 0 {
			victim = e
			break
		}
		if e.tat < victim.tat {
			victim = e
		}
	}
	if victim.key != key {
		// A fresh bucket: full.
		victim.tat = 0
		victim.key = 0
	}
	return victim
}
