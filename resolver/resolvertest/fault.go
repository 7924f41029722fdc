package resolvertest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Fault makes one server address misbehave. The zero Fault is a healthy
// server. Several fields may be set at once; they apply in the order
// Delay, Drop (or DropType), then at most one of NoEDNS (for queries with
// OPT), Refuse, ServFail, Lame, otherwise the normal answer; then
// MinimisationBroken, StripRRSIG, StripNSEC, SpoofGlue, Truncate, WrongID
// and WrongQuestion change that reply.
type Fault struct {
	// Drop: no answer at all. The query blocks until ctx is done and
	// fails with ctx.Err(); a socket sends nothing.
	Drop bool
	// DropType: no answer to queries of this type, as behind firewalls
	// that filter by QTYPE; other queries are answered. DropType NS hangs
	// a resolver's QTYPE NS minimised queries (RFC 9156 §2.3).
	DropType uint16
	// Delay: answer only after this long, or fail with ctx.Err() if ctx
	// is done first.
	Delay time.Duration
	// Truncate: every UDP reply has TC set and empty sections, so the
	// resolver must retry over TCP. TCP is unaffected.
	Truncate bool
	// Lame: a non-authoritative NOERROR reply that refers back up to the
	// root (upward referral), as a misconfigured server does. For NSD's
	// own answer to a zone it does not serve, use Refuse.
	Lame bool
	// Refuse: REFUSED with empty sections.
	Refuse bool
	// ServFail: SERVFAIL with empty sections.
	ServFail bool
	// SpoofGlue adds forged records (SpoofRecords) that are out of the
	// bailiwick of the zone that answered: an NS for plain.example. in
	// authority and A records pointing at SpoofAddr in additional. Those
	// inside the answering zone are left out, so SpoofGlue on a root
	// server adds nothing.
	SpoofGlue bool
	// WrongID: the reply's ID is not the query's.
	WrongID bool
	// NoEDNS: FORMERR without OPT to any query that carries OPT, like a
	// server that predates EDNS. Queries without OPT are answered.
	NoEDNS bool
	// WrongQuestion: the reply's question names another name.
	WrongQuestion bool
	// MinimisationBroken: NXDOMAIN instead of NOERROR/NODATA for an empty
	// non-terminal, the broken servers of RFC 9156 §2.3 that stop a
	// minimising resolver short.
	MinimisationBroken bool
	// StripRRSIG removes every RRSIG from the reply, as a middlebox or
	// a server that ignores DO would: a validator sees a signed zone's
	// data unsigned (Bogus, EDE 10). The signed internet's broken zones
	// bake their flaws into the data instead; this is for the rest.
	StripRRSIG bool
	// StripNSEC removes every NSEC and NSEC3 record, and the RRSIGs that
	// cover them, from the reply: denials and wildcard answers lose their
	// proofs (Bogus, EDE 12).
	StripNSEC bool
}

// SpoofAddr returns where SpoofGlue's forged A records point, 127.53.66.6.
// Nothing serves it, so a resolver that believed them sees its queries
// there fail, and Queries(SpoofAddr()) shows that it tried.
func SpoofAddr() netip.Addr { return netip.AddrFrom4([4]byte{127, 53, 66, 6}) }

// SpoofRecords returns the forged records SpoofGlue may add: the first is
// the authority NS, the rest are additional A records.
func SpoofRecords() []dns.RR {
	var out []dns.RR
	for _, s := range []string{
		"plain.example. 86400 IN NS ns.spoof.hush.",
		"ns.spoof.hush. 86400 IN A " + SpoofAddr().String(),
		"a.root.hush. 86400 IN A " + SpoofAddr().String(),
		"www.plain.example. 86400 IN A " + SpoofAddr().String(),
	} {
		out = append(out, dns.Copy(mustRR(s)))
	}
	return out
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(fmt.Sprintf("resolvertest: bad built-in record %q: %v", s, err))
	}
	return rr
}

// SetFault sets addr's fault, replacing any earlier one. A zero Fault
// clears it. Faults on an address that serves nothing make it answer
// (Refuse, ServFail, Lame) or hang (Drop) instead of refusing the
// connection.
func (n *Network) SetFault(addr netip.Addr, f Fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f == (Fault{}) {
		delete(n.faults, addr.Unmap())
		return
	}
	n.faults[addr.Unmap()] = f
}

// ClearFaults makes every server healthy again.
func (n *Network) ClearFaults() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = map[netip.Addr]Fault{}
}

func (n *Network) fault(addr netip.Addr) Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults[addr]
}

// ednsSize is what hush's simulated servers advertise and the most they
// send over UDP, as NSD's default ipv4-edns-size.
const ednsSize = 1232

// respond is one server receiving one query in wire format: it returns the
// reply in wire format, nil for no reply at all, or an error when the
// exchange fails (nothing listening, ctx done while dropped or delayed).
// Exchange and the sockets of Serve share it.
func (n *Network) respond(ctx context.Context, proto string, server netip.AddrPort, wire []byte) ([]byte, error) {
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		return formErr(wire), nil
	}
	n.record(proto, server, q)
	addr := server.Addr()
	f := n.fault(addr)
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("resolvertest: %s %s: delayed: %w", proto, server, ctx.Err())
		}
	}
	if f.Drop || f.DropType != 0 && len(q.Question) == 1 && q.Question[0].Qtype == f.DropType {
		<-ctx.Done()
		return nil, fmt.Errorf("resolvertest: %s %s: dropped: %w", proto, server, ctx.Err())
	}
	srv := n.servers[addr]
	if srv == nil && !f.Refuse && !f.ServFail && !f.Lame {
		return nil, errConnRefused(proto, server)
	}
	var (
		m       *dns.Msg
		z       *zone
		notAuth bool
	)
	switch {
	case f.NoEDNS && q.IsEdns0() != nil:
		m = header(q, dns.RcodeFormatError)
		return pack(q, m, proto, f, false, false)
	case f.Refuse:
		m = header(q, dns.RcodeRefused)
	case f.ServFail:
		m = header(q, dns.RcodeServerFailure)
	case f.Lame:
		m = header(q, dns.RcodeSuccess)
		for _, rr := range n.hints {
			if rr.Header().Rrtype == dns.TypeNS {
				m.Ns = append(m.Ns, dns.Copy(rr))
			} else {
				m.Extra = append(m.Extra, dns.Copy(rr))
			}
		}
	default:
		m, z = srv.answer(q)
		if m == nil {
			return nil, nil
		}
		if m.Rcode == dns.RcodeFormatError || len(q.Question) != 1 {
			break
		}
		qq := q.Question[0] // answer checked there is one unless FORMERR
		notAuth = z == nil && m.Rcode == dns.RcodeRefused && qq.Qclass == dns.ClassINET &&
			qq.Qtype != dns.TypeAXFR && qq.Qtype != dns.TypeIXFR
		if f.MinimisationBroken && m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0 && m.Authoritative &&
			srv.isENT(dns.CanonicalName(q.Question[0].Name), q.Question[0].Qtype) {
			m.Rcode = dns.RcodeNameError
		}
	}
	if f.StripRRSIG || f.StripNSEC {
		strip(m, f)
	}
	if f.SpoofGlue {
		for i, rr := range SpoofRecords() {
			if z != nil && within(z.origin, dns.CanonicalName(rr.Header().Name)) {
				continue
			}
			if i == 0 {
				m.Ns = append(m.Ns, rr)
			} else {
				m.Extra = append(m.Extra, rr)
			}
		}
	}
	return pack(q, m, proto, f, q.IsEdns0() != nil, notAuth)
}

// strip applies StripRRSIG and StripNSEC to every section of m.
func strip(m *dns.Msg, f Fault) {
	drop := func(rr dns.RR) bool {
		switch r := rr.(type) {
		case *dns.RRSIG:
			return f.StripRRSIG || f.StripNSEC && (r.TypeCovered == dns.TypeNSEC || r.TypeCovered == dns.TypeNSEC3)
		case *dns.NSEC, *dns.NSEC3:
			return f.StripNSEC
		}
		return false
	}
	for _, sec := range []*[]dns.RR{&m.Answer, &m.Ns, &m.Extra} {
		*sec = slices.DeleteFunc(*sec, drop)
	}
}

// header starts a reply to q with rcode and nothing else.
func header(q *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.Id = q.Id
	m.Response = true
	m.Opcode = q.Opcode
	m.RecursionDesired = q.RecursionDesired
	m.Question = append([]dns.Question(nil), q.Question...)
	m.Rcode = rcode
	return m
}

// pack adds OPT when the query had one, applies the reply-shaping faults
// and UDP truncation, and packs m.
func pack(q, m *dns.Msg, proto string, f Fault, edns, notAuth bool) ([]byte, error) {
	var opt *dns.OPT
	if edns {
		opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(ednsSize)
		opt.SetDo(q.IsEdns0().Do())
		if notAuth {
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNotAuthoritative})
		}
		m.Extra = append(m.Extra, opt)
	}
	if f.WrongID {
		m.Id = q.Id + 1
	}
	if f.WrongQuestion && len(m.Question) > 0 {
		m.Question[0].Name = "wrong-question.test."
	}
	m.Compress = true
	out, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("resolvertest: pack reply: %w", err)
	}
	if proto == "udp" && (f.Truncate || len(out) > udpLimit(q)) {
		m.Truncated = true
		m.Answer, m.Ns, m.Extra = nil, nil, nil
		if opt != nil {
			m.Extra = []dns.RR{opt}
		}
		if out, err = m.Pack(); err != nil {
			return nil, fmt.Errorf("resolvertest: pack truncated reply: %w", err)
		}
	}
	return out, nil
}

// udpLimit is the largest UDP reply q allows: 512 octets without EDNS,
// else its advertised size (at least 512) capped at ednsSize.
func udpLimit(q *dns.Msg) int {
	opt := q.IsEdns0()
	if opt == nil {
		return dns.MinMsgSize
	}
	return min(max(int(opt.UDPSize()), dns.MinMsgSize), ednsSize)
}

// formErr answers a message that does not parse: FORMERR with the
// query's ID and opcode when a header can be read and it is not itself a
// response, otherwise nothing.
func formErr(wire []byte) []byte {
	if len(wire) < 12 || wire[2]&0x80 != 0 {
		return nil
	}
	out := make([]byte, 12)
	copy(out, wire[:2])
	out[2] = 0x80 | wire[2]&0x78 // QR, opcode
	out[3] = dns.RcodeFormatError
	return out
}
