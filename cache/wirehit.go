package cache

import (
	"slices"
	"time"
	"unsafe"
)

// maxNameLen is the longest domain name in presentation format that
// AppendWire looks up: 255 octets of wire form, every label length byte
// becoming a dot.
const maxNameLen = 255

// AppendWire is AppendMsg for a question read straight off the wire: name
// is the question name in wire form, uncompressed, as the client wrote it
// (any case). It appends the answer cached for (name, qtype, qclass, do,
// cd) with ID 0 and its TTLs lowered, and returns it with the entry's
// metadata. It builds no Key and allocates nothing when dst has room for
// the answer and 255 bytes more: the hit path of a listener that never
// unpacks the query.
//
// It reports a miss, leaving dst as it was, when nothing live is cached,
// and also for what it leaves to the slower paths: a cached SERVFAIL, an
// answer whose additional section holds an OPT record, and a name with a
// byte that presentation format escapes (which no key built by NewKey
// would spell the same way here).
func (c *Cache) AppendWire(dst, name []byte, qtype, qclass uint16, do, cd bool, now time.Time) ([]byte, Meta, bool) {
	// The key's name is spelled in dst's spare room, where the answer
	// goes next: a buffer on the stack would escape through the shard's
	// hash function and map, and cost an allocation per hit.
	dst = slices.Grow(dst, maxNameLen)
	buf := (*[maxNameLen]byte)(dst[len(dst) : len(dst)+maxNameLen])
	n := presentLower(buf, name)
	if n < 0 {
		return dst, Meta{}, false
	}
	var f uint8
	if cd {
		f |= flagCD
	}
	// The string only lives for the lookup: the map neither keeps nor
	// compares it afterwards, so it may alias memory that appendTo
	// overwrites next.
	k := key{name: unsafe.String(&buf[0], n), typ: qtype, class: qclass, kind: kindMsg, flags: f}
	e, ok := c.store.Get(k)
	if !ok {
		return dst, Meta{}, false
	}
	elapsed, _, live := e.remaining(now)
	if !live || e.flags.Load()&(entryServfail|entryOpt) != 0 {
		// An expired entry is dropped by the slow path's lookup, which
		// has a key of its own to drop it by.
		return dst, Meta{}, false
	}
	return e.appendTo(dst, 0, elapsed, do), e.metaFor(elapsed), true
}

// presentLower writes the presentation form of the wire name name,
// lowercased and fully qualified, into buf and returns its length; -1 if
// name is not a whole uncompressed name or holds a byte presentation
// format escapes. The root is ".".
func presentLower(buf *[maxNameLen]byte, name []byte) int {
	n := 0
	for off := 0; off < len(name); {
		l := int(name[off])
		off++
		if l == 0 {
			if off != len(name) {
				return -1
			}
			if n == 0 {
				buf[0] = '.'
				return 1
			}
			return n
		}
		if l > 63 || off+l > len(name) || n+l+1 > len(buf) {
			return -1
		}
		for _, b := range name[off : off+l] {
			switch {
			case 'A' <= b && b <= 'Z':
				b += 'a' - 'A'
			case b <= ' ' || b > '~', b == '.', b == '\'', b == '@', b == ';', b == '(', b == ')', b == '"', b == '\\':
				return -1
			}
			buf[n] = b
			n++
		}
		buf[n] = '.'
		n++
		off += l
	}
	return -1
}
