package transport

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

// Header bits of the second 16-bit word.
const (
	bitQR = 1 << 15
	bitAA = 1 << 10
	bitTC = 1 << 9
	bitRD = 1 << 8
	bitRA = 1 << 7
	bitZ  = 1 << 6
	bitAD = 1 << 5
	bitCD = 1 << 4
)

// proto selects the framing and size rules of a response.
type proto uint8

const (
	protoUDP   proto = iota
	protoTCP         // RFC 7766
	protoTLS         // TCP framing inside TLS (DoT, RFC 7858)
	protoHTTPS       // one bare message per HTTP exchange (DoH, RFC 8484)
	protoQUIC        // TCP framing, one message per QUIC stream (DoQ, RFC 9250)
)

// stream reports whether p carries messages over a reliable stream: no
// UDP size limit and no truncation.
func (p proto) stream() bool { return p != protoUDP }

// framed reports whether p's messages carry the 2-octet length prefix of
// RFC 1035 §4.2.2 (TCP, DoT, and DoQ, RFC 9250 §4.2). DoH messages are
// bare: HTTP frames them.
func (p proto) framed() bool { return p == protoTCP || p == protoTLS || p == protoQUIC }

// keepalive reports whether edns-tcp-keepalive (RFC 7828) means something
// over p: only over TCP and DoT. Over UDP it is ignored (RFC 7828 §3.3.1),
// DoQ forbids it (RFC 9250 §5.5.2) and HTTP has its own idle timeouts.
func (p proto) keepalive() bool { return p == protoTCP || p == protoTLS }

// encrypted reports whether an on-path observer cannot read p's messages,
// the only case where EDNS padding (RFC 7830) is worth its bytes.
func (p proto) encrypted() bool { return p == protoTLS || p == protoHTTPS || p == protoQUIC }

// action is what prepare decided about a query.
type action uint8

const (
	actDrop   action = iota // say nothing
	actReply                // the response is ready
	actHandle               // ask Handler.ServeDNS
)

// request is what the transport remembers of a query to build its
// response. It is a copy, so a handler that modifies q changes nothing here.
type request struct {
	id          uint16
	opcode      int
	rd, cd, ad  bool
	hasQuestion bool
	question    dns.Question // as the client wrote it: case kept (DNS 0x20)
	edns        bool         // the query had an OPT record
	do          bool         // ...with the DO bit
	udpSize     uint16       // ...advertising this payload size
	pad         bool         // ...with a Padding option, over an encrypted proto
	keepalive   bool         // ...with edns-tcp-keepalive, over TCP or DoT
	// cookie is the COOKIE option's data (its first cookieLen octets;
	// hasCookie says there was one), kept over UDP only; sendCookie says
	// respCookie goes into the response's OPT record (guard.go).
	hasCookie bool
	cookieLen uint8
	// limited says the rate limit already judged this query on the
	// wire path, with verdict (UDP only).
	limited    bool
	verdict    ratelimit.Verdict
	sendCookie bool
	cookie     [40]byte
	respCookie [cookie.ResponseLen]byte
	nsid       bool // ...with the NSID option (RFC 5001)
}

// limit is the largest response the client can take over p.
func (r *request) limit(p proto) int {
	if p.stream() {
		return tcpMaxSize
	}
	if !r.edns {
		return udpMinSize
	}
	return max(udpMinSize, min(int(r.udpSize), ednsSize))
}

// prepare runs every check that needs no handler, in this order:
//
//   - a message shorter than a header or with QR=1 is dropped;
//   - from the header alone, before any parsing: an opcode other than
//     QUERY is NOTIMP; a question count other than one, records in the
//     answer or authority section, or more than two additional records
//     (OPT, and TSIG at most) is FORMERR — so a hostile 64 KiB message
//     cannot make us unpack thousands of records;
//   - a message that does not unpack is FORMERR;
//   - a client outside the ACL is REFUSED;
//   - more than one OPT (RFC 6891 §6.1.1) or a meta qtype is FORMERR;
//     EDNS version above 0 is BADVERS (RFC 6891 §6.1.3); a class other
//     than IN, AXFR and IXFR are REFUSED.
//
// The header-only rejections echo the question when it parses but carry no
// OPT (the additional section is not read). A query that passes goes to the
// CacheAnswerer, if the handler is one. Before all that, a plain query
// over UDP, TCP or DoT goes to the WireAnswerer, if the handler is one,
// with nothing unpacked (answerWire), unless the UDP guard has a say: a
// rate limit is on, or cookies are and the query carries one. q and req
// are then left untouched.
//
// q receives the unpacked query and req what the response needs. For
// actReply the returned slice is the response, in sc.buf or freshly
// allocated; it is valid until sc is used again.
func (pl *pipeline) prepare(sc *scratch, raw []byte, q *dns.Msg, req *request, p proto, allowed bool) ([]byte, action) {
	return pl.prepareFrom(sc, raw, q, req, p, netip.Addr{}, allowed)
}

// guarded reports whether the UDP guard (cookies, rate limit) checks a
// query from client over p.
func (pl *pipeline) guarded(p proto, client netip.Addr) bool {
	return p == protoUDP && client.IsValid() && (pl.limit.Load() != nil || pl.cookies.Server() != nil)
}

// prepareFrom is prepare for a query from client, which the UDP listeners
// know and pass so that the guard (cookies, rate limit; guard.go) can run
// after the query is unpacked and before anything is answered.
func (pl *pipeline) prepareFrom(sc *scratch, raw []byte, q *dns.Msg, req *request, p proto, client netip.Addr, allowed bool) ([]byte, action) {
	// Under the guard, only DNS cookies can be left to the slow path
	// query by query (a query with a COOKIE option goes there); the rate
	// limit must see every query once, which it does there.
	guarded := pl.guarded(p, client)
	limit := pl.limit.Load()
	limited, verdict := false, ratelimit.Allow
	switch {
	case !guarded || limit == nil:
		if out, ok := pl.answerWire(sc, raw, p, allowed, guarded); ok {
			return out, actReply
		}
	case allowed && pl.wire != nil:
		// The rate limit must see every query once. A query without a
		// COOKIE option gets its verdict here, so that a cache hit
		// within the limit still takes the wire path; the guard below
		// then uses this verdict instead of counting the query again.
		if wq, ok := parseWireQuery(raw, p); ok && !wq.cookie {
			limited, verdict = true, limit.Check(client, time.Now())
			if verdict == ratelimit.Allow {
				if out, ok := pl.answerParsed(sc, raw, p, wq); ok {
					return out, actReply
				}
			}
		}
	}
	if len(raw) < headerSize {
		return nil, actDrop
	}
	flags := binary.BigEndian.Uint16(raw[2:])
	if flags&bitQR != 0 {
		// Answering responses invites reflection loops.
		return nil, actDrop
	}
	*req = request{
		id:     binary.BigEndian.Uint16(raw),
		opcode: int(flags>>11) & 0xF,
		rd:     flags&bitRD != 0,
		cd:     flags&bitCD != 0,
		ad:     flags&bitAD != 0,
	}
	if rcode := unpackChecked(q, req, raw); rcode != dns.RcodeSuccess {
		return pl.reply(sc, req, p, rcode, 0), actReply
	}
	opt, nopt := readEDNS(q, req, p)
	if len(q.Question) != 1 {
		// QDCOUNT said one, but the message ended after the header.
		return pl.reply(sc, req, p, dns.RcodeFormatError, 0), actReply
	}
	req.question, req.hasQuestion = q.Question[0], true
	if guarded {
		req.limited, req.verdict = limited, verdict
		if out, act, done := pl.guard(sc, req, p, client); done {
			return out, act
		}
	}
	if rcode, ede := refusal(req.question, opt, nopt, allowed); rcode != dns.RcodeSuccess {
		if rcode == dns.RcodeRefused && allowed && req.question.Qclass == dns.ClassCHAOS {
			if out, ok := pl.answerChaos(sc, req, p); ok {
				return out, actReply
			}
		}
		return pl.reply(sc, req, p, rcode, ede), actReply
	}
	if pl.cache != nil {
		if resp, ok := pl.answerCached(q); ok {
			return pl.answer(sc, req, p, resp, nil), actReply
		}
	}
	return nil, actHandle
}

// unpackChecked rejects what the header alone condemns (an opcode other
// than QUERY; a question count other than one, records in the answer or
// authority section, more than two additional records), then unpacks the
// query into q. For a rejected message it returns the rcode, having put in
// req the question to echo, if it parses.
func unpackChecked(q *dns.Msg, req *request, raw []byte) int {
	qd, an := binary.BigEndian.Uint16(raw[4:]), binary.BigEndian.Uint16(raw[6:])
	ns, ar := binary.BigEndian.Uint16(raw[8:]), binary.BigEndian.Uint16(raw[10:])
	rcode := dns.RcodeSuccess
	switch {
	case req.opcode != dns.OpcodeQuery:
		rcode = dns.RcodeNotImplemented
	case qd != 1 || an != 0 || ns != 0 || ar > 2:
		rcode = dns.RcodeFormatError
	}
	if rcode == dns.RcodeSuccess {
		if err := unpackQuery(q, raw); err != nil {
			rcode = dns.RcodeFormatError
		}
	}
	if rcode != dns.RcodeSuccess && qd == 1 {
		req.question, req.hasQuestion = unpackQuestion(raw)
	}
	return rcode
}

// readEDNS notes in req what the response needs of q's first OPT record,
// drops the options that identify the client from it, and returns it with
// the number of OPT records q carries.
func readEDNS(q *dns.Msg, req *request, p proto) (*dns.OPT, int) {
	var opt *dns.OPT
	nopt := 0
	for _, rr := range q.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			nopt++
			if opt == nil {
				opt = o
			}
		}
	}
	if opt == nil {
		return nil, nopt
	}
	req.edns, req.do, req.udpSize = true, opt.Do(), opt.UDPSize()
	if p == protoUDP {
		readCookie(opt, req)
	}
	opt.Option = dropIdentifying(opt.Option)
	for _, o := range opt.Option {
		switch o.Option() {
		case dns.EDNS0PADDING:
			// RFC 7830 §4: pad only where it hides something.
			req.pad = p.encrypted()
		case dns.EDNS0TCPKEEPALIVE:
			// RFC 7828 §3.3: ignored over UDP, never echoed there.
			req.keepalive = p.keepalive()
		case dns.EDNS0NSID:
			req.nsid = true
		}
	}
	return opt, nopt
}

// refusal is the rcode (and EDE code, 0 for none) of an unpacked query the
// transport answers itself, or RcodeSuccess for one that may go on.
func refusal(qn dns.Question, opt *dns.OPT, nopt int, allowed bool) (rcode int, ede uint16) {
	switch qt := qn.Qtype; {
	case !allowed:
		return dns.RcodeRefused, dns.ExtendedErrorCodeProhibited
	case nopt > 1, metaType(qt):
		return dns.RcodeFormatError, 0
	case opt != nil && opt.Version() != 0:
		return dns.RcodeBadVers, 0
	case qn.Qclass != dns.ClassINET, qt == dns.TypeAXFR, qt == dns.TypeIXFR:
		// A resolver has no zones to transfer and answers only for IN;
		// CHAOS (version.bind and friends) would only help fingerprinting.
		return dns.RcodeRefused, dns.ExtendedErrorCodeNotSupported
	}
	return dns.RcodeSuccess, 0
}

// unpackQuery does what (*dns.Msg).Unpack does for a message whose header
// prepare has checked (one question, nothing in the answer and authority
// sections, at most two additional records), but it reuses q's slices and,
// for an OPT record without options (the common case), q's previous OPT
// record: a cache hit then costs one allocation, the question name. It is
// stricter than Unpack in one way: a question cut short after its name is an
// error rather than a question of type or class 0. The records it returns
// never alias raw.
func unpackQuery(q *dns.Msg, raw []byte) error {
	flags := binary.BigEndian.Uint16(raw[2:])
	q.MsgHdr = dns.MsgHdr{
		Id:                 binary.BigEndian.Uint16(raw),
		Response:           flags&bitQR != 0,
		Opcode:             int(flags>>11) & 0xF,
		Authoritative:      flags&bitAA != 0,
		Truncated:          flags&bitTC != 0,
		RecursionDesired:   flags&bitRD != 0,
		RecursionAvailable: flags&bitRA != 0,
		Zero:               flags&bitZ != 0,
		AuthenticatedData:  flags&bitAD != 0,
		CheckingDisabled:   flags&bitCD != 0,
		Rcode:              int(flags & 0xF),
	}
	q.Compress = false
	q.Answer, q.Ns = nil, nil
	var prevOPT *dns.OPT
	if len(q.Extra) > 0 {
		prevOPT, _ = q.Extra[0].(*dns.OPT)
	}
	clear(q.Extra)
	q.Extra = q.Extra[:0]

	name, off, err := dns.UnpackDomainName(raw, headerSize)
	if err != nil {
		q.Question = q.Question[:0]
		return err
	}
	if off+4 > len(raw) {
		q.Question = q.Question[:0]
		return errShortQuestion
	}
	q.Question = append(q.Question[:0], dns.Question{
		Name:   name,
		Qtype:  binary.BigEndian.Uint16(raw[off:]),
		Qclass: binary.BigEndian.Uint16(raw[off+2:]),
	})
	off += 4

	// As in miekg/dns: stop when the message ends early (the count lied).
	for range binary.BigEndian.Uint16(raw[10:]) {
		if off == len(raw) {
			break
		}
		var rr dns.RR
		if o, next, ok := bareOPT(raw, off, prevOPT); ok {
			rr, off, prevOPT = o, next, nil
		} else if rr, off, err = dns.UnpackRR(raw, off); err != nil {
			q.Extra = q.Extra[:0]
			return err
		}
		q.Extra = append(q.Extra, rr)
	}
	if opt := q.IsEdns0(); opt != nil {
		q.Rcode |= opt.ExtendedRcode()
	}
	return nil
}

var errShortQuestion = errors.New("transport: question cut short")

// bareOPT decodes the most common additional record of a query, an OPT
// owned by the root with no options, into reuse (or a new record). Anything
// else is left to dns.UnpackRR.
func bareOPT(raw []byte, off int, reuse *dns.OPT) (*dns.OPT, int, bool) {
	const size = 1 + 2 + 2 + 4 + 2 // root name, type, class, TTL, RDLENGTH
	if off+size > len(raw) || raw[off] != 0 ||
		binary.BigEndian.Uint16(raw[off+1:]) != dns.TypeOPT ||
		binary.BigEndian.Uint16(raw[off+9:]) != 0 {
		return nil, off, false
	}
	if reuse == nil {
		reuse = new(dns.OPT)
	}
	*reuse = dns.OPT{Hdr: dns.RR_Header{
		Name:   ".",
		Rrtype: dns.TypeOPT,
		Class:  binary.BigEndian.Uint16(raw[off+3:]),
		Ttl:    binary.BigEndian.Uint32(raw[off+5:]),
	}}
	return reuse, off + size, true
}

// dropIdentifying removes the EDNS options that identify the client: Client
// Subnet (RFC 7871) is a piece of its address, and a client cookie (RFC
// 7873) follows it around. Neither may cross the Handler boundary.
func dropIdentifying(opts []dns.EDNS0) []dns.EDNS0 {
	kept := opts[:0]
	for _, o := range opts {
		switch o.Option() {
		case dns.EDNS0SUBNET, dns.EDNS0COOKIE:
			continue
		}
		kept = append(kept, o)
	}
	clear(opts[len(kept):])
	return kept
}

// metaType reports qtypes that cannot be asked in a QUERY to a resolver
// (RFC 6895 §3.1): OPT, the TKEY/TSIG/MAILA/MAILB meta types, 0 and the
// rest of 128–250. AXFR, IXFR (REFUSED elsewhere) and ANY are let through.
func metaType(t uint16) bool {
	switch {
	case t == 0, t == dns.TypeOPT, t == dns.TypeMAILA, t == dns.TypeMAILB:
		return true
	case t >= 128 && t <= 250:
		return true
	}
	return false
}

// unpackQuestion parses the first question of a message whose full unpack
// failed, so that a FORMERR can still echo it.
func unpackQuestion(raw []byte) (dns.Question, bool) {
	name, off, err := dns.UnpackDomainName(raw, headerSize)
	if err != nil || off+4 > len(raw) {
		return dns.Question{}, false
	}
	return dns.Question{
		Name:   name,
		Qtype:  binary.BigEndian.Uint16(raw[off:]),
		Qclass: binary.BigEndian.Uint16(raw[off+2:]),
	}, true
}
