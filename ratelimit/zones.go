package ratelimit

import (
	"fmt"
	"hash/maphash"
	"time"
)

// DefaultZoneFactor is Unbound's ratelimit-factor default: one query in
// ten over a zone's limit still goes out, so that the zone's names keep
// resolving, slowly, during a flood.
const DefaultZoneFactor = 10

// ZoneConfig configures Zones.
type ZoneConfig struct {
	// QPS is the rate of queries hush may send toward one zone's
	// servers. Required (> 0).
	QPS float64
	// Burst is how many may go at once; 0 means QPS (rounded up).
	Burst int
	// Factor: of the queries over the limit, every Factor-th is let
	// through anyway; -1 lets none through; 0 means DefaultZoneFactor.
	Factor int
	// Entries bounds the table, 16 octets per zone (0 means
	// DefaultEntries).
	Entries int
}

// Zones rate-limits the queries hush sends toward each zone's servers
// (Unbound's ratelimit). It is safe for concurrent use, and Allow
// allocates nothing. Zone names are keyed by a hash under a random seed,
// case-insensitively; two zones whose hashes collide (one chance in 2^64)
// share a bucket.
type Zones struct {
	t      *table
	seed   maphash.Seed
	factor uint32 // 0: none let through
}

// NewZones returns a limiter for cfg, its table allocated.
func NewZones(cfg ZoneConfig) (*Zones, error) {
	if !(cfg.QPS > 0) || cfg.Burst < 0 || cfg.Entries < 0 || cfg.Factor < -1 {
		return nil, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(cfg.QPS+0.999))
	}
	if cfg.Entries == 0 {
		cfg.Entries = DefaultEntries
	}
	z := &Zones{t: newTable(cfg.Entries, cfg.QPS, cfg.Burst, randomSeed()), seed: maphash.MakeSeed()}
	switch {
	case cfg.Factor == 0:
		z.factor = DefaultZoneFactor
	case cfg.Factor > 0:
		z.factor = uint32(cfg.Factor)
	}
	return z, nil
}

// Bytes is the memory the limiter's table holds, fixed at NewZones.
func (z *Zones) Bytes() int { return z.t.bytes() }

// Allow counts one query toward zone (a domain name, any case, with or
// without the final dot) at now and reports whether it may be sent. A
// refused query should fail with SERVFAIL and an Extended DNS Error
// rather than wait.
func (z *Zones) Allow(zone string, now time.Time) bool {
	ok, over := z.t.take(z.key(zone), now)
	return ok || (z.factor != 0 && over%z.factor == 0)
}

func (z *Zones) key(zone string) uint64 {
	if n := len(zone); n > 1 && zone[n-1] == '.' {
		zone = zone[:n-1]
	}
	// Lowercase into a stack buffer (a name is at most 255 octets in
	// wire form, a little more in text; longer input is hashed as cut).
	var buf [512]byte
	n := copy(buf[:], zone)
	for i := range n {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return maphash.Bytes(z.seed, buf[:n]) | 1
}
