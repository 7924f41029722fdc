package resolver

import (
	"net"
	"net/netip"
	"strings"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// EDEBlocked is the Extended DNS Error of an answer from which rebinding
// protection removed private addresses. RFC 8914 §4.16 (15, Blocked) is
// a policy "implemented on the server being directly talked to", which
// is what --private-address is; 17 (Filtered, §4.18) is for filtering
// the client asked for, and 16 (Censored) for an external requirement.
const EDEBlocked uint16 = 15

// rebindText is the EXTRA-TEXT that goes with EDEBlocked, so that an
// operator reading dig output knows which policy acted.
const rebindText = "rebinding protection"

// PrivateRanges are the prefixes of --private-address private: RFC 1918,
// RFC 6598 shared space (100.64/10), loopback, link-local, this network
// (0.0.0.0/8), the unspecified IPv6 address and ULA (fc00::/7). The
// IPv4-mapped forms (::ffff:10.0.0.1) of the IPv4 ranges are covered
// too: the filter tries every AAAA address unmapped as well.
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

// rebindFilter is DNS rebinding protection, as Unbound's private-address
// (iter_priv.c, applied by its scrubber to every section) and dnsmasq's
// stop-dns-rebind: from m it removes each A and AAAA record with an
// address in Config.PrivateAddresses, and each SVCB or HTTPS record with
// such an address hint, whose owner is outside Config.PrivateDomains and
// the forward and stub zones, so that a public name cannot point a
// browser at the LAN. Like Unbound it removes records, not whole RRsets:
// the public addresses of a mixed RRset stay, and a question left without
// its records is answered NODATA (NOERROR, empty answer), not SERVFAIL,
// since private space is widely used and a SERVFAIL would fail more than
// the attack. The RRSIGs of an RRset that lost records go too, as they no
// longer cover it, and the answer loses its Secure status (no AD): it is
// no longer what the zone signed. The answer carries EDE 15 with the text
// "rebinding protection". m is not modified; the result may share
// records with it.
func (r *Resolver) rebindFilter(m *dns.Msg, meta *cache.Meta) *dns.Msg {
	if len(r.cfg.PrivateAddresses) == 0 || m == nil {
		return m
	}
	type set struct {
		name string
		t    uint16
	}
	var bad map[dns.RR]bool
	var touched []set
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if !r.rebinds(rr) {
				continue
			}
			if bad == nil {
				bad = make(map[dns.RR]bool)
			}
			bad[rr] = true
			h := rr.Header()
			touched = append(touched, set{strings.ToLower(h.Name), h.Rrtype})
		}
	}
	if len(bad) == 0 {
		return m
	}
	drop := func(rr dns.RR) bool {
		if bad[rr] {
			return true
		}
		s, ok := rr.(*dns.RRSIG)
		if !ok {
			return false
		}
		for _, d := range touched {
			if d.t == s.TypeCovered && strings.EqualFold(d.name, s.Hdr.Name) {
				return true
			}
		}
		return false
	}
	keep := func(rrs []dns.RR) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			if !drop(rr) {
				out = append(out, rr)
			}
		}
		return out
	}
	out := *m
	out.Answer, out.Ns, out.Extra = keep(m.Answer), keep(m.Ns), keep(m.Extra)
	out.AuthenticatedData = false
	if meta.Security == cache.SecuritySecure {
		meta.Security = cache.SecurityInsecure
	}
	meta.EDE = EDEBlocked
	return &out
}

// rebinds reports whether rr is a record rebinding protection removes: a
// private address (or SVCB address hint) for a public name.
func (r *Resolver) rebinds(rr dns.RR) bool {
	var ips []net.IP
	switch rr := rr.(type) {
	case *dns.A:
		ips = []net.IP{rr.A}
	case *dns.AAAA:
		ips = []net.IP{rr.AAAA}
	case *dns.SVCB:
		ips = svcbHints(rr.Value)
	case *dns.HTTPS:
		ips = svcbHints(rr.Value)
	default:
		return false
	}
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip)
		if ok && r.privateAddr(a) {
			return !r.privateName(rr.Header().Name)
		}
	}
	return false
}

// svcbHints returns the ipv4hint and ipv6hint addresses of an SVCB or
// HTTPS record.
func svcbHints(kv []dns.SVCBKeyValue) []net.IP {
	var out []net.IP
	for _, v := range kv {
		switch v := v.(type) {
		case *dns.SVCBIPv4Hint:
			out = append(out, v.Hint...)
		case *dns.SVCBIPv6Hint:
			out = append(out, v.Hint...)
		}
	}
	return out
}

// privateAddr reports whether a, as given or unmapped from ::ffff:0:0/96,
// lies in a --private-address prefix.
func (r *Resolver) privateAddr(a netip.Addr) bool {
	u := a.Unmap()
	for _, p := range r.cfg.PrivateAddresses {
		if p.Contains(a) || p.Contains(u) {
			return true
		}
	}
	return false
}

// privateName reports whether name may point at private addresses: it is
// under a --private-domain or a forward or stub zone (not the root's;
// Resolver.private).
func (r *Resolver) privateName(name string) bool {
	for _, d := range r.cfg.PrivateDomains {
		if dnssec.IsSubDomain(d, name) {
			return true
		}
	}
	return r.private(name)
}

// metaEDEText is the EXTRA-TEXT the resolver gives with a cached answer's
// EDE code, where the code alone would leave the operator guessing.
func metaEDEText(code uint16) string {
	if code == EDEBlocked {
		return rebindText
	}
	return ""
}
