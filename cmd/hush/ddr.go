package main

import (
	"crypto/x509"
	"net"
	"strings"

	"github.com/miekg/dns"

	"github.com/hush-dns/hush/transport"
)

// ddrTTL is the TTL of the DDR records: clients keep the upgrade that
// long, so a change of listeners reaches them within five minutes.
const ddrTTL = 300

// designatedResolvers returns the SVCB records that describe hush's
// encrypted listeners for Discovery of Designated Resolvers (RFC 9462,
// with the DNS SVCB parameters of RFC 9461): one record per tls://,
// https:// and quic:// URL, in the order given (the first gets priority
// 1), with its ALPN, its port when not the default, the DoH path template,
// and its address as a hint when it is not a wildcard.
//
// The target is the first host name the certificate holds (other than
// localhost and wildcards), the name a client verifies the certificate
// against. Without one, the target is "." (the owner name itself, RFC
// 9460 §2.5.2): such records are only useful with an address hint, and a
// wildcard listener without a name gets none — a client could not tell
// where to connect. urls must carry the bound ports (no port 0).
func designatedResolvers(urls []listenURL, leaf *x509.Certificate) []*dns.SVCB {
	target := ddrTarget(leaf)
	var out []*dns.SVCB
	for _, u := range urls {
		var (
			alpn        []string
			defaultPort uint16
			path        string
		)
		switch u.Scheme {
		case "tls":
			alpn, defaultPort = []string{"dot"}, 853
		case "https":
			alpn, defaultPort, path = []string{"h2", "h3"}, 443, u.Path
			if !transport.QUIC {
				alpn = alpn[:1]
			}
		case "quic":
			alpn, defaultPort = []string{"doq"}, 853
		default:
			continue
		}
		a := u.Addr.Addr().Unmap()
		if target == "." && a.IsUnspecified() {
			continue
		}
		rr := &dns.SVCB{
			Hdr:      dns.RR_Header{Name: ddrName, Rrtype: dns.TypeSVCB, Class: dns.ClassINET, Ttl: ddrTTL},
			Priority: uint16(len(out) + 1),
			Target:   target,
		}
		// RFC 9460 §2.2: keys in ascending order.
		rr.Value = append(rr.Value, &dns.SVCBAlpn{Alpn: alpn})
		if p := u.Addr.Port(); p != defaultPort {
			rr.Value = append(rr.Value, &dns.SVCBPort{Port: p})
		}
		switch {
		case a.IsUnspecified():
		case a.Is4():
			rr.Value = append(rr.Value, &dns.SVCBIPv4Hint{Hint: []net.IP{net.IP(a.AsSlice())}})
		default:
			rr.Value = append(rr.Value, &dns.SVCBIPv6Hint{Hint: []net.IP{net.IP(a.AsSlice())}})
		}
		if path != "" {
			rr.Value = append(rr.Value, &dns.SVCBDoHPath{Template: path + "{?dns}"})
		}
		out = append(out, rr)
	}
	return out
}

// ddrName is where clients look for a resolver's encrypted endpoints.
const ddrName = "_dns.resolver.arpa."

// ddrTarget picks the SVCB target from the serving certificate.
func ddrTarget(leaf *x509.Certificate) string {
	if leaf == nil {
		return "."
	}
	for _, n := range leaf.DNSNames {
		if n == "" || strings.HasPrefix(n, "*") || strings.EqualFold(n, "localhost") {
			continue
		}
		if _, ok := dns.IsDomainName(n); ok {
			return dns.Fqdn(strings.ToLower(n))
		}
	}
	return "."
}
