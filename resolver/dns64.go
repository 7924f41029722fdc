package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// DNS64WellKnown is the well-known prefix of RFC 6052 §2.1.
var DNS64WellKnown = netip.MustParsePrefix("64:ff9b::/96")

// dns64NoSOATTL caps the TTL of synthesised records when the negative
// AAAA answer brought no SOA (RFC 6147 §5.1.7).
const dns64NoSOATTL = 600

// serve64 is ServeDNS with DNS64 (RFC 6147), as Unbound's dns64 module
// does it: a PTR question for a name in the prefix's ip6.arpa space is
// answered from in-addr.arpa (§5.3.1), and an AAAA question whose answer
// has no AAAA records gets records synthesised from the name's A records.
// Neither happens for a client that set DO and CD: it validates for
// itself and gets the real answer (§5.5).
func (r *Resolver) serve64(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if len(q.Question) != 1 || validatingClient(q) {
		return r.serveDNS(ctx, q)
	}
	if v4, ok := r.ptr64(q.Question[0]); ok {
		return r.dns64PTR(ctx, q, v4)
	}
	m, err := r.serveDNS(ctx, q)
	if q.Question[0].Qtype != dns.TypeAAAA {
		return m, err
	}
	switch {
	case err == nil && !r.needs64(q, m):
		return m, nil
	case err != nil && errors.Is(err, dnssec.ErrBogus):
		// A Bogus AAAA answer is not "no AAAA" (Unbound does not
		// synthesise from it either).
		return m, err
	}
	// NODATA, or a failure other than Bogus, which §5.1.2 treats as
	// no AAAA: try the A records.
	if out := r.dns64(ctx, q, m); out != nil {
		return out, nil
	}
	return m, err
}

// validatingClient reports whether q set DO and CD.
func validatingClient(q *dns.Msg) bool {
	opt := q.IsEdns0()
	return opt != nil && opt.Do() && q.CheckingDisabled
}

// dns64 synthesises the answer to q, an AAAA question whose answer m
// (nil after a failure) has no usable AAAA records: the answer to the
// same name's A question with each A record turned into an AAAA record
// of Config.DNS64Prefix and its address (RFC 6147 §5.1.6), CNAMEs and
// their signatures kept, AD clear since no signature covers the new
// records. The TTL is the A record's, at most the negative answer's
// (§5.1.7). With the well-known prefix, A records with non-global
// addresses are left out (RFC 6052 §3.1). It returns nil when there is
// nothing to synthesise (NXDOMAIN, no A records, a failure). m is not
// modified.
func (r *Resolver) dns64(ctx context.Context, q, m *dns.Msg) *dns.Msg {
	aq := new(dns.Msg)
	aq.SetQuestion(q.Question[0].Name, dns.TypeA)
	aq.CheckingDisabled = q.CheckingDisabled
	if opt := q.IsEdns0(); opt != nil {
		aq.SetEdns0(opt.UDPSize(), opt.Do())
	}
	am, err := r.serveDNS(ctx, aq)
	if err != nil || am.Rcode != dns.RcodeSuccess {
		return nil
	}
	maxTTL := uint32(dns64NoSOATTL)
	if m != nil {
		if soa := negativeSOA(m); soa != nil {
			maxTTL = min(soa.Hdr.Ttl, soa.Minttl)
		}
	}
	prefix := r.cfg.DNS64Prefix.Addr().As16()
	wellKnown := r.cfg.DNS64Prefix == DNS64WellKnown
	out := new(dns.Msg)
	*out = *am
	out.Id = q.Id
	out.Question = q.Question
	out.AuthenticatedData = false
	out.Answer = nil
	out.Ns = nil
	out.Extra = nil
	if m != nil {
		out.Extra = m.Extra
	}
	synth := 0
	for _, rr := range am.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			v4, ok := netip.AddrFromSlice(rr.A.To4())
			if !ok || wellKnown && nonGlobal4(v4) {
				continue
			}
			b := prefix
			v := v4.As4()
			copy(b[12:], v[:])
			out.Answer = append(out.Answer, &dns.AAAA{
				Hdr:  dns.RR_Header{Name: rr.Hdr.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: min(rr.Hdr.Ttl, maxTTL)},
				AAAA: net.IP(b[:]),
			})
			synth++
		case *dns.RRSIG:
			if rr.TypeCovered != dns.TypeA {
				out.Answer = append(out.Answer, rr)
			}
		default:
			out.Answer = append(out.Answer, rr)
		}
	}
	if synth == 0 {
		return nil
	}
	return out
}

// negativeSOA returns the SOA of a negative answer's authority section.
func negativeSOA(m *dns.Msg) *dns.SOA {
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// nonGlobal4 reports whether a is an IPv4 address the well-known prefix
// must not carry (RFC 6052 §3.1): private, shared, loopback, link-local
// or this network.
func nonGlobal4(a netip.Addr) bool {
	for _, p := range PrivateRanges() {
		if p.Addr().Is4() && p.Contains(a) {
			return true
		}
	}
	return false
}

// needs64 reports whether m, the answer to q, is one DNS64 replaces: a
// NOERROR answer to an AAAA question with no AAAA records, those in
// ::ffff:0:0/96 not counting (RFC 6147 §5.1.4), for a client that does
// not validate for itself.
func (r *Resolver) needs64(q, m *dns.Msg) bool {
	if !r.cfg.DNS64Prefix.IsValid() || len(q.Question) != 1 || q.Question[0].Qtype != dns.TypeAAAA ||
		m == nil || m.Rcode != dns.RcodeSuccess || validatingClient(q) {
		return false
	}
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.AAAA); ok {
			if ip, ok := netip.AddrFromSlice(a.AAAA); ok && !ip.Is4In6() {
				return false
			}
		}
	}
	return true
}

// ptr64 reports whether qq is a PTR question for an address in the
// DNS64 prefix, and returns the IPv4 address the address embeds.
func (r *Resolver) ptr64(qq dns.Question) (netip.Addr, bool) {
	if !r.cfg.DNS64Prefix.IsValid() || qq.Qtype != dns.TypePTR {
		return netip.Addr{}, false
	}
	const suffix = ".ip6.arpa."
	name := strings.ToLower(qq.Name)
	if len(name) != 64+len(suffix)-1 || !strings.HasSuffix(name, suffix) {
		return netip.Addr{}, false
	}
	var b [16]byte
	for i := 0; i < 32; i++ {
		c, dot := name[2*i], name[2*i+1]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return netip.Addr{}, false
		}
		if dot != '.' {
			return netip.Addr{}, false
		}
		// The first label is the last nibble.
		n := 31 - i
		if n%2 == 0 {
			b[n/2] |= v << 4
		} else {
			b[n/2] |= v
		}
	}
	a := netip.AddrFrom16(b)
	if !r.cfg.DNS64Prefix.Contains(a) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[12:])), true
}

// dns64PTR answers q, a PTR question for an address in the DNS64 prefix,
// with the PTR records of the IPv4 address it embeds, renamed to q's
// name, as Unbound does (RFC 6147 §5.3.1 allows the DNS64 to answer for
// its prefix's reverse space). Renamed records no longer match their
// signatures, so those are left out and AD is clear.
func (r *Resolver) dns64PTR(ctx context.Context, q *dns.Msg, v4 netip.Addr) (*dns.Msg, error) {
	rev, err := dns.ReverseAddr(v4.String())
	if err != nil {
		return nil, &Error{EDE: EDEOther, Err: fmt.Errorf("resolver: dns64 reverse name: %w", err)}
	}
	pq := new(dns.Msg)
	pq.SetQuestion(rev, dns.TypePTR)
	pq.CheckingDisabled = q.CheckingDisabled
	if opt := q.IsEdns0(); opt != nil {
		pq.SetEdns0(opt.UDPSize(), opt.Do())
	}
	pm, err := r.serveDNS(ctx, pq)
	if err != nil {
		return nil, err
	}
	out := new(dns.Msg)
	*out = *pm
	out.Id = q.Id
	out.Question = q.Question
	out.AuthenticatedData = false
	out.Answer = nil
	for _, rr := range pm.Answer {
		if rr.Header().Rrtype == dns.TypeRRSIG {
			continue
		}
		if strings.EqualFold(rr.Header().Name, rev) {
			rr = dns.Copy(rr)
			rr.Header().Name = q.Question[0].Name
		}
		out.Answer = append(out.Answer, rr)
	}
	out.Ns = withoutDNSSEC(pm.Ns, dns.TypePTR)
	return out, nil
}
