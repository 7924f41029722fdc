package resolvertest

import (
	"strings"

	"github.com/miekg/dns"
)

// The answering engine: what one authoritative server address says to one
// query. It follows RFC 1034 §4.3.2 the way NSD 4 does with
// "minimal-responses: yes" (so that the same tests pass against a real NSD
// serving the same files):
//
//   - the most specific served zone that encloses the query name answers;
//     none → REFUSED with empty sections (and EDE 20 when EDNS is on);
//   - at or below a delegation cut → referral: the cut's NS in authority,
//     A then AAAA glue for the NS names inside the zone in additional,
//     AA clear. A DS query at the cut is answered by the parent side;
//   - positive answers carry no NS in authority and no additional data,
//     except the addresses of the names in an NS answer;
//   - a CNAME is followed through every zone this server serves (NSD does
//     the same); a target elsewhere is left to the resolver. A CNAME that
//     has already been added stops the chain (loops end quietly, NOERROR);
//   - a DNAME above the query name adds itself and a synthesised CNAME
//     (RFC 6672 §3.1, TTL of the DNAME) and is followed like a CNAME;
//     a synthesised name longer than 255 octets is YXDOMAIN;
//   - wildcards per RFC 4592: only at the closest encloser, never through
//     an existing name or an empty non-terminal;
//   - NODATA and NXDOMAIN carry the zone's SOA in authority with TTL
//     min(SOA TTL, SOA MINIMUM) (RFC 2308 §3), also at the end of a chain;
//   - ANY returns every RRset at the name (RFC 1034). NSD 4.6 instead
//     returns one RRset (RFC 8482); tests should not depend on either;
//   - with DO set, a signed zone adds RRSIGs, DS and NSEC/NSEC3 proofs
//     as NSD does: see authsec.go.
//
// The engine neither adds OPT nor truncates: see finish.

// maxChain bounds CNAME/DNAME links followed inside one server. Loop
// detection ends real loops earlier; this only caps pathological zones.
const maxChain = 16

// server is what one address serves.
type server struct {
	zones map[string]*zone // by origin
}

// zoneFor returns the most specific served zone enclosing name, or nil.
// A DS query at a served apex goes to the served parent, if any (RFC 4035
// §3.1.4.1).
func (s *server) zoneFor(name string, qtype uint16) *zone {
	for n := name; n != ""; n = parent(n) {
		z := s.zones[n]
		if z == nil {
			continue
		}
		if qtype == dns.TypeDS && n == name && n != "." {
			for p := parent(n); p != ""; p = parent(p) {
				if pz := s.zones[p]; pz != nil {
					return pz
				}
			}
		}
		return z
	}
	return nil
}

// isENT reports whether name is an empty non-terminal of the zone that
// would answer it. The MinimisationBroken fault uses it.
func (s *server) isENT(name string, qtype uint16) bool {
	z := s.zoneFor(name, qtype)
	return z != nil && z.exists[name] && z.nodes[name] == nil
}

// build is the state of one reply under construction.
type build struct {
	s     *server
	m     *dns.Msg
	zone  *zone // the zone that answered the question itself
	added map[rrKey]bool
	links int
	do    bool // the query set DO: DNSSEC records for signed zones
}

type rrKey struct {
	owner string
	rtype uint16
}

// answer returns the reply to q from the zones of s, without OPT and
// without truncation. It returns nil when a real server would send
// nothing (a message that is itself a response).
func (s *server) answer(q *dns.Msg) (*dns.Msg, *zone) {
	if q.Response {
		return nil, nil // NSD drops these on the floor
	}
	m := new(dns.Msg)
	m.Id = q.Id
	m.Response = true
	m.Opcode = q.Opcode
	m.RecursionDesired = q.RecursionDesired
	m.Question = append([]dns.Question(nil), q.Question...)
	switch {
	case len(q.Question) != 1 || q.Truncated || len(q.Answer) != 0 || len(q.Ns) != 0 || countOPT(q) > 1:
		m.RecursionDesired = false
		m.Rcode = dns.RcodeFormatError
		return m, nil
	case q.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
		return m, nil
	}
	if opt := q.IsEdns0(); opt != nil && opt.Version() != 0 {
		m.Rcode = dns.RcodeBadVers
		return m, nil
	}
	qq := q.Question[0]
	switch {
	case qq.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
		return m, nil
	case qq.Qtype == dns.TypeAXFR || qq.Qtype == dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused
		return m, nil
	}
	name := dns.CanonicalName(qq.Name)
	b := &build{s: s, m: m, added: map[rrKey]bool{}}
	if opt := q.IsEdns0(); opt != nil {
		b.do = opt.Do()
	}
	b.zone = s.zoneFor(name, qq.Qtype)
	if b.zone == nil {
		m.Rcode = dns.RcodeRefused
		return m, nil
	}
	m.Authoritative = true
	b.lookup(b.zone, name, qq.Name, qq.Qtype, true)
	return m, b.zone
}

func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// lookup answers name (lowercased; spelled as owner in the reply) from
// zone z and follows CNAME/DNAME within the served zones.
func (b *build) lookup(z *zone, name, owner string, qtype uint16, first bool) {
	// Walk down from the apex: the first cut or DNAME above (or, for a
	// cut, at) the name decides, as RFC 1034 §4.3.2 step 3b does.
	idx := dns.Split(name)
	below := len(idx) - dns.CountLabel(z.origin)
	for i := 0; i <= below; i++ {
		a := z.origin
		if i > 0 {
			a = name[idx[below-i]:]
		}
		n := z.nodes[a]
		if n == nil {
			continue
		}
		if a != z.origin && n.rrset(dns.TypeNS) != nil && (a != name || qtype != dns.TypeDS) {
			b.referral(z, a, first)
			return
		}
		if a != name && n.rrset(dns.TypeDNAME) != nil {
			b.dname(z, a, name, owner, qtype)
			return
		}
	}
	if n := z.nodes[name]; n != nil && !onlyNSEC3(n) {
		b.node(z, n, name, owner, qtype, false)
		return
	}
	if z.exists[name] && z.nodes[name] == nil {
		b.negative(z, dns.RcodeSuccess) // empty non-terminal
		b.nodataProof(z, name, qtype, false)
		return
	}
	ce := parent(name)
	for !z.exists[ce] {
		ce = parent(ce)
	}
	if w := z.nodes["*."+ce]; w != nil && ce != "" {
		b.wildcardProof(z, name, ce)
		b.node(z, w, "*."+ce, owner, qtype, true) // RFC 4592 §3.3.1 synthesis
		return
	}
	b.negative(z, dns.RcodeNameError)
	b.nxProof(z, name, ce)
}

// node answers from the RRsets of one owner (an exact or, when wildcard,
// a wildcard match); name is the owner in the zone.
func (b *build) node(z *zone, n *node, name, owner string, qtype uint16, wildcard bool) {
	switch {
	case qtype == dns.TypeANY:
		for _, t := range n.order {
			b.add(&b.m.Answer, n.sets[t], owner)
		}
	case n.rrset(qtype) != nil:
		b.addSet(z, &b.m.Answer, name, qtype, owner)
		if qtype == dns.TypeNS {
			b.glue(z, n.rrset(dns.TypeNS))
		}
	case n.rrset(dns.TypeCNAME) != nil:
		cname := n.rrset(dns.TypeCNAME)
		if !b.addSet(z, &b.m.Answer, name, dns.TypeCNAME, owner) {
			return // already in the answer: a loop
		}
		b.follow(cname[0].(*dns.CNAME).Target, qtype)
	default:
		b.negative(z, dns.RcodeSuccess)
		b.nodataProof(z, name, qtype, wildcard)
	}
}

// dname handles a DNAME at owner src above name (RFC 6672 §3.1).
func (b *build) dname(z *zone, src, name, owner string, qtype uint16) {
	d := z.nodes[src].rrset(dns.TypeDNAME)
	if !b.addSet(z, &b.m.Answer, src, dns.TypeDNAME, "") {
		return
	}
	dn := d[0].(*dns.DNAME)
	spelled := owner
	if len(spelled) != len(name) {
		spelled = name
	}
	prefix := spelled[:len(spelled)-len(src)]
	if src == "." {
		prefix = spelled
	}
	target := prefix + dn.Target
	if dn.Target == "." {
		target = prefix
	}
	if !validLength(target) {
		b.m.Rcode = dns.RcodeYXDomain
		return
	}
	c := &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dn.Hdr.Ttl}, Target: target}
	b.m.Answer = append(b.m.Answer, c)
	b.added[rrKey{name, dns.TypeCNAME}] = true
	b.follow(target, qtype)
}

// validLength reports whether a presentation-format name packs to at most
// 255 octets.
func validLength(name string) bool {
	buf := make([]byte, 256)
	_, err := dns.PackDomainName(name, buf, 0, nil, false)
	return err == nil
}

// follow continues a chain at target if this server serves it.
func (b *build) follow(target string, qtype uint16) {
	b.links++
	if b.links > maxChain {
		return
	}
	lt := dns.CanonicalName(target)
	z := b.s.zoneFor(lt, qtype)
	if z == nil {
		return // out of our zones: the resolver follows it
	}
	b.lookup(z, lt, target, qtype, false)
}

// referral adds the NS RRset at cut and its in-zone glue. After a CNAME
// the reply stays authoritative for the part already answered.
func (b *build) referral(z *zone, cut string, first bool) {
	if first {
		b.m.Authoritative = false
	}
	ns := z.nodes[cut].rrset(dns.TypeNS)
	b.add(&b.m.Ns, ns, "")
	b.referralProof(z, cut)
	b.glue(z, ns)
}

// glue adds the A, then the AAAA, records that zone z holds for the
// targets of ns, glue below cuts included (NSD's allow_glue for NS).
func (b *build) glue(z *zone, ns []dns.RR) {
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range ns {
			target := dns.CanonicalName(rr.(*dns.NS).Ns)
			if !within(z.origin, target) {
				continue
			}
			b.addSet(z, &b.m.Extra, target, t, "")
		}
	}
}

// negative sets rcode and adds the SOA for the negative TTL.
func (b *build) negative(z *zone, rcode int) {
	b.m.Rcode = rcode
	soa := dns.Copy(z.soa).(*dns.SOA)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	b.m.Ns = append(b.m.Ns, soa)
	// NSD gives the SOA's RRSIGs the negative TTL too.
	before := len(b.m.Ns)
	b.addSigs(z, &b.m.Ns, z.origin, dns.TypeSOA, "")
	for _, rr := range b.m.Ns[before:] {
		rr.Header().Ttl = soa.Hdr.Ttl
	}
}

// add appends copies of rrs to sec, renaming them to owner when owner is
// not empty. It returns false, adding nothing, when this owner's RRset of
// this type is already in the reply.
func (b *build) add(sec *[]dns.RR, rrs []dns.RR, owner string) bool {
	if len(rrs) == 0 {
		return false
	}
	name := owner
	if name == "" {
		name = rrs[0].Header().Name
	}
	k := rrKey{strings.ToLower(name), rrs[0].Header().Rrtype}
	if sec == &b.m.Extra {
		k.owner = "additional:" + k.owner
	} else if sec == &b.m.Ns {
		k.owner = "authority:" + k.owner
	}
	if b.added[k] {
		return false
	}
	b.added[k] = true
	for _, rr := range rrs {
		c := dns.Copy(rr)
		if owner != "" {
			c.Header().Name = owner
		}
		*sec = append(*sec, c)
	}
	return true
}
