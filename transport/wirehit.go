package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime/debug"

	"github.com/miekg/dns"
)

// WireAnswerer is an optional fast path a Handler may implement beside
// CacheAnswerer: a cache hit from the query's wire form to the response's,
// with no dns.Msg unpacked or packed in between.
//
// AppendCached appends to dst the cached response to a query whose
// question name is qname (wire form, uncompressed, as the client wrote it),
// of type qtype and class IN, with the DO, CD and AD bits given: a DNS
// message with its header, its question and its sections, and no OPT
// record. The listener owns the rest of the header: it writes the ID, QR,
// opcode, RD, CD, RA, and clears TC and Z; from the handler's header it
// keeps AA, AD (for a client that sent DO or AD) and the RCODE. It writes
// the client's question name over the message's, which must therefore be
// the same name, at offset 12; adds its own OPT record for a client with
// EDNS; and sends the result only if it fits what the client accepts,
// asking CacheAnswerer or ServeDNS otherwise.
//
// AppendCached must answer as AnswerCached would, allocate nothing when
// dst has room, and follow AnswerCached's rules: never block, and not keep
// qname, which aliases the listener's read buffer. On false it returns dst
// unchanged.
type WireAnswerer interface {
	AppendCached(dst, qname []byte, qtype uint16, do, cd, ad bool) ([]byte, bool)
}

// wireOPT is the OPT record the fast path appends: root owner, type OPT,
// our UDP payload size, no extended RCODE, version 0, the DO bit at
// wireOPTDO, no options.
var wireOPT = [11]byte{0, 0, byte(dns.TypeOPT), ednsSize >> 8, ednsSize & 0xff, 0, 0, 0, 0, 0, 0}

const wireOPTDO = 7 // offset of the flags' high octet in wireOPT

// wireQuery is what the fast path reads of a query.
type wireQuery struct {
	id, flags      uint16
	nameEnd, qtype int
	edns, do       bool
	cookie         bool // a COOKIE option
	udpSize        uint16
}

// answerWire is the hit path without dns.Msg: for a plain query (one
// question of class IN, at most an OPT record without the options that
// change the response here) from an allowed client over UDP, TCP or DoT,
// it asks the WireAnswerer and finishes its response in sc.buf. It
// reports false for everything else, and for a miss, so that prepare
// takes the query the usual way; that is also where each rejection gets
// its answer.
//
// With cookies true, a query that carries a COOKIE option is left to the
// guard on the usual way too: its response must carry a server cookie.
func (pl *pipeline) answerWire(sc *scratch, raw []byte, p proto, allowed, cookies bool) (out []byte, ok bool) {
	if pl.wire == nil || !allowed || (p != protoUDP && p != protoTCP && p != protoTLS) {
		return nil, false
	}
	wq, ok := parseWireQuery(raw, p)
	if !ok || cookies && wq.cookie {
		return nil, false
	}
	return pl.answerParsed(sc, raw, p, wq)
}

// answerParsed is answerWire for a query already parsed and admitted.
func (pl *pipeline) answerParsed(sc *scratch, raw []byte, p proto, wq wireQuery) (out []byte, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			out, ok = nil, false
			pl.report(fmt.Errorf("transport: AppendCached panicked:\n%s", debug.Stack()))
		}
	}()
	reserve := 0
	if p.framed() {
		reserve = 2
	}
	qname := raw[headerSize:wq.nameEnd]
	out, ok = pl.wire.AppendCached(sc.buf[:reserve], qname, uint16(wq.qtype), wq.do, wq.flags&bitCD != 0, wq.flags&bitAD != 0)
	if !ok {
		return nil, false
	}
	if cap(out) > cap(sc.buf) {
		sc.buf = out[:cap(out)] // grown by append: keep it
	}
	m := out[reserve:]
	// The handler's question must be the client's, but for case.
	if len(m) < wq.nameEnd+4 || binary.BigEndian.Uint16(m[4:]) != 1 ||
		!bytes.EqualFold(m[headerSize:wq.nameEnd], qname) ||
		!bytes.Equal(m[wq.nameEnd:wq.nameEnd+4], raw[wq.nameEnd:wq.nameEnd+4]) {
		return nil, false
	}
	copy(m[headerSize:], qname) // DNS 0x20: the client's case
	binary.BigEndian.PutUint16(m, wq.id)
	hf := binary.BigEndian.Uint16(m[2:])
	f := hf&(bitAA|0xF) | bitQR | bitRA | wq.flags&(bitRD|bitCD)
	// RFC 6840 §5.8: AD only for a client that showed it understands it.
	if hf&bitAD != 0 && (wq.flags&bitAD != 0 || wq.do) {
		f |= bitAD
	}
	binary.BigEndian.PutUint16(m[2:], f)
	if wq.edns {
		ar := binary.BigEndian.Uint16(m[10:])
		binary.BigEndian.PutUint16(m[10:], ar+1)
		at := len(out)
		out = append(out, wireOPT[:]...)
		if wq.do {
			out[at+wireOPTDO] = 0x80
		}
		if cap(out) > cap(sc.buf) {
			sc.buf = out[:cap(out)]
		}
		m = out[reserve:]
	}
	req := request{edns: wq.edns, udpSize: wq.udpSize}
	if len(m) > req.limit(p) {
		// Truncation takes whole RRsets: the slow path knows how.
		return nil, false
	}
	if reserve > 0 {
		binary.BigEndian.PutUint16(out, uint16(len(m)))
	}
	return out, true
}

// parseWireQuery reads the header, the question and the OPT record of raw
// when it is a query the fast path can answer: QUERY, one question of
// class IN and a type a resolver answers, nothing in the answer and
// authority sections, at most one additional record, an OPT of version 0
// whose options do not change the response over p (padding over an
// encrypted transport, edns-tcp-keepalive over TCP or DoT), and nothing
// after it. Anything else goes the usual way.
func parseWireQuery(raw []byte, p proto) (wireQuery, bool) {
	var wq wireQuery
	if len(raw) < headerSize {
		return wq, false
	}
	wq.id = binary.BigEndian.Uint16(raw)
	wq.flags = binary.BigEndian.Uint16(raw[2:])
	if wq.flags&bitQR != 0 || (wq.flags>>11)&0xF != dns.OpcodeQuery ||
		binary.BigEndian.Uint16(raw[4:]) != 1 || binary.BigEndian.Uint32(raw[6:]) != 0 {
		return wq, false
	}
	ar := binary.BigEndian.Uint16(raw[10:])
	if ar > 1 {
		return wq, false
	}
	off := headerSize
	for {
		if off >= len(raw) || off-headerSize >= 255 {
			return wq, false
		}
		l := int(raw[off])
		if l&0xC0 != 0 {
			return wq, false // compressed or extended: leave it to Unpack
		}
		off += 1 + l
		if l == 0 {
			break
		}
	}
	wq.nameEnd = off
	if off+4 > len(raw) || off-headerSize > 255 {
		return wq, false
	}
	qtype := binary.BigEndian.Uint16(raw[off:])
	if binary.BigEndian.Uint16(raw[off+2:]) != dns.ClassINET || metaType(qtype) ||
		qtype == dns.TypeAXFR || qtype == dns.TypeIXFR {
		return wq, false
	}
	wq.qtype = int(qtype)
	off += 4
	if ar == 1 {
		if off+11 > len(raw) || raw[off] != 0 || binary.BigEndian.Uint16(raw[off+1:]) != dns.TypeOPT {
			return wq, false
		}
		wq.udpSize = binary.BigEndian.Uint16(raw[off+3:])
		ttl := binary.BigEndian.Uint32(raw[off+5:])
		if byte(ttl>>16) != 0 {
			return wq, false // EDNS version: BADVERS
		}
		wq.edns, wq.do = true, ttl&0x8000 != 0
		end := off + 11 + int(binary.BigEndian.Uint16(raw[off+9:]))
		if end > len(raw) {
			return wq, false
		}
		for o := off + 11; o < end; {
			if o+4 > end {
				return wq, false
			}
			code, n := binary.BigEndian.Uint16(raw[o:]), int(binary.BigEndian.Uint16(raw[o+2:]))
			if o+4+n > end ||
				code == dns.EDNS0PADDING && p.encrypted() ||
				code == dns.EDNS0TCPKEEPALIVE && p.keepalive() {
				return wq, false
			}
			wq.cookie = wq.cookie || code == dns.EDNS0COOKIE
			o += 4 + n
		}
		off = end
	}
	return wq, off == len(raw)
}
