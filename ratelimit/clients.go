package ratelimit

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults for the zero fields of ClientConfig.
const (
	DefaultEntries    = 1 << 16 // 1 MiB of buckets
	DefaultSlip       = 2       // BIND's RRL default: every other over-limit answer is truncated
	DefaultIPv4Prefix = 24
	DefaultIPv6Prefix = 56
)

// ClientConfig configures Clients.
type ClientConfig struct {
	// QPS is the steady rate each client network may send, in queries
	// per second. Required (> 0).
	QPS float64
	// Burst is how many queries a quiet client network may send at once;
	// 0 means QPS (rounded up), at least 1.
	Burst int
	// Slip: of the answers over the limit, every Slip-th goes out
	// truncated (TC=1, no records), telling a real client to retry over
	// TCP, and the rest are dropped. 1 truncates them all; -1 drops them
	// all; 0 means DefaultSlip. A truncated answer is no larger than the
	// query, so slipping amplifies nothing, while a real client behind
	// a spoofed flood still gets through over TCP.
	Slip int
	// Entries bounds the table: about Entries client networks are
	// tracked, 16 octets each (0 means DefaultEntries). The table is
	// allocated once, at this size.
	Entries int
	// IPv4Prefix and IPv6Prefix are the client network sizes, as prefix
	// lengths (0 means /24 and /56: what one customer usually holds).
	// IPv6Prefix is at most 63.
	IPv4Prefix, IPv6Prefix int
}

// Verdict is what Clients.Check decides for one query.
type Verdict uint8

const (
	// Allow: under the limit; answer normally.
	Allow Verdict = iota
	// Slip: over the limit, but answer with TC=1 and no records.
	Slip
	// Drop: over the limit; send nothing.
	Drop
)

var verdictNames = [...]string{"allow", "slip", "drop"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", v)
}

// Clients rate-limits queries per client network. It is safe for
// concurrent use; Check takes one shard's mutex and allocates nothing.
type Clients struct {
	t            *table
	slip         uint32 // 0: never slip
	mask4, mask6 uint64
}

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("ratelimit: bad configuration")

// NewClients returns a limiter for cfg, its table allocated.
func NewClients(cfg ClientConfig) (*Clients, error) {
	if !(cfg.QPS > 0) || cfg.Burst < 0 || cfg.Entries < 0 ||
		cfg.IPv4Prefix < 0 || cfg.IPv4Prefix > 32 || cfg.IPv6Prefix < 0 || cfg.IPv6Prefix > 63 {
		return nil, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(cfg.QPS+0.999))
	}
	if cfg.Entries == 0 {
		cfg.Entries = DefaultEntries
	}
	if cfg.IPv4Prefix == 0 {
		cfg.IPv4Prefix = DefaultIPv4Prefix
	}
	if cfg.IPv6Prefix == 0 {
		cfg.IPv6Prefix = DefaultIPv6Prefix
	}
	c := &Clients{
		t:     newTable(cfg.Entries, cfg.QPS, cfg.Burst, randomSeed()),
		mask4: ^uint64(0) << (32 - cfg.IPv4Prefix) & 0xffffffff,
		mask6: ^uint64(0) << (64 - cfg.IPv6Prefix),
	}
	switch {
	case cfg.Slip == 0:
		c.slip = DefaultSlip
	case cfg.Slip > 0:
		c.slip = uint32(cfg.Slip)
	}
	return c, nil
}

// Bytes is the memory the limiter's table holds, fixed at NewClients.
func (c *Clients) Bytes() int { return c.t.bytes() }

// Check counts a query from client at now and says what to do with it.
// It does not know about cookies: a client with a valid server cookie
// has proved its address and should not be checked at all.
func (c *Clients) Check(client netip.Addr, now time.Time) Verdict {
	ok, over := c.t.take(c.key(client), now)
	switch {
	case ok:
		return Allow
	case c.slip != 0 && over%c.slip == 0:
		return Slip
	default:
		return Drop
	}
}

// key packs client's network into a non-zero integer: IPv4 networks are
// odd (address<<1 | 1), IPv6 ones even (the top 64 bits masked to at most
// /63, so the last bit is free). Distinct networks get distinct keys.
func (c *Clients) key(a netip.Addr) uint64 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return (uint64(binary.BigEndian.Uint32(b[:]))&c.mask4)<<1 | 1
	}
	b := a.As16()
	k := binary.BigEndian.Uint64(b[:8]) & c.mask6
	if k == 0 {
		// ::/56 is unroutable; share a bucket with the equally
		// unroutable 0:0:0:2::/63 rather than mark a slot empty.
		k = 2
	}
	return k
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return binary.LittleEndian.Uint64(b[:])
}
