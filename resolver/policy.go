package resolver

import "net/netip"

// nonPublic lists the IPv4 and IPv6 ranges an upstream query never goes to
// unless Config.AllowUpstream names them: a resolver that follows a referral
// to 127.0.0.1 or 192.168.1.1 can be steered at the operator's own network.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network" (RFC 1122)
	netip.MustParsePrefix("10.0.0.0/8"),     // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),  // shared/CGNAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local
	netip.MustParsePrefix("172.16.0.0/12"),  // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("fc00::/7"),       // unique local (RFC 4193)
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("ff00::/8"),       // multicast
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("::/96"),          // IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
}

// Prefixes whose addresses carry an IPv4 address that decides where a
// packet ends up: a translator or relay forwards to it. A referral to
// 64:ff9b::10.0.0.1 on a NAT64 network reaches 10.0.0.1.
var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 §2.1
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056 §2
)

// embeddedIPv4 returns the IPv4 address a NAT64 or 6to4 address forwards
// to.
func embeddedIPv4(addr netip.Addr) (netip.Addr, bool) {
	b := addr.As16()
	switch {
	case nat64WellKnown.Contains(addr):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// upstreamAllowed reports whether a query may be sent to addr. IPv4-mapped
// IPv6 addresses are judged as the IPv4 address they carry.
func upstreamAllowed(addr netip.Addr, allow []netip.Prefix) bool {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return false
	}
	for _, p := range allow {
		if p.Contains(addr) {
			return true
		}
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	if v4, ok := embeddedIPv4(addr); ok {
		// Judged without the allow list: reaching the operator's own
		// network through a translator is never what it asked for.
		return upstreamAllowed(v4, nil)
	}
	return true
}

// IsPublic reports whether addr is an address hush queries without being
// told to: not loopback, private, link-local or otherwise special.
func IsPublic(addr netip.Addr) bool { return upstreamAllowed(addr, nil) }
