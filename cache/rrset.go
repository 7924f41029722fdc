package cache

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// SetRRset caches the RRset rrs, with the RRSIGs that cover it, as of now:
// the iterator's delegations (NS), glue and name server addresses, and
// later DS and DNSKEY sets.
//
// The RRset's owner, type and class are those of the first record that is
// not an RRSIG. Every other record must have the same owner (compared
// case-insensitively) and class, and be of the same type or an RRSIG
// covering that type; if one does not, SetRRset caches nothing, since it
// cannot tell which part the caller meant. It also caches nothing for an
// empty set, a set of only RRSIGs, an OPT, or a TTL of zero.
//
// The TTL is the lowest of the records' (RFC 2181 §5.2, and no longer than
// a signature stays valid), clamped to [MinTTL, MaxTTL]; every stored
// record gets it. SetRRset stores the records packed: the caller may modify
// rrs afterwards. It caches nothing when they do not pack, or are larger
// than a shard of the cache holds.
//
// An unexpired RRset is replaced only by one of equal or higher meta.Rank
// (RFC 2181 §5.4.1); otherwise the new one is dropped.
func (c *Cache) SetRRset(rrs []dns.RR, meta Meta, now time.Time) {
	var h *dns.RR_Header
	for _, rr := range rrs {
		if rr == nil {
			return
		}
		if rr.Header().Rrtype != dns.TypeRRSIG {
			h = rr.Header()
			break
		}
	}
	if h == nil || h.Rrtype == dns.TypeOPT {
		return
	}
	owner := canonicalName(h.Name)
	t := newTTLs()
	for _, rr := range rrs {
		rh := rr.Header()
		if rh.Class != h.Class || (rh.Name != h.Name && canonicalName(rh.Name) != owner) {
			return
		}
		if rh.Rrtype != h.Rrtype {
			if sig, ok := rr.(*dns.RRSIG); !ok || sig.TypeCovered != h.Rrtype {
				return
			}
		}
		t.add(rr, now)
	}
	ttl := t.clamp(c.minTTL, c.maxTTL)
	if ttl == 0 {
		return
	}
	// Packed as the answer section of a message with no question,
	// compressed, which GetRRset unpacks record by record: a third of
	// what the records take as Go values, and exactly what the cache
	// counts. Pack reads the records and writes only its own buffer.
	buf := packBufs.Get().(*[]byte)
	defer packBufs.Put(buf)
	packed, err := (&dns.Msg{Compress: true, Answer: rrs}).PackBuffer(*buf)
	if err != nil {
		return
	}
	wire := make([]byte, len(packed))
	copy(wire, packed)
	e := &entry{stored: now, ttl: ttl, meta: meta, wire: wire}
	c.store.AddIf(rrsetKey(owner, h.Rrtype, h.Class), e, func(old *entry) bool {
		_, _, live := old.remaining(now)
		return !live || meta.Rank >= old.meta.Rank
	})
}

// GetRRset returns the RRset cached for (name, qtype, qclass), name compared
// case-insensitively, with its covering RRSIGs: copies the caller owns, each
// TTL lowered by the time since it was stored. An expired RRset is a miss,
// and is dropped.
//
// GetRRset sees only what SetRRset stored, never the records inside cached
// messages.
func (c *Cache) GetRRset(name string, qtype, qclass uint16, now time.Time) ([]dns.RR, Meta, bool) {
	k := rrsetKey(name, qtype, qclass)
	e, ok := c.store.Get(k)
	if !ok {
		return nil, Meta{}, false
	}
	_, left, ok := e.remaining(now)
	if !ok {
		c.drop(k, e)
		return nil, Meta{}, false
	}
	out := make([]dns.RR, binary.BigEndian.Uint16(e.wire[6:]))
	off := headerLen
	for i := range out {
		rr, next, err := dns.UnpackRR(e.wire, off)
		if err != nil {
			// Cannot happen: the wire form came from Pack. Treat it
			// as a miss rather than return something broken.
			c.drop(k, e)
			return nil, Meta{}, false
		}
		rr.Header().Ttl = left
		out[i], off = rr, next
	}
	return out, e.meta, true
}

// AppendAddrs appends the addresses of the A or AAAA RRset cached for
// (name, qtype) in class IN to dst, read straight from the stored wire
// form, and reports whether one was cached (an expired one is a miss, and
// is dropped). It is GetRRset for the iterator's zone cuts, which need
// only the addresses of the servers, for every uncached query: no record
// is unpacked and nothing is allocated but dst's growth.
func (c *Cache) AppendAddrs(dst []netip.Addr, name string, qtype uint16, now time.Time) ([]netip.Addr, bool) {
	if qtype != dns.TypeA && qtype != dns.TypeAAAA {
		return dst, false
	}
	k := rrsetKey(name, qtype, dns.ClassINET)
	e, ok := c.store.Get(k)
	if !ok {
		return dst, false
	}
	if _, _, ok := e.remaining(now); !ok {
		c.drop(k, e)
		return dst, false
	}
	out, ok := appendWireAddrs(dst, e.wire, qtype)
	if !ok {
		// Cannot happen: the wire form came from Pack, whose records
		// all parse.
		c.drop(k, e)
		return dst, false
	}
	return out, true
}

// appendWireAddrs appends the addresses of the records of type qtype
// (A or AAAA) in the answer section of msg, packed by SetRRset, skipping
// their RRSIGs. It reports false, and returns dst as it was, when msg does
// not parse.
func appendWireAddrs(dst []netip.Addr, msg []byte, qtype uint16) ([]netip.Addr, bool) {
	out := dst
	if len(msg) < headerLen {
		return dst, false
	}
	n := int(binary.BigEndian.Uint16(msg[6:]))
	off := headerLen
	for range n {
		end, err := skipName(msg, off)
		if err != nil || end+10 > len(msg) {
			return dst, false
		}
		typ := binary.BigEndian.Uint16(msg[end:])
		rdlen := int(binary.BigEndian.Uint16(msg[end+8:]))
		rdata := end + 10
		if rdata+rdlen > len(msg) {
			return dst, false
		}
		// A record of another type (an RRSIG) is skipped, and so is
		// one of the type without an address of its length: miekg/dns
		// unpacks an A record with no data, and GetRRset's readers
		// skip its invalid address.
		switch {
		case typ != qtype:
		case qtype == dns.TypeA && rdlen == 4:
			out = append(out, netip.AddrFrom4([4]byte(msg[rdata:rdata+4])))
		case qtype == dns.TypeAAAA && rdlen == 16:
			out = append(out, netip.AddrFrom16([16]byte(msg[rdata:rdata+16])))
		}
		off = rdata + rdlen
	}
	return out, true
}
