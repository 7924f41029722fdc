package cache

import (
	"hash/maphash"
	"strings"

	"github.com/miekg/dns"
)

// Key identifies a cached answer to a client question.
//
// DO and CD change the answer: with DO the answer carries RRSIGs and
// NSEC(3) records, with CD it may hold data that failed validation (RFC 4035
// §3.2.2), which must never reach a client that did not set CD. CD is part
// of the key; DO is not, since one entry serves both (see SetMsg), but it
// picks which view of the entry a lookup gets.
type Key struct {
	// Name is the question name as a lowercased, fully qualified domain
	// name in presentation format, as NewKey makes it. The cache lowercases
	// it again itself (a cheap scan when it already is lowercase), so a
	// Key built by hand still matches case-insensitively.
	Name string
	// Type and Class are the question's QTYPE and QCLASS.
	Type, Class uint16
	// DO is the DNSSEC OK bit of the query's EDNS header (RFC 3225).
	DO bool
	// CD is the query's Checking Disabled header bit (RFC 4035 §3.2.2).
	CD bool
}

// NewKey returns the Key for a question. It makes name fully qualified and
// lowercases its ASCII letters (RFC 4343: DNS names compare
// case-insensitively in ASCII only); it allocates only when it has to
// change name.
//
// NewKey does not unescape: "\065" and "a" are different keys, as
// miekg/dns never escapes a letter when it unpacks a name.
func NewKey(name string, qtype, qclass uint16, do, cd bool) Key {
	return Key{Name: canonicalName(name), Type: qtype, Class: qclass, DO: do, CD: cd}
}

// canonicalName makes name fully qualified and lowercases its ASCII letters,
// without allocating when name already is both. Unlike strings.ToLower and
// dns.CanonicalName it never touches a non-ASCII byte, so a name holding
// raw bytes that are not UTF-8 is kept as it is.
func canonicalName(name string) string {
	if !dns.IsFqdn(name) {
		name += "."
	}
	i := 0
	for i < len(name) && (name[i] < 'A' || name[i] > 'Z') {
		i++
	}
	if i == len(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	b.WriteString(name[:i])
	for ; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// kind tells a client answer from an RRset: both live in one Sharded, so
// that one bound covers both, and must never be mistaken for each other.
type kind uint8

const (
	kindMsg kind = iota
	kindRRset
)

// Flag bits of key.flags.
const (
	flagCD uint8 = 1 << iota
)

// key is the internal key of the Sharded: a Key plus its kind, packed small
// so that hashing and comparing it is cheap.
type key struct {
	name  string
	typ   uint16
	class uint16
	kind  kind
	flags uint8
}

func msgKey(k Key) key {
	var f uint8
	if k.CD {
		f |= flagCD
	}
	return key{name: canonicalName(k.Name), typ: k.Type, class: k.Class, kind: kindMsg, flags: f}
}

func rrsetKey(name string, qtype, qclass uint16) key {
	return key{name: canonicalName(name), typ: qtype, class: qclass, kind: kindRRset}
}

// hash picks the shard of k. The name goes through maphash with the Cache's
// seed, so that no outsider can aim many names at one shard; the small
// fields are folded in and mixed down into the low bits, which are the ones
// Sharded uses.
func (k key) hash(seed maphash.Seed) uint64 {
	h := maphash.String(seed, k.name)
	h ^= uint64(k.typ)<<32 | uint64(k.class)<<16 | uint64(k.kind)<<8 | uint64(k.flags)
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>32
}
