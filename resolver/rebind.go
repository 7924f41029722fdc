package resolver

import (
	"net/netip"
	"strings"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

// EDEBlocked is the Extended DNS Error of an answer the operator's policy
// changed (RFC 8914 §4.16): here, private addresses removed.
const EDEBlocked uint16 = 15

// PrivateRanges are the prefixes of --private-address private: RFC 1918,
// RFC 6598 shared space (100.64/10), loopback, link-local, the unspecified
// address, ULA (fc00::/7) and IPv4-mapped forms of all of them.
func PrivateRanges() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
		"127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8",
		"::1/128", "::/128", "fe80::/10", "fc00::/7",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// rebindFilter is DNS rebinding protection (Unbound's private-address,
// dnsmasq's stop-dns-rebind): from the answer for name it removes every
// A and AAAA RRset, with its signatures, that holds an address in
// Config.PrivateAddresses and is owned by a name outside
// Config.PrivateDomains and the forward and stub zones, so that a public
// name cannot point a browser at the LAN. Whole RRsets go, so that what
// remains still validates downstream. The answer then carries EDE 15
// (Blocked). m is not modified; the result may share records with it.
func (r *Resolver) rebindFilter(m *dns.Msg, meta *cache.Meta) *dns.Msg {
	if len(r.cfg.PrivateAddresses) == 0 || m == nil {
		return m
	}
	type set struct {
		name string
		t    uint16
	}
	var drop []set
	for _, rr := range m.Answer {
		var a netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(rr.AAAA.To16())
		default:
			continue
		}
		h := rr.Header()
		if !r.privateAddr(a.Unmap()) || r.privateName(h.Name) {
			continue
		}
		drop = append(drop, set{strings.ToLower(h.Name), h.Rrtype})
	}
	if len(drop) == 0 {
		return m
	}
	dropped := func(rr dns.RR) bool {
		h := rr.Header()
		t := h.Rrtype
		if s, ok := rr.(*dns.RRSIG); ok {
			t = s.TypeCovered
		}
		for _, d := range drop {
			if d.t == t && strings.EqualFold(d.name, h.Name) {
				return true
			}
		}
		return false
	}
	out := *m
	out.Answer = make([]dns.RR, 0, len(m.Answer))
	for _, rr := range m.Answer {
		if !dropped(rr) {
			out.Answer = append(out.Answer, rr)
		}
	}
	meta.EDE = EDEBlocked
	return &out
}

func (r *Resolver) privateAddr(a netip.Addr) bool {
	for _, p := range r.cfg.PrivateAddresses {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// privateName reports whether name may point at private addresses: it is
// under a --private-domain or a forward or stub zone (not the root's).
func (r *Resolver) privateName(name string) bool {
	for _, d := range r.cfg.PrivateDomains {
		if dns.IsSubDomain(d, name) {
			return true
		}
	}
	return r.private(name)
}
