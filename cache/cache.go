package cache

import (
	"hash/maphash"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Defaults a zero Config field takes. They follow Unbound's cache-max-ttl
// (86400), cache-max-negative-ttl (3600) and RFC 2308 §7.1, which allows
// caching a server failure for at most five minutes.
//
// DefaultMaxBytes bounds what the cached data holds, not the process: with
// it, hush's whole heap stays well under 256 MiB (see cmd/hush's
// memory limit).
const (
	DefaultMaxBytes       = 64 << 20
	DefaultMaxTTL         = 24 * time.Hour
	DefaultMaxNegativeTTL = time.Hour
	DefaultServfailTTL    = 5 * time.Second
)

// Config configures a Cache. Zero fields take the defaults above. TTLs are
// counted in whole seconds, as on the wire: fractions are dropped.
type Config struct {
	// MaxBytes bounds the cache in bytes: the sum over its entries of
	// what each holds (its packed records, its key and a fixed estimate
	// of the bookkeeping around it, EntryOverhead). Client answers and
	// RRsets share this one bound. Zero means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries, when above zero, also bounds the number of entries: a
	// client answer (one message, however many records it holds) and an
	// RRset each count as one. Zero means no bound but MaxBytes.
	MaxEntries int
	// MinTTL raises the TTL of positive answers and RRsets that is lower
	// (Unbound's cache-min-ttl). It does not apply to negative answers:
	// raising those would hide names after they are created. Default 0:
	// the data's own TTL, as its owner intended.
	MinTTL time.Duration
	// MaxTTL caps the TTL of positive answers and RRsets. A negative value
	// caches none of them.
	MaxTTL time.Duration
	// MaxNegativeTTL caps the TTL of negative answers (NXDOMAIN, NODATA),
	// RFC 2308 §5. A negative value caches none of them.
	MaxNegativeTTL time.Duration
	// ServfailTTL is how long a SERVFAIL answer is cached, so that a
	// broken zone is not hammered by every retry (RFC 2308 §7.1). A
	// negative value caches no SERVFAIL.
	ServfailTTL time.Duration
	// StaleFor keeps an expired answer this long after it expired, for
	// GetStaleMsg (serve-stale, RFC 8767): it is a miss for GetMsg and
	// AppendMsg, but a failed refresh (SERVFAIL) does not replace it and
	// reading it does not drop it. Zero keeps nothing expired. The LRU
	// and the byte bound still evict it like any entry.
	StaleFor time.Duration
	// Shards is the number of shards (see NewSharded); zero picks 16 ×
	// GOMAXPROCS. It is lowered so that each shard holds at least
	// minShardBytes, enough for several of the largest DNS messages.
	Shards int
}

// EntryOverhead is the fixed part of an entry's size in bytes, added to
// what its slices and key name hold: the entry struct, its element of the
// LRU list and its slot in the LRU's map, as Go lays them out on 64-bit
// platforms, rounded up.
const EntryOverhead = 256

// minShardBytes is the least a shard of the cache holds: four messages of
// the largest size, so that a few large answers do not empty a shard of
// everything else. Smaller caches get fewer shards.
const minShardBytes = 4 << 16

// Rank is the trust placed in cached data according to where it came from,
// after RFC 2181 §5.4.1. Ranks grow with trust. Data of a rank never
// replaces unexpired data of a higher rank, so glue or a referral cannot
// overwrite what the zone's own servers answered authoritatively.
//
// The zero value is the lowest rank.
type Rank uint8

// Ranks, lowest first.
const (
	// RankAdditional is data from an additional section, such as glue,
	// or any data from a non-authoritative answer's additional section.
	RankAdditional Rank = iota
	// RankAuthorityReferral is data from the authority section of a
	// non-authoritative answer: the NS records of a referral.
	RankAuthorityReferral
	// RankAnswerNonAuth is data from the answer section of a
	// non-authoritative answer (AA clear), or non-authoritative data in an
	// authoritative one (a CNAME target outside the server's zone).
	RankAnswerNonAuth
	// RankAuthority is data from the authority section of an
	// authoritative answer: the zone's own NS or SOA records.
	RankAuthority
	// RankAnswer is authoritative data from the answer section of an
	// authoritative answer (AA set).
	RankAnswer
	// RankValidated is data DNSSEC validation proved Secure, whatever
	// section it came from, so that no unvalidated data replaces it (as
	// Unbound's rrset_trust_validated).
	RankValidated
)

// Security is the DNSSEC status of cached data, as the resolver judged
// it: the values of dnssec.Status, which the cache neither interprets nor
// imports (package dnssec sits above it), so that a conversion either way
// keeps the value.
type Security uint8

// The statuses, with the values of dnssec.Status (a resolver test checks
// that they agree). The zero value says nothing was decided.
const (
	SecurityIndeterminate Security = iota
	SecuritySecure
	SecurityInsecure
	SecurityBogus
)

// Meta is what the resolver knows about cached data besides the data: how
// much it trusts it and what DNSSEC said. The cache stores and returns it.
type Meta struct {
	// Rank decides which RRset survives when two compete (SetRRset).
	Rank Rank
	// Security is the DNSSEC status the resolver computed.
	Security Security
	// EDE is the Extended DNS Error (RFC 8914) that goes with the entry,
	// such as the reason a Bogus answer failed validation; 0 for none.
	EDE uint16
	// Unchecked marks data validated while the wall clock was known to
	// be wrong, without signature times: the resolver serves it without
	// AD and stops using it once the clock is right.
	Unchecked bool
	// Partial marks a message that is one link of a resolution rather
	// than an answer a client may get: an alias whose target it does not
	// resolve. The cache stores and returns it; the resolver reads it.
	Partial bool
	// Prefetch is never stored: GetMsg, AppendMsg and AppendWire (the
	// listeners' hit path) set it on the Meta
	// they return to the first reader of an answer in the last tenth of
	// its TTL (of at least PrefetchMinTTL), which should refresh it before
	// it expires (prefetch, as Unbound's). Only one reader per stored
	// answer gets it, however many ask: prefetch follows the answers
	// that expire, not the queries, so it cannot amplify a flood.
	Prefetch bool
}

// Cache is hush's DNS cache: client answers, stored packed so that a hit is
// a byte copy (SetMsg, GetMsg, AppendMsg), and RRsets with trust ranks for
// the iterator's delegations, glue and name server addresses (SetRRset,
// GetRRset), packed too.
//
// Both kinds of entry live in one Sharded LRU bounded in bytes by
// Config.MaxBytes (and in entries by Config.MaxEntries, if set): each
// entry counts as the bytes it holds (see Bytes). Expired entries are
// dropped when found; otherwise they stay until the LRU evicts them.
//
// A Cache is safe for concurrent use. Every method takes the current time
// as now, so that tests can drive time; the resolver passes time.Now().
type Cache struct {
	store *Sharded[key, *entry]

	// TTL bounds in seconds, defaults applied. Zero in maxTTL, maxNegTTL
	// or servfailTTL means that kind of data is not cached.
	minTTL, maxTTL, maxNegTTL, servfailTTL uint32
	staleFor                               time.Duration
}

// entry is one cached message or RRset. It is immutable once stored:
// readers copy it with no lock held.
//
// Its fields are laid out to make 128 bytes, a size class of the Go
// allocator, rather than the 136 (allocated as 144) that three separate
// flags made: tens of thousands are live in a warm cache.
type entry struct {
	stored time.Time
	ttl    uint32 // seconds from stored until expiry; > 0
	meta   Meta
	// flags holds entryServfail and entryOpt, set before the entry is
	// stored, and entryPrefetched, set once a reader was told to
	// prefetch the entry (Meta.Prefetch): the only change after storing.
	flags atomic.Uint32

	// A message: packed with ID 0, TTLs already capped to ttl, as a
	// client that set DO gets it. ttlOffs lists the offset of every TTL
	// field to decrement on read. plain says how to derive the message a
	// client without DO gets; nil when it is the same.
	//
	// An RRset (with its covering RRSIGs): packed as the answer section
	// of a message with no question, compressed; TTLs are set on read.
	wire    []byte
	ttlOffs []uint16
	plain   plainCut
}

// entry.flags' bits.
const (
	entryServfail   = 1 << iota // the message is a SERVFAIL
	entryOpt                    // its additional section holds an OPT record
	entryPrefetched             // a reader was told to prefetch it
)

// servfail reports whether e is a cached SERVFAIL.
func (e *entry) servfail() bool { return e.flags.Load()&entryServfail != 0 }

// size is what e holds in bytes, as Config.MaxBytes counts it.
func (e *entry) size(k key) int64 {
	return EntryOverhead + int64(len(k.name)+cap(e.wire)+2*cap(e.ttlOffs)) + e.plain.size()
}

// remaining returns the entry's TTL left at now, and false if the entry has
// expired. A clock that went backwards counts as no time elapsed.
func (e *entry) remaining(now time.Time) (elapsed, left uint32, ok bool) {
	d := now.Sub(e.stored)
	if d < 0 {
		d = 0
	}
	s := d / time.Second
	if s >= time.Duration(e.ttl) {
		return 0, 0, false
	}
	return uint32(s), e.ttl - uint32(s), true
}

// stale reports whether e, expired at now, is still kept for
// GetStaleMsg: an answer (not a SERVFAIL) expired less than staleFor ago.
func (c *Cache) stale(e *entry, now time.Time) bool {
	if c.staleFor <= 0 || e.servfail() {
		return false
	}
	expired := e.stored.Add(time.Duration(e.ttl) * time.Second)
	return now.Sub(expired) < c.staleFor
}

// New returns an empty Cache configured by cfg.
func New(cfg Config) *Cache {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	shards := cfg.Shards
	if shards <= 0 {
		shards = 16 * runtime.GOMAXPROCS(0)
	}
	shards = int(max(1, min(int64(shards), cfg.MaxBytes/minShardBytes)))
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.MaxNegativeTTL == 0 {
		cfg.MaxNegativeTTL = DefaultMaxNegativeTTL
	}
	if cfg.ServfailTTL == 0 {
		cfg.ServfailTTL = DefaultServfailTTL
	}
	seed := maphash.MakeSeed()
	c := &Cache{
		minTTL:      seconds(cfg.MinTTL),
		maxTTL:      seconds(cfg.MaxTTL),
		maxNegTTL:   seconds(cfg.MaxNegativeTTL),
		servfailTTL: seconds(cfg.ServfailTTL),
		staleFor:    max(cfg.StaleFor, 0),
	}
	c.store = NewWeighted(cfg.MaxBytes, cfg.MaxEntries, shards,
		func(k key) uint64 { return k.hash(seed) },
		func(k key, e *entry) int64 { return e.size(k) })
	return c
}

// seconds converts d to a wire TTL: whole seconds, negative as 0, and at
// most 2^31-1 (RFC 2181 §8).
func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(d/time.Second, math.MaxInt32))
}

// wireTTL reads a TTL as RFC 2181 §8 asks: a value with the top bit set
// counts as zero.
func wireTTL(t uint32) uint32 {
	if t > math.MaxInt32 {
		return 0
	}
	return t
}

// ttls folds records' TTLs into what bounds an entry's lifetime.
type ttls struct {
	// lowest is the lowest record TTL (RFC 2181 §8 applied). MinTTL may
	// raise it.
	lowest uint32
	// limit is when the first RRSIG expires (RFC 4035 §5.3.3), in seconds
	// from now. Nothing raises it.
	limit uint32
}

func newTTLs() ttls { return ttls{lowest: math.MaxUint32, limit: math.MaxUint32} }

// add folds in rr. An OPT record bounds nothing: its TTL field holds EDNS
// flags. An RRSIG's expiration is compared in RFC 4034 §3.1.5 serial
// arithmetic.
func (t *ttls) add(rr dns.RR, now time.Time) {
	switch rr := rr.(type) {
	case *dns.OPT:
		return
	case *dns.RRSIG:
		left := int32(rr.Expiration - uint32(now.Unix()))
		t.limit = min(t.limit, uint32(max(left, 0)))
	}
	t.lowest = min(t.lowest, wireTTL(rr.Header().Ttl))
}

// clamp returns the TTL of a positive entry: lowest clamped to
// [floor, ceil], then cut at limit.
func (t ttls) clamp(floor, ceil uint32) uint32 {
	return min(max(t.lowest, floor), ceil, t.limit)
}

// Len returns the number of cached entries, messages and RRsets together,
// expired ones that were not yet dropped included.
func (c *Cache) Len() int { return c.store.Len() }

// Bytes returns what the cached entries hold in bytes, as Config.MaxBytes
// counts it; never more than MaxBytes.
func (c *Cache) Bytes() int64 { return c.store.Weight() }

// Purge drops every entry.
func (c *Cache) Purge() { c.store.Purge() }

// drop removes k if it still holds e, and not a newer entry another
// goroutine stored since e was read.
func (c *Cache) drop(k key, e *entry) {
	c.store.RemoveIf(k, func(v *entry) bool { return v == e })
}
