package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Response size limits.
const (
	// udpMinSize is the UDP limit without EDNS (RFC 1035 §4.2.1) and the
	// floor for advertised sizes (RFC 6891 §6.2.3).
	udpMinSize = 512
	// ednsSize is the UDP payload size we advertise and the most we
	// send over UDP, whatever the client offers (DNS Flag Day 2020:
	// no IP fragmentation).
	ednsSize = 1232
	// tcpMaxSize is the most a 2-octet length prefix can frame.
	tcpMaxSize = 65535
	// headerSize is a DNS header's length.
	headerSize = 12
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

// EDE codes the transport itself sends (RFC 8914 §4).
const (
	edeNotSupported = 21
	edeProhibited   = 18
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

// padBlock is the RFC 8467 §4.1 block length for responses.
const padBlock = 468

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
	question    dns.Question // as the client wrote it: case kept (RFC 0x20)
	edns        bool         // the query had an OPT record
	do          bool         // ...with the DO bit
	udpSize     uint16       // ...advertising this payload size
	pad         bool         // ...with a Padding option, over an encrypted proto
	keepalive   bool         // ...with edns-tcp-keepalive, over a stream proto
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

// scratch holds the buffers one response is built in, so that building it
// allocates nothing in the common case. A scratch is used by one goroutine
// at a time.
type scratch struct {
	msg      dns.Msg
	question [1]dns.Question
	extra    []dns.RR
	opt      dns.OPT
	ede      dns.EDNS0_EDE
	keep     dns.EDNS0_TCP_KEEPALIVE
	padding  dns.EDNS0_PADDING
	zeros    [padBlock]byte // padding octets: never written
	buf      []byte         // pack buffer; for TCP the first 2 bytes are the length
}

// scratchBufSize fits the uncompressed form (which PackBuffer sizes its
// buffer by) of nearly every response; a larger one makes PackBuffer
// allocate, and the scratch keeps the bigger buffer.
const scratchBufSize = 4096

func newScratch() *scratch { return &scratch{buf: make([]byte, scratchBufSize)} }

// release drops the references a scratch holds into a handler's response,
// so that a pooled scratch keeps nothing alive.
func (sc *scratch) release() {
	clear(sc.extra)
	sc.extra = sc.extra[:0]
	clear(sc.opt.Option)
	sc.opt.Option = sc.opt.Option[:0]
	sc.msg = dns.Msg{}
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
// CacheAnswerer, if the handler is one.
//
// q receives the unpacked query and req what the response needs. For
// actReply the returned slice is the response, in sc.buf or freshly
// allocated; it is valid until sc is used again.
func (c *Config) prepare(sc *scratch, raw []byte, q *dns.Msg, req *request, p proto, allowed bool) ([]byte, action) {
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
	if rcode != dns.RcodeSuccess {
		if qd == 1 {
			req.question, req.hasQuestion = unpackQuestion(raw)
		}
		return c.reply(sc, req, p, rcode, 0), actReply
	}
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
	if opt != nil {
		req.edns, req.do, req.udpSize = true, opt.Do(), opt.UDPSize()
		opt.Option = dropIdentifying(opt.Option)
		for _, o := range opt.Option {
			switch o.Option() {
			case dns.EDNS0PADDING:
				// RFC 7830 §4: pad only where it hides something.
				req.pad = p.encrypted()
			case dns.EDNS0TCPKEEPALIVE:
				// RFC 7828 §3.3: ignored over UDP, never echoed there.
				req.keepalive = p.keepalive()
			}
		}
	}
	if len(q.Question) != 1 {
		// QDCOUNT said one, but the message ended after the header.
		return c.reply(sc, req, p, dns.RcodeFormatError, 0), actReply
	}
	req.question, req.hasQuestion = q.Question[0], true

	ede := uint16(0)
	switch qt := req.question.Qtype; {
	case !allowed:
		rcode, ede = dns.RcodeRefused, edeProhibited
	case nopt > 1, metaType(qt):
		rcode = dns.RcodeFormatError
	case opt != nil && opt.Version() != 0:
		rcode = dns.RcodeBadVers
	case req.question.Qclass != dns.ClassINET, qt == dns.TypeAXFR, qt == dns.TypeIXFR:
		// A resolver has no zones to transfer and answers only for IN;
		// CHAOS (version.bind and friends) would only help fingerprinting.
		rcode, ede = dns.RcodeRefused, edeNotSupported
	}
	if rcode != dns.RcodeSuccess {
		return c.reply(sc, req, p, rcode, ede), actReply
	}
	if c.cache != nil {
		if resp, ok := c.answerCached(q); ok {
			return c.answer(sc, req, p, resp, nil), actReply
		}
	}
	return nil, actHandle
}

// answerCached calls the fast path. A panic there counts as a miss (and is
// reported), so the query still gets ServeDNS's answer.
func (c *Config) answerCached(q *dns.Msg) (resp *dns.Msg, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			resp, ok = nil, false
			c.report(fmt.Errorf("transport: AnswerCached panicked:\n%s", debug.Stack()))
		}
	}()
	return c.cache.AnswerCached(q)
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

// serve calls the handler. A panic becomes an error, so that one bad query
// costs a SERVFAIL rather than the process.
func (c *Config) serve(ctx context.Context, q *dns.Msg) (resp *dns.Msg, err error) {
	defer func() {
		if v := recover(); v != nil {
			// The panic value may quote the query; only the stack goes out.
			resp, err = nil, fmt.Errorf("transport: handler panicked:\n%s", debug.Stack())
			c.report(err)
		}
	}()
	return c.Handler.ServeDNS(ctx, q)
}

// report hands a handler bug to ErrorLog, if any.
func (c *Config) report(err error) {
	if c.ErrorLog != nil {
		c.ErrorLog(err)
	}
}

// finish asks the handler and builds the response.
func (c *Config) finish(ctx context.Context, sc *scratch, q *dns.Msg, req *request, p proto) []byte {
	resp, err := c.serve(ctx, q)
	return c.answer(sc, req, p, resp, err)
}

// respond is the whole request path for one message: raw is a query as
// read from the network, the result the response to send, if any. The
// listeners run the same steps split over goroutines (prepare inline,
// finish in a goroutine); respond exists for fuzzing and benchmarks.
func (c *Config) respond(ctx context.Context, sc *scratch, raw []byte, p proto, allowed bool) ([]byte, bool) {
	var q dns.Msg
	var req request
	out, act := c.prepare(sc, raw, &q, &req, p, allowed)
	switch act {
	case actDrop:
		return nil, false
	case actHandle:
		out = c.finish(ctx, sc, &q, &req, p)
	}
	return out, out != nil
}

// reply builds a response with no sections: an error the transport decided
// on, with an optional EDE code (0 means none; EDE 0 "Other" is never sent
// from here).
func (c *Config) reply(sc *scratch, req *request, p proto, rcode int, ede uint16) []byte {
	var edes []dns.EDNS0
	if ede != 0 && req.edns {
		sc.ede = dns.EDNS0_EDE{InfoCode: ede}
		edes = []dns.EDNS0{&sc.ede}
	}
	out, err := c.build(sc, req, p, rcode, false, false, nil, nil, nil, edes)
	if err != nil {
		// Cannot happen without handler data; keep the promise of an answer.
		return minimal(req, p, dns.RcodeServerFailure)
	}
	return out
}

// answer turns a handler's result into the response.
func (c *Config) answer(sc *scratch, req *request, p proto, resp *dns.Msg, herr error) []byte {
	if herr != nil || resp == nil {
		var edes []dns.EDNS0
		var xe ExtendedError
		if req.edns && errors.As(herr, &xe) {
			code, text := xe.ExtendedDNSError()
			sc.ede = dns.EDNS0_EDE{InfoCode: code, ExtraText: text}
			edes = []dns.EDNS0{&sc.ede}
		}
		out, err := c.build(sc, req, p, dns.RcodeServerFailure, false, false, nil, nil, nil, edes)
		if err != nil {
			return minimal(req, p, dns.RcodeServerFailure)
		}
		return out
	}
	var edes []dns.EDNS0
	if req.edns {
		if opt := resp.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					edes = append(edes, e)
				}
			}
		}
	}
	out, err := c.build(sc, req, p, resp.Rcode, resp.Authoritative, resp.AuthenticatedData,
		resp.Answer, resp.Ns, resp.Extra, edes)
	if err != nil {
		// The handler returned something that does not pack (a nil
		// record, a name that is not fully qualified, an extended rcode
		// for a client without EDNS): a handler bug, so tell ErrorLog.
		c.report(fmt.Errorf("transport: packing handler response: %w", err))
		out, err = c.build(sc, req, p, dns.RcodeServerFailure, false, false, nil, nil, nil, nil)
		if err != nil {
			return minimal(req, p, dns.RcodeServerFailure)
		}
	}
	return out
}

// build packs a response into sc.buf (behind a length prefix for TCP),
// truncating it for UDP. It does not modify the records or slices it is
// given.
func (c *Config) build(sc *scratch, req *request, p proto, rcode int, aa, ad bool, answer, ns, extra []dns.RR, edes []dns.EDNS0) ([]byte, error) {
	defer sc.release()
	if rcode < 0 || rcode > 0xFFF || (rcode > 0xF && !req.edns) {
		return nil, fmt.Errorf("transport: rcode %d cannot be sent", rcode)
	}
	m := &sc.msg
	*m = dns.Msg{}
	m.Id = req.id
	m.Response = true
	m.Opcode = req.opcode
	m.RecursionDesired = req.rd
	m.CheckingDisabled = req.cd
	m.RecursionAvailable = true
	m.Rcode = rcode
	m.Authoritative = aa
	// RFC 6840 §5.8: AD only for a client that showed it understands it.
	m.AuthenticatedData = ad && (req.ad || req.do)
	if req.hasQuestion {
		sc.question[0] = req.question
		m.Question = sc.question[:]
	}
	m.Answer, m.Ns = answer, ns
	sc.extra = appendExtra(sc.extra[:0], extra)
	if req.edns {
		sc.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: ednsSize}
		sc.opt.Option = append(sc.opt.Option[:0], edes...)
		if req.keepalive {
			sc.keep = dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: keepaliveUnits(c.TCPIdleTimeout)}
			sc.opt.Option = append(sc.opt.Option, &sc.keep)
		}
		sc.opt.SetDo(req.do)
		sc.extra = append(sc.extra, &sc.opt)
	}
	m.Extra = sc.extra

	limit := req.limit(p)
	nan, nns := len(m.Answer), len(m.Ns)
	m.Truncate(limit)
	if m.Truncated {
		trimRRsets(m, answer, ns, extra, nan, nns, req.edns)
	}
	fill, optAt := 0, 0
	if req.pad && req.edns {
		fill, optAt = sc.pad(m, limit)
	}

	reserve := 0
	if p.framed() {
		reserve = 2
	}
	out, err := m.PackBuffer(sc.buf[reserve:])
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		// Only an OPT larger than the limit gets here (a huge EDE text).
		return minimal(req, p, rcode), nil
	}
	if fill > 0 && packedAsPlanned(out, optAt) {
		out = padPacked(out, sc.zeros[:fill], optAt)
	}
	if reserve == 0 {
		if len(out) > 0 && cap(out) > len(sc.buf) && cap(out) <= tcpMaxSize+2 {
			sc.buf = out[:cap(out)] // grown by PackBuffer: keep it
		}
		return out, nil
	}
	if &out[0] != &sc.buf[reserve] {
		// PackBuffer had to allocate; frame a copy.
		framed := make([]byte, 2+len(out), 2+max(len(out), cap(out)))
		copy(framed[2:], out)
		sc.buf = framed[:cap(framed)]
		out = sc.buf[2 : 2+len(out)]
	}
	binary.BigEndian.PutUint16(sc.buf, uint16(len(out)))
	return sc.buf[:2+len(out)], nil
}

// pad adds an empty Padding option to m's OPT record (the last additional
// record, so the option ends the packed message) and returns how many zero
// octets padPacked must add to bring the message to a multiple of padBlock
// octets, option included (RFC 8467 §4.1), and where the OPT record starts.
// The octets are added after packing because miekg/dns copies an option's
// data when it packs it: 468 bytes of garbage per response otherwise. A
// message that cannot be padded within limit goes out unpadded (fill 0):
// its size is then near the limit, which tells an observer little more
// than a padded size would.
func (sc *scratch) pad(m *dns.Msg, limit int) (fill, optAt int) {
	sc.padding.Padding = nil
	sc.opt.Option = append(sc.opt.Option, &sc.padding)
	n := m.Len() // with the empty option: its 4-octet header counted
	fill = (padBlock - n%padBlock) % padBlock
	if fill == 0 {
		return 0, 0
	}
	if n+fill > limit {
		sc.opt.Option = sc.opt.Option[:len(sc.opt.Option)-1]
		return 0, 0
	}
	// Uncompressed (m.Compress is false), the OPT record starts where the
	// message without it ends.
	m.Extra = m.Extra[:len(m.Extra)-1]
	optAt = m.Len()
	m.Extra = m.Extra[:len(m.Extra)+1]
	return fill, optAt
}

// packedAsPlanned checks what padPacked relies on, so that a miscount
// (miekg/dns's Len disagreeing with Pack) costs the padding, never a
// corrupt message: an OPT record at optAt, an empty Padding option last.
func packedAsPlanned(out []byte, optAt int) bool {
	n := len(out)
	return optAt+11 <= n-4 && out[optAt] == 0 &&
		binary.BigEndian.Uint16(out[optAt+1:]) == dns.TypeOPT &&
		int(binary.BigEndian.Uint16(out[optAt+9:])) == n-optAt-11 &&
		binary.BigEndian.Uint16(out[n-4:]) == dns.EDNS0PADDING &&
		binary.BigEndian.Uint16(out[n-2:]) == 0
}

// padPacked appends zeros to out, a packed message whose last octets are an
// empty Padding option in the OPT record at optAt, and grows that option's
// length and the record's RDLENGTH to match.
func padPacked(out, zeros []byte, optAt int) []byte {
	out = append(out, zeros...)
	binary.BigEndian.PutUint16(out[len(out)-len(zeros)-2:], uint16(len(zeros)))
	rdlen := out[optAt+1+2+2+4:] // after root name, type, class, TTL
	binary.BigEndian.PutUint16(rdlen, binary.BigEndian.Uint16(rdlen)+uint16(len(zeros)))
	return out
}

// keepaliveUnits converts an idle timeout to edns-tcp-keepalive's units of
// 100 ms (RFC 7828 §3.1), rounding down so that clients never count on more
// than we keep, saturating at the field's maximum, and never 0: that value
// asks the client to close (RFC 7828 §3.3.2), and miekg/dns would send it
// as an option with no timeout at all.
func keepaliveUnits(d time.Duration) uint16 {
	return uint16(max(1, min(d/(100*time.Millisecond), 0xFFFF)))
}

// appendExtra appends the handler's additional records, except OPT (we
// build our own) and TSIG (we sign nothing, and miekg/dns does not
// truncate a message that has one).
func appendExtra(dst, extra []dns.RR) []dns.RR {
	for _, rr := range extra {
		if rr != nil {
			if t := rr.Header().Rrtype; t == dns.TypeOPT || t == dns.TypeTSIG {
				continue
			}
		}
		dst = append(dst, rr)
	}
	return dst
}

// trimRRsets refines what (*dns.Msg).Truncate kept: it keeps whole RRsets
// only, and it sets TC only when the answer or authority section lost
// records (RFC 2181 §9: additional data is optional). Records cut from the
// answer drop the authority and additional sections too, as Truncate does
// once one record did not fit. answer, ns and extra are the untouched
// sections as the handler gave them; nan and nns the section lengths before
// Truncate.
func trimRRsets(m *dns.Msg, answer, ns, extra []dns.RR, nan, nns int, edns bool) {
	var opt dns.RR
	if edns {
		opt = m.Extra[len(m.Extra)-1]
	}
	onlyOpt := func() []dns.RR {
		if opt == nil {
			return nil
		}
		return []dns.RR{opt}
	}
	switch {
	case len(m.Answer) < nan:
		m.Answer = answer[:wholeRRsets(answer, len(m.Answer))]
		m.Ns, m.Extra = nil, onlyOpt()
	case len(m.Ns) < nns:
		m.Ns = ns[:wholeRRsets(ns, len(m.Ns))]
		m.Extra = onlyOpt()
	default:
		// Only additional records were dropped. Truncate overwrote one
		// slot of our extra slice with the OPT, so start again from the
		// handler's.
		kept := len(m.Extra)
		if opt != nil {
			kept--
		}
		all := appendExtra(nil, extra)
		m.Extra = append(all[:wholeRRsets(all, kept)], onlyOpt()...)
		m.Truncated = false
	}
}

// wholeRRsets returns how many of rrs to keep so that the first n are not
// cut inside an RRset: it backs off over the records that share an RRset
// with rrs[n], the first one dropped. RRsets are assumed contiguous.
func wholeRRsets(rrs []dns.RR, n int) int {
	if n >= len(rrs) {
		return n
	}
	cut := rrs[n]
	for n > 0 && sameRRset(rrs[n-1], cut) {
		n--
	}
	return n
}

// sameRRset reports whether a and b belong to one RRset (RFC 2181 §5);
// signatures form one set per type covered.
func sameRRset(a, b dns.RR) bool {
	if a == nil || b == nil {
		return false
	}
	ha, hb := a.Header(), b.Header()
	if ha.Rrtype != hb.Rrtype || ha.Class != hb.Class || !strings.EqualFold(ha.Name, hb.Name) {
		return false
	}
	if sa, ok := a.(*dns.RRSIG); ok {
		sb, ok := b.(*dns.RRSIG)
		return ok && sa.TypeCovered == sb.TypeCovered
	}
	return true
}

// minimal is the last resort: a bare header (and OPT) with rcode, TC set
// for UDP because something did not fit. It allocates; it is never on a
// normal path.
func minimal(req *request, p proto, rcode int) []byte {
	m := &dns.Msg{}
	m.Id = req.id
	m.Response = true
	m.Opcode = req.opcode
	m.RecursionDesired = req.rd
	m.CheckingDisabled = req.cd
	m.RecursionAvailable = true
	m.Rcode = rcode
	m.Truncated = p == protoUDP
	if req.hasQuestion {
		m.Question = []dns.Question{req.question}
	}
	if req.edns {
		m.SetEdns0(ednsSize, req.do)
	} else if rcode > 0xF {
		m.Rcode = dns.RcodeServerFailure
	}
	out, err := m.Pack()
	if err != nil || len(out) > req.limit(p) {
		// A question that does not pack or fit: header only.
		m.Question = nil
		if out, err = m.Pack(); err != nil {
			return nil
		}
	}
	if p.framed() {
		framed := make([]byte, 2+len(out))
		binary.BigEndian.PutUint16(framed, uint16(len(out)))
		copy(framed[2:], out)
		return framed
	}
	return out
}
