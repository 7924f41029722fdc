package resolver

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// DNS64WellKnown is the well-known prefix of RFC 6052 §2.1.
var DNS64WellKnown = netip.MustParsePrefix("64:ff9b::/96")

// dns64 is DNS64 (RFC 6147) for a client's AAAA question: when the name
// (or the end of its CNAME chain) exists but has no AAAA records, the
// answer gets AAAA records made of Config.DNS64Prefix and each of the
// name's IPv4 addresses (§5.1), with the A records' TTL, and AD clear,
// since no signature covers them. It synthesises nothing for a client
// that set DO and CD, which validates for itself (§5.5, as Unbound's
// dns64 module), nothing for NXDOMAIN or a failure, and nothing when
// real AAAA records exist (IPv4-mapped ones aside, §5.1.4). m is not
// modified.
func (r *Resolver) dns64(ctx context.Context, q, m *dns.Msg) *dns.Msg {
	if !r.needs64(q, m) {
		return m
	}
	qname := q.Question[0].Name
	final, _ := chainEnd(m.Answer, qname, dns.TypeAAAA)
	if final == "" {
		final = qname
	}
	aq := new(dns.Msg)
	aq.SetQuestion(final, dns.TypeA)
	aq.CheckingDisabled = q.CheckingDisabled
	if opt := q.IsEdns0(); opt != nil {
		aq.SetEdns0(opt.UDPSize(), opt.Do())
	}
	am, err := r.serveDNS(ctx, aq)
	if err != nil || am.Rcode != dns.RcodeSuccess {
		return m
	}
	prefix := r.cfg.DNS64Prefix.Addr().As16()
	var synth []dns.RR
	for _, rr := range am.Answer {
		a, ok := rr.(*dns.A)
		if !ok || !strings.EqualFold(a.Hdr.Name, final) {
			continue
		}
		v4 := a.A.To4()
		if v4 == nil {
			continue
		}
		b := prefix
		copy(b[12:], v4)
		synth = append(synth, &dns.AAAA{
			Hdr:  dns.RR_Header{Name: a.Hdr.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: a.Hdr.Ttl},
			AAAA: net.IP(b[:]),
		})
	}
	if len(synth) == 0 {
		return m
	}
	out := *m
	out.Answer = append(withoutMapped(m.Answer), synth...)
	// The authority section held the negative answer's SOA and proofs.
	out.Ns = nil
	out.AuthenticatedData = false
	return &out
}

// needs64 reports whether DNS64 would change m, the answer to q.
func (r *Resolver) needs64(q, m *dns.Msg) bool {
	if !r.cfg.DNS64Prefix.IsValid() || len(q.Question) != 1 || q.Question[0].Qtype != dns.TypeAAAA ||
		m == nil || m.Rcode != dns.RcodeSuccess {
		return false
	}
	if opt := q.IsEdns0(); opt != nil && opt.Do() && q.CheckingDisabled {
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

// withoutMapped drops IPv4-mapped AAAA records and RRSIGs over AAAA.
func withoutMapped(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, 0, len(rrs))
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.AAAA:
			continue
		case *dns.RRSIG:
			if rr.TypeCovered == dns.TypeAAAA {
				continue
			}
		}
		out = append(out, rr)
	}
	return out
}
