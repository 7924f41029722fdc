package resolvertest

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// The signed internet's zones, before signing. Each is served by one
// server, ns1.<origin>, whose glue the parent gets from the table; the
// root by a.root.hush. and b.root.hush. Keys are keys/<base>.ksk and
// keys/<base>.zsk, base being ZoneFileName without ".zone".

// flaw is a deliberate DNSSEC mistake baked into a zone's data (or its DS
// in the parent), so that NSD serves it exactly as the engine does.
type flaw int

const (
	flawNone          flaw = iota
	flawExpired            // every RRSIG expired 30 days before Now
	flawNotYet             // every RRSIG starts 30 days after Now
	flawDSMismatch         // the DS in the parent is of the rogue key
	flawNoSig              // www A has no RRSIG
	flawWrongKey           // www A is signed by the rogue key
	flawBadSig             // www A's signature has a flipped bit
	flawNoNSEC             // no NSEC chain at all: denials carry no proof
	flawUnknownDigest      // the only DS has digest type 200
)

// nsec3Spec chooses NSEC3 instead of NSEC for a zone (RFC 5155).
type nsec3Spec struct {
	iterations uint16
	salt       string // hex, "" for none
	optOut     bool
}

// signSpec is one zone of the signed internet.
type signSpec struct {
	origin string
	addr   string // of ns1.<origin>; the root's servers are fixed
	alg    uint8  // 0: unsigned
	nsec3  *nsec3Spec
	flaw   flaw
	extra  string // zone data beyond the common www, txt names
}

// Zone data shared by the leaves that test wildcards and empty
// non-terminals: see the table in doc.go.
const wildData = `*        IN A   192.0.2.80
*        IN TXT "wildcard"
host     IN A   192.0.2.81
a.ent    IN A   192.0.2.82
*.nodata IN TXT "only TXT here"
`

// signedSpecs is the signed internet, parents before children.
func signedSpecs() []signSpec {
	return []signSpec{
		{origin: ".", alg: dns.RSASHA256},
		{origin: "hush.", addr: "127.53.101.1", alg: dns.RSASHA256},
		{origin: "sec.", addr: "127.53.102.1", alg: dns.RSASHA256},
		{origin: "broken.", addr: "127.53.103.1", alg: dns.ECDSAP256SHA256},
		{origin: "optout.", addr: "127.53.104.1", alg: dns.ECDSAP256SHA256, nsec3: &nsec3Spec{optOut: true}},

		{origin: "alg8.sec.", addr: "127.53.110.1", alg: dns.RSASHA256},
		{origin: "alg10.sec.", addr: "127.53.110.2", alg: dns.RSASHA512},
		{origin: "alg13.sec.", addr: "127.53.110.3", alg: dns.ECDSAP256SHA256},
		{origin: "alg14.sec.", addr: "127.53.110.4", alg: dns.ECDSAP384SHA384},
		{origin: "alg15.sec.", addr: "127.53.110.5", alg: dns.ED25519},
		{origin: "alg16.sec.", addr: "127.53.110.6", alg: dns.ED448},
		{origin: "alg5.sec.", addr: "127.53.110.7", alg: dns.RSASHA1},
		{origin: "alg7.sec.", addr: "127.53.110.8", alg: dns.RSASHA1NSEC3SHA1, nsec3: &nsec3Spec{}},
		{origin: "nsec3.sec.", addr: "127.53.110.9", alg: dns.ECDSAP256SHA256, nsec3: &nsec3Spec{}, extra: wildData},
		{origin: "kid.nsec3.sec.", addr: "127.53.110.20", alg: dns.ECDSAP256SHA256, extra: "*  IN A 192.0.2.66\nreal IN A 192.0.2.99\n"},
		{origin: "nsec3salt.sec.", addr: "127.53.110.10", alg: dns.ECDSAP256SHA256, nsec3: &nsec3Spec{iterations: 10, salt: "aabbccdd"}, extra: wildData},
		{origin: "wild.sec.", addr: "127.53.110.11", alg: dns.ECDSAP256SHA256, extra: wildData},
		{origin: "cname.sec.", addr: "127.53.110.12", alg: dns.ECDSAP256SHA256, extra: "to-insecure IN CNAME www.insecure.sec.\nto-www IN CNAME www\n"},
		{origin: "insecure.sec.", addr: "127.53.110.13", extra: "to-secure IN CNAME www.alg13.sec.\n"},

		{origin: "good.broken.", addr: "127.53.120.1", alg: dns.ECDSAP256SHA256},
		{origin: "expired.broken.", addr: "127.53.120.2", alg: dns.ECDSAP256SHA256, flaw: flawExpired},
		{origin: "notyet.broken.", addr: "127.53.120.3", alg: dns.ECDSAP256SHA256, flaw: flawNotYet},
		{origin: "dsmismatch.broken.", addr: "127.53.120.4", alg: dns.ECDSAP256SHA256, flaw: flawDSMismatch},
		{origin: "nosig.broken.", addr: "127.53.120.5", alg: dns.ECDSAP256SHA256, flaw: flawNoSig},
		{origin: "wrongkey.broken.", addr: "127.53.120.6", alg: dns.ECDSAP256SHA256, flaw: flawWrongKey},
		{origin: "badsig.broken.", addr: "127.53.120.7", alg: dns.ECDSAP256SHA256, flaw: flawBadSig},
		{origin: "nonsec.broken.", addr: "127.53.120.8", alg: dns.ECDSAP256SHA256, flaw: flawNoNSEC},
		{origin: "wildnoproof.broken.", addr: "127.53.120.9", alg: dns.ECDSAP256SHA256, flaw: flawNoNSEC, extra: wildData},
		{origin: "dsa.broken.", addr: "127.53.120.10", alg: algorithmDSA},
		{origin: "digest.broken.", addr: "127.53.120.11", alg: dns.ECDSAP256SHA256, flaw: flawUnknownDigest},

		{origin: "signed.optout.", addr: "127.53.130.1", alg: dns.ECDSAP256SHA256},
		{origin: "unsigned.optout.", addr: "127.53.130.2"},
	}
}

// rootServers returns the signed internet's root servers and their
// addresses.
func rootServers() [][2]string {
	return [][2]string{{"a.root.hush.", "127.53.100.1"}, {"b.root.hush.", "127.53.100.2"}}
}

// keyBase names a zone's key files.
func keyBase(origin string) string {
	return strings.TrimSuffix(ZoneFileName(origin), ".zone")
}

// unsignedText is the master file of spec before signing: SOA, NS, the
// server's address, the common names, extra, and the delegations to the
// children in specs (NS and glue; DS is added when signing).
func unsignedText(spec signSpec, specs []signSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "; %s of the signed simulated internet (before signing)\n$TTL 3600\n", spec.origin)
	if spec.origin == "." {
		b.WriteString(". 86400 IN SOA a.root.hush. hostmaster.nic.hush. 2024010101 1800 900 604800 300\n")
		for _, s := range rootServers() {
			fmt.Fprintf(&b, ". 86400 IN NS %s\n", s[0])
		}
	} else {
		o := spec.origin
		fmt.Fprintf(&b, "%s IN SOA ns1.%s hostmaster.%s 2024010101 1800 900 604800 300\n", o, o, o)
		fmt.Fprintf(&b, "%s IN NS ns1.%s\nns1.%s IN A %s\n", o, o, o, spec.addr)
		fmt.Fprintf(&b, "www.%s IN A 192.0.2.1\nwww.%s IN AAAA 2001:db8::1\ntxt.%s IN TXT \"%s\"\n", o, o, o, o)
		if o == "hush." {
			for _, s := range rootServers() {
				fmt.Fprintf(&b, "%s IN A %s\n", s[0], s[1])
			}
		}
		if spec.extra != "" {
			fmt.Fprintf(&b, "$ORIGIN %s\n%s", o, spec.extra)
		}
	}
	for _, c := range specs {
		if c.origin == "." || parentZone(c.origin, specs) != spec.origin {
			continue
		}
		ttl := 3600
		if spec.origin == "." {
			ttl = 86400
		}
		fmt.Fprintf(&b, "%s %d IN NS ns1.%s\nns1.%s %d IN A %s\n", c.origin, ttl, c.origin, c.origin, ttl, c.addr)
		if c.origin == "hush." {
			for _, s := range rootServers() {
				fmt.Fprintf(&b, "%s %d IN A %s\n", s[0], ttl, s[1])
			}
		}
	}
	return b.String()
}

// parentZone is the origin of the closest enclosing zone in specs.
func parentZone(origin string, specs []signSpec) string {
	for p := parent(origin); p != ""; p = parent(p) {
		for _, s := range specs {
			if s.origin == p {
				return p
			}
		}
	}
	return ""
}
