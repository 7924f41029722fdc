package transport

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/hush-dns/hush/cookie"
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

// padBlock is the RFC 8467 §4.1 block length for responses.
const padBlock = 468

// scratch holds the buffers one response is built in, so that building it
// allocates nothing in the common case. A scratch is used by one goroutine
// at a time.
type scratch struct {
	msg      dns.Msg
	question [1]dns.Question
	extra    []dns.RR
	// edes backs response.edes: a response is handed to build by
	// pointer, which escape analysis cannot tell from its slices, so a
	// list of EDEs built anywhere else would be allocated.
	edes    []dns.EDNS0
	opt     dns.OPT
	ede     dns.EDNS0_EDE
	keep    dns.EDNS0_TCP_KEEPALIVE
	cookie  dns.EDNS0_LOCAL // the server cookie option, raw (no hex)
	cookieB [cookie.ResponseLen]byte
	nsid    dns.EDNS0_NSID
	padding dns.EDNS0_PADDING
	zeros   [padBlock]byte // padding octets: never written
	buf     []byte         // pack buffer; for TCP the first 2 bytes are the length
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
	clear(sc.edes)
	sc.edes = sc.edes[:0]
	clear(sc.opt.Option)
	sc.opt.Option = sc.opt.Option[:0]
	sc.msg = dns.Msg{}
}

// response is what build packs besides the request's echo: the
// handler's part of a response, or the transport's own error.
type response struct {
	rcode             int
	aa, ad            bool
	tc                bool        // truncated: the rate limiter's slip
	answer, ns, extra []dns.RR    // as the handler gave them, never modified
	edes              []dns.EDNS0 // Extended DNS Errors for the OPT record, in sc.edes
}

// build packs r as the response to req into sc.buf (behind a length prefix
// when p is framed), truncating it for UDP. It does not modify the records
// or slices r holds.
func (pl *pipeline) build(sc *scratch, req *request, p proto, r *response) ([]byte, error) {
	defer sc.release()
	if r.rcode < 0 || r.rcode > 0xFFF || (r.rcode > 0xF && !req.edns) {
		return nil, fmt.Errorf("transport: rcode %d cannot be sent", r.rcode)
	}
	m := sc.compose(req, r, pl.keepalive, pl.ident.Load().nsid)
	limit := req.limit(p)
	nan, nns := len(m.Answer), len(m.Ns)
	m.Truncate(limit)
	if m.Truncated {
		trimRRsets(m, r, nan, nns, req.edns)
	}
	if r.tc {
		// The rate limiter's slip: no records, TC set all the same.
		m.Truncated = true
	}
	fill, optAt := 0, 0
	if req.pad && req.edns {
		fill, optAt = sc.pad(m, limit)
	}
	return sc.pack(req, p, r.rcode, limit, fill, optAt)
}

// compose fills sc.msg with the response: the header from req and r, the
// question as the client wrote it, r's sections and, for a client with
// EDNS, our own OPT record with r's EDEs and, when the client sent
// edns-tcp-keepalive over TCP or DoT, keepalive (in units of 100 ms), and
// when it sent the NSID option and hush has one, nsid (hex, RFC 5001).
func (sc *scratch) compose(req *request, r *response, keepalive uint16, nsid string) *dns.Msg {
	m := &sc.msg
	*m = dns.Msg{}
	m.Id = req.id
	m.Response = true
	m.Opcode = req.opcode
	m.RecursionDesired = req.rd
	m.CheckingDisabled = req.cd
	m.RecursionAvailable = true
	m.Rcode = r.rcode
	m.Authoritative = r.aa
	// RFC 6840 §5.8: AD only for a client that showed it understands it.
	m.AuthenticatedData = r.ad && (req.ad || req.do)
	if req.hasQuestion {
		sc.question[0] = req.question
		m.Question = sc.question[:]
	}
	m.Answer, m.Ns = r.answer, r.ns
	sc.extra = appendExtra(sc.extra[:0], r.extra)
	if req.edns {
		sc.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: ednsSize}
		sc.opt.Option = append(sc.opt.Option[:0], r.edes...)
		if req.keepalive {
			sc.keep = dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: keepalive}
			sc.opt.Option = append(sc.opt.Option, &sc.keep)
		}
		if req.sendCookie {
			sc.cookieB = req.respCookie
			sc.cookie = dns.EDNS0_LOCAL{Code: dns.EDNS0COOKIE, Data: sc.cookieB[:]}
			sc.opt.Option = append(sc.opt.Option, &sc.cookie)
		}
		if req.nsid && nsid != "" {
			sc.nsid = dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: nsid}
			sc.opt.Option = append(sc.opt.Option, &sc.nsid)
		}
		sc.opt.SetDo(req.do)
		sc.extra = append(sc.extra, &sc.opt)
	}
	m.Extra = sc.extra
	return m
}

// pack packs sc.msg into sc.buf, adds the fill octets of padding that
// sc.pad planned for the OPT record at optAt, and frames the result when p
// is framed. A message over limit (only a huge EDE text gets there) is
// replaced by minimal's.
func (sc *scratch) pack(req *request, p proto, rcode, limit, fill, optAt int) ([]byte, error) {
	reserve := 0
	if p.framed() {
		reserve = 2
	}
	out, err := sc.msg.PackBuffer(sc.buf[reserve:])
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
// once one record did not fit. r holds the untouched sections as the
// handler gave them; nan and nns are the section lengths before Truncate.
func trimRRsets(m *dns.Msg, r *response, nan, nns int, edns bool) {
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
		m.Answer = r.answer[:wholeRRsets(r.answer, len(m.Answer))]
		m.Ns, m.Extra = nil, onlyOpt()
	case len(m.Ns) < nns:
		m.Ns = r.ns[:wholeRRsets(r.ns, len(m.Ns))]
		m.Extra = onlyOpt()
	default:
		// Only additional records were dropped. Truncate overwrote one
		// slot of our extra slice with the OPT, so start again from the
		// handler's.
		kept := len(m.Extra)
		if opt != nil {
			kept--
		}
		all := appendExtra(nil, r.extra)
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
