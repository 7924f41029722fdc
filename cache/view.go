package cache

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// A client answer is stored once, as a client that set DO gets it. A client
// without DO gets the same message less the DNSSEC records it did not ask
// for (RFC 4035 §3.2.1): the RRSIG, NSEC and NSEC3 records of the answer
// and authority sections, unless the question is of that type. plainView
// says how to cut that message out of the stored one at hit time, by
// copying byte ranges and patching a few fields, so that no second copy is
// kept.

// plainView derives the message a client without DO gets from an entry's
// wire form.
type plainView struct {
	// drops are the byte ranges of the stored message left out, in
	// ascending order and not adjacent.
	drops []span
	// an and ns are the plain message's ANCOUNT and NSCOUNT.
	an, ns uint16
	// fixes are the compression pointers of kept records whose target
	// moved, with their offset and value in the plain message.
	fixes []fixup
	// wire and ttlOffs, when wire is not nil, are the plain message
	// packed on its own: the rare message in which a kept name is
	// compressed against a dropped record, so that cutting cannot work.
	wire    []byte
	ttlOffs []uint16
}

type span struct{ start, end uint16 }

type fixup struct{ at, ptr uint16 }

// dnssecOnly reports whether a record of type t is left out for a client
// without DO that asked for qtype.
func dnssecOnly(t, qtype uint16) bool {
	return t != qtype && (t == dns.TypeRRSIG || t == dns.TypeNSEC || t == dns.TypeNSEC3)
}

// withoutDNSSEC returns the records of rrs a client without DO gets: rrs
// itself when it has nothing to leave out.
func withoutDNSSEC(rrs []dns.RR, qtype uint16) []dns.RR {
	n := 0
	for _, rr := range rrs {
		if !dnssecOnly(rr.Header().Rrtype, qtype) {
			n++
		}
	}
	if n == len(rrs) {
		return rrs
	}
	out := make([]dns.RR, 0, n)
	for _, rr := range rrs {
		if !dnssecOnly(rr.Header().Rrtype, qtype) {
			out = append(out, rr)
		}
	}
	return out
}

// record is where one resource record lies in a packed message.
type record struct {
	start, rdata, end int
	typ               uint16
	drop              bool
}

// planPlain works out the plainView of the packed message msg, whose
// question is of type qtype. It returns nil, true when a client without DO
// gets msg as it is, and nil, false when the plain message cannot be cut
// out of msg (a kept name points into a dropped record, or msg does not
// parse), so that the caller packs it on its own.
func planPlain(msg []byte, qtype uint16) (*plainView, bool) {
	recs, an, ns, ok := records(msg, qtype)
	if !ok {
		return nil, false
	}
	p := &plainView{an: an, ns: ns}
	for _, r := range recs {
		if !r.drop {
			continue
		}
		if n := len(p.drops); n > 0 && int(p.drops[n-1].end) == r.start {
			p.drops[n-1].end = uint16(r.end)
		} else {
			p.drops = append(p.drops, span{uint16(r.start), uint16(r.end)})
		}
	}
	if len(p.drops) == 0 {
		return nil, true
	}
	for _, r := range recs {
		if r.drop {
			continue
		}
		for _, at := range pointers(msg, r) {
			if at < 0 {
				return nil, false
			}
			target := int(binary.BigEndian.Uint16(msg[at:]) & 0x3fff)
			if p.dropped(target) {
				return nil, false
			}
			if s := p.shift(target); s > 0 {
				p.fixes = append(p.fixes, fixup{at: uint16(at - p.shift(at)), ptr: 0xc000 | uint16(target-s)})
			}
		}
	}
	return p, true
}

// records lists the resource records of msg and marks those a client
// without DO does not get. It also returns the plain message's ANCOUNT and
// NSCOUNT.
func records(msg []byte, qtype uint16) (recs []record, an, ns uint16, ok bool) {
	if len(msg) < headerLen || len(msg) > 0xffff {
		return nil, 0, 0, false
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	counts := [3]int{
		int(binary.BigEndian.Uint16(msg[6:])),
		int(binary.BigEndian.Uint16(msg[8:])),
		int(binary.BigEndian.Uint16(msg[10:])),
	}
	off := headerLen
	var err error
	for range qd {
		if off, err = skipName(msg, off); err != nil || off+4 > len(msg) {
			return nil, 0, 0, false
		}
		off += 4
	}
	kept := [3]uint16{}
	recs = make([]record, 0, counts[0]+counts[1]+counts[2])
	for sec, n := range counts {
		for range n {
			r := record{start: off}
			if off, err = skipName(msg, off); err != nil || len(msg)-off < 10 {
				return nil, 0, 0, false
			}
			r.typ = binary.BigEndian.Uint16(msg[off:])
			r.rdata = off + 10
			r.end = r.rdata + int(binary.BigEndian.Uint16(msg[off+8:]))
			if r.end > len(msg) {
				return nil, 0, 0, false
			}
			r.drop = sec < 2 && dnssecOnly(r.typ, qtype)
			if !r.drop {
				kept[sec]++
			}
			recs = append(recs, r)
			off = r.end
		}
	}
	return recs, kept[0], kept[1], true
}

// pointers returns the offsets of the compression pointers in r: the one
// that may end its owner name and those that may end the names in its
// RDATA. Only the types whose RDATA names miekg/dns compresses (RFC 3597
// §4's list) are looked into; the stored messages come from its Pack. An
// offset of -1 means r could not be parsed.
func pointers(msg []byte, r record) []int {
	var out []int
	add := func(off int) int {
		end, at := namePointer(msg, off)
		if end < 0 {
			out = append(out, -1)
			return -1
		}
		if at >= 0 {
			out = append(out, at)
		}
		return end
	}
	add(r.start)
	switch r.typ {
	case dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMB, dns.TypeMD, dns.TypeMF, dns.TypeMG, dns.TypeMR:
		add(r.rdata)
	case dns.TypeMX:
		if r.rdata+2 <= r.end {
			add(r.rdata + 2)
		}
	case dns.TypeSOA, dns.TypeMINFO:
		if end := add(r.rdata); end >= 0 {
			add(end)
		}
	}
	return out
}

// namePointer returns the offset just past the name at off and the offset
// of the compression pointer that ends it, -1 if none; -1, -1 if the name
// does not parse. Like skipName it does not follow the pointer.
func namePointer(msg []byte, off int) (end, at int) {
	for {
		if off >= len(msg) {
			return -1, -1
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				return off + 1, -1
			}
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return -1, -1
			}
			return off + 2, off
		default:
			return -1, -1
		}
	}
}

// dropped reports whether offset x of the stored message is left out.
func (p *plainView) dropped(x int) bool {
	for _, d := range p.drops {
		if x >= int(d.start) && x < int(d.end) {
			return true
		}
	}
	return false
}

// shift returns how many bytes before offset x of the stored message are
// left out.
func (p *plainView) shift(x int) int {
	s := 0
	for _, d := range p.drops {
		if int(d.end) > x {
			break
		}
		s += int(d.end - d.start)
	}
	return s
}

// plainCut is how an entry keeps its plainView: inline in the entry, the
// drops and fixes in one slice of exactly their size, since every signed
// answer has one (a separate struct and two slices cost about 150 bytes an
// entry more).
type plainCut struct {
	// cut holds the drops' (start, end) pairs, then the fixes' (at, ptr)
	// pairs; nil when nothing is cut.
	cut   []uint16
	nDrop uint16 // pairs of cut that are drops
	an    uint16 // the plain message's ANCOUNT
	ns    uint16 // and NSCOUNT
	// alone, when not nil, is the plain message packed on its own (see
	// plainView.wire).
	alone *plainMsg
}

// plainMsg is a plain message packed on its own and its TTL offsets.
type plainMsg struct {
	wire    []byte
	ttlOffs []uint16
}

// none reports whether a client without DO gets the stored message as is.
func (c *plainCut) none() bool { return c.cut == nil && c.alone == nil }

// size is what c holds outside the entry, in bytes.
func (c *plainCut) size() int64 {
	n := int64(2 * cap(c.cut))
	if c.alone != nil {
		n += 64 + int64(cap(c.alone.wire)+2*cap(c.alone.ttlOffs))
	}
	return n
}

// compact turns a plan into what an entry keeps.
func (p *plainView) compact() plainCut {
	if p == nil {
		return plainCut{}
	}
	if p.wire != nil {
		return plainCut{alone: &plainMsg{wire: p.wire, ttlOffs: p.ttlOffs}}
	}
	c := plainCut{nDrop: uint16(len(p.drops)), an: p.an, ns: p.ns}
	c.cut = make([]uint16, 0, 2*(len(p.drops)+len(p.fixes)))
	for _, d := range p.drops {
		c.cut = append(c.cut, d.start, d.end)
	}
	for _, f := range p.fixes {
		c.cut = append(c.cut, f.at, f.ptr)
	}
	return c
}

// appendPlain appends the plain view of wire (whose TTL fields are at
// ttlOffs) with its TTLs lowered by elapsed, and returns the extended
// slice. The caller sets the ID.
func (c *plainCut) appendPlain(dst, wire []byte, ttlOffs []uint16, elapsed uint32) []byte {
	if c.alone != nil {
		return appendLowered(dst, c.alone.wire, c.alone.ttlOffs, elapsed)
	}
	drops, fixes := c.cut[:2*c.nDrop], c.cut[2*c.nDrop:]
	base := len(dst)
	prev := 0
	for i := 0; i < len(drops); i += 2 {
		dst = append(dst, wire[prev:drops[i]]...)
		prev = int(drops[i+1])
	}
	dst = append(dst, wire[prev:]...)
	b := dst[base:]
	binary.BigEndian.PutUint16(b[6:], c.an)
	binary.BigEndian.PutUint16(b[8:], c.ns)
	i, shift := 0, 0
	for _, off := range ttlOffs {
		for i < len(drops) && drops[i+1] <= off {
			shift += int(drops[i+1] - drops[i])
			i += 2
		}
		if i < len(drops) && off >= drops[i] {
			continue // in a dropped record
		}
		binary.BigEndian.PutUint32(b[int(off)-shift:], lower(binary.BigEndian.Uint32(wire[off:]), elapsed))
	}
	for j := 0; j < len(fixes); j += 2 {
		binary.BigEndian.PutUint16(b[fixes[j]:], fixes[j+1])
	}
	return dst
}

// appendLowered appends wire with the TTLs at ttlOffs lowered by elapsed.
func appendLowered(dst, wire []byte, ttlOffs []uint16, elapsed uint32) []byte {
	base := len(dst)
	dst = append(dst, wire...)
	b := dst[base:]
	for _, off := range ttlOffs {
		binary.BigEndian.PutUint32(b[off:], lower(binary.BigEndian.Uint32(wire[off:]), elapsed))
	}
	return dst
}

// lower returns ttl less elapsed, never below zero.
func lower(ttl, elapsed uint32) uint32 {
	if ttl > elapsed {
		return ttl - elapsed
	}
	return 0
}
