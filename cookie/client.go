package cookie

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultJarSize is how many servers' cookies a Jar remembers by default:
// at most 50 octets of cookie per server plus the LRU's bookkeeping, about
// 2 MiB for the lot; a resolver talks to far fewer servers in an hour.
const DefaultJarSize = 16384

const jarShards = 16

// Jar holds the client side of DNS cookies toward authoritative servers
// (RFC 7873 §5.1, §5.3): a client cookie per server address, derived from
// the jar's secret so that nothing needs storing for it, and the server
// cookie each server last returned, in a bounded LRU per shard. It is safe
// for concurrent use.
//
// RFC 7873 §4.1 suggests hashing the client's own address into the client
// cookie, so that a host that moves cannot be followed by its cookie. hush
// sends each query from a fresh socket and does not know the source
// address the kernel picks, so the cookie is keyed by the server address
// and the secret alone; a new secret (NewJar at each start, Rekey when the
// machine changes networks) changes every cookie.
type Jar struct {
	secret atomic.Pointer[[16]byte] // replaced whole by Rekey
	seed   maphash.Seed
	shards [jarShards]jarShard
}

type jarShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[netip.Addr, serverCookie] // mu guards
}

// serverCookie is a server cookie as learned: 8 to 32 octets.
type serverCookie struct {
	n uint8
	b [maxServerLen]byte
}

// NewJar returns a Jar with a random secret remembering at most size
// servers (DefaultJarSize when size <= 0).
func NewJar(size int) *Jar {
	var secret [16]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails (Go 1.24+)
	return NewJarSecret(secret, size)
}

// NewJarSecret is NewJar with a given secret, for tests and for instances
// that want stable client cookies.
func NewJarSecret(secret [16]byte, size int) *Jar {
	if size <= 0 {
		size = DefaultJarSize
	}
	per := max(1, size/jarShards)
	j := &Jar{seed: maphash.MakeSeed()}
	j.secret.Store(&secret)
	for i := range j.shards {
		l, err := simplelru.NewLRU[netip.Addr, serverCookie](per, nil)
		if err != nil {
			panic(fmt.Sprintf("cookie: jar shard: %v", err)) // per >= 1: cannot happen
		}
		j.shards[i].lru = l
	}
	return j
}

// Rekey gives the jar a new random secret, so that every client cookie
// changes, and forgets the server cookies, which were issued for the old
// ones. Call it when the machine's addresses change: RFC 7873 §5.1 would
// have the client cookie change with the client's address, so that
// servers cannot follow a laptop from one network to the next by it. A
// reply to a query sent before Rekey fails Check (its cookie is the old
// one) and is asked again over TCP by the resolver.
func (j *Jar) Rekey() {
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	j.secret.Store(&secret)
	for i := range j.shards {
		sh := &j.shards[i]
		sh.mu.Lock()
		sh.lru.Purge()
		sh.mu.Unlock()
	}
}

func (j *Jar) shard(server netip.Addr) *jarShard {
	return &j.shards[maphash.Comparable(j.seed, server)%jarShards]
}

// Client returns the client cookie hush uses toward server.
func (j *Jar) Client(server netip.Addr) [ClientLen]byte {
	a := server.Unmap().As16()
	var c [ClientLen]byte
	binary.BigEndian.PutUint64(c[:], sipHash24(j.secret.Load(), a[:]))
	return c
}

// Option appends to dst the COOKIE option data to send to server: the
// client cookie, then the server cookie learned from it, if any.
func (j *Jar) Option(dst []byte, server netip.Addr) []byte {
	server = server.Unmap().WithZone("")
	c := j.Client(server)
	dst = append(dst, c[:]...)
	sh := j.shard(server)
	sh.mu.Lock()
	sc, ok := sh.lru.Peek(server)
	sh.mu.Unlock()
	if ok {
		dst = append(dst, sc.b[:sc.n]...)
	}
	return dst
}

// Verdict is Jar.Check's judgement of a response.
type Verdict uint8

const (
	// Accept: the response echoed our client cookie (its server cookie is
	// now remembered), or it had no cookie and the server has never sent
	// us one (a server without cookie support).
	Accept Verdict = iota
	// Spoofed: the COOKIE option is malformed or echoes another client
	// cookie (RFC 7873 §5.3): discard the response and keep waiting.
	Spoofed
	// Missing: no COOKIE option from a server that sent one before; over
	// UDP this is what a spoofer who never saw our query would send, so
	// the response should be discarded (or the query retried over TCP).
	Missing
	// Retry: a BADCOOKIE response that echoed our client cookie; its
	// server cookie is remembered, and the query should be sent again,
	// once (RFC 7873 §5.3).
	Retry
)

var verdictNames = [...]string{"accept", "spoofed", "missing", "retry"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", v)
}

// Check judges the COOKIE option data opt of a response from server (nil
// when it had none); badCookie says the response's rcode was BADCOOKIE.
// It remembers the server cookie of a response whose client cookie is
// ours, and changes nothing otherwise. It does not look at anything else
// in the response: matching ID and question is the caller's business.
func (j *Jar) Check(server netip.Addr, opt []byte, badCookie bool) Verdict {
	server = server.Unmap().WithZone("")
	sh := j.shard(server)
	if opt == nil {
		sh.mu.Lock()
		_, known := sh.lru.Peek(server)
		sh.mu.Unlock()
		if known {
			return Missing
		}
		return Accept
	}
	// A response must carry a server cookie (RFC 7873 §5.3).
	if len(opt) < ClientLen+minServerLen || len(opt) > ClientLen+maxServerLen {
		return Spoofed
	}
	c := j.Client(server)
	if [ClientLen]byte(opt[:ClientLen]) != c {
		return Spoofed
	}
	var sc serverCookie
	sc.n = uint8(copy(sc.b[:], opt[ClientLen:]))
	sh.mu.Lock()
	sh.lru.Add(server, sc)
	sh.mu.Unlock()
	if badCookie {
		return Retry
	}
	return Accept
}

// Forget drops what the jar remembers of server, for a server that has
// stopped sending cookies for good (a replaced machine behind the same
// address); the next response without a cookie is then accepted.
func (j *Jar) Forget(server netip.Addr) {
	server = server.Unmap().WithZone("")
	sh := j.shard(server)
	sh.mu.Lock()
	sh.lru.Remove(server)
	sh.mu.Unlock()
}

// Len reports how many servers' cookies are remembered.
func (j *Jar) Len() int {
	n := 0
	for i := range j.shards {
		sh := &j.shards[i]
		sh.mu.Lock()
		n += sh.lru.Len()
		sh.mu.Unlock()
	}
	return n
}
