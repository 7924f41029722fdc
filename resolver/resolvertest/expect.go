package resolvertest

import "github.com/miekg/dns"

// Security is what a validating resolver should conclude about an answer
// (RFC 4033 §5). resolvertest does not import the validator; a test maps
// these to its own status type.
type Security string

// The outcomes Expectation uses.
const (
	Secure   Security = "secure"
	Insecure Security = "insecure"
	Bogus    Security = "bogus"
)

// Expectation is one question to the signed internet and what validating
// its answer should give: the security status and, for Bogus and for
// Insecure by an unsupported algorithm or digest, the Extended DNS Error
// code (RFC 8914) a resolver should attach. Rcode is what the
// authoritative data says; a validating resolver answers Bogus with
// SERVFAIL instead.
type Expectation struct {
	Name     string
	Type     uint16
	Rcode    int
	Security Security
	EDE      uint16 // 0: none expected
	Why      string
}

// SignedExpectations returns the questions of the table in the package
// documentation, for table-driven validator and resolver tests against a
// network made by Signed. Where validators legitimately differ (Ed448 and
// RSASHA1 support, NSEC3 iterations above 0, which EDE a key-tag mismatch
// earns) Why says so and the entry gives the outcome of a validator that
// supports everything RFC 8624 recommends validating.
func SignedExpectations() []Expectation {
	var out []Expectation
	for _, z := range []string{"alg8.sec.", "alg10.sec.", "alg13.sec.", "alg14.sec.", "alg15.sec.", "alg16.sec.", "alg5.sec.", "alg7.sec.",
		"nsec3.sec.", "nsec3salt.sec.", "wild.sec.", "cname.sec.", "signed.optout.", "good.broken."} {
		why := "signed zone"
		switch z {
		case "alg16.sec.":
			why = "Ed448: Insecure (EDE 1) where unsupported"
		case "alg5.sec.", "alg7.sec.":
			why = "RSASHA1: Insecure (EDE 1) where disabled (RFC 8624 §3.1)"
		case "nsec3salt.sec.":
			why = "NSEC3 with 10 iterations: RFC 9276 §3.2 lets validators treat it as Insecure"
		}
		out = append(out,
			Expectation{"www." + z, dns.TypeA, dns.RcodeSuccess, Secure, 0, why},
			Expectation{"www." + z, dns.TypeMX, dns.RcodeSuccess, Secure, 0, "NODATA: " + why},
		)
		switch z {
		case "nsec3.sec.", "nsec3salt.sec.", "wild.sec.":
			out = append(out,
				Expectation{"x." + z, dns.TypeA, dns.RcodeSuccess, Secure, 0, "wildcard answer: " + why},
				Expectation{"x." + z, dns.TypeMX, dns.RcodeSuccess, Secure, 0, "wildcard NODATA: " + why},
				Expectation{"ent." + z, dns.TypeA, dns.RcodeSuccess, Secure, 0, "empty non-terminal: " + why},
				Expectation{"x.ent." + z, dns.TypeA, dns.RcodeNameError, Secure, 0, "NXDOMAIN below an empty non-terminal: " + why},
				Expectation{"x.nodata." + z, dns.TypeA, dns.RcodeSuccess, Secure, 0, "wildcard NODATA below an ENT: " + why},
			)
		default:
			out = append(out, Expectation{"nx." + z, dns.TypeA, dns.RcodeNameError, Secure, 0, "NXDOMAIN: " + why})
		}
	}
	return append(out,
		Expectation{"nx.", dns.TypeA, dns.RcodeNameError, Secure, 0, "NXDOMAIN at the root"},
		Expectation{"to-www.cname.sec.", dns.TypeA, dns.RcodeSuccess, Secure, 0, "signed CNAME in the zone"},
		Expectation{"to-insecure.cname.sec.", dns.TypeA, dns.RcodeSuccess, Insecure, 0, "signed CNAME into an unsigned zone"},
		Expectation{"to-secure.insecure.sec.", dns.TypeA, dns.RcodeSuccess, Insecure, 0, "unsigned CNAME into a signed zone"},
		Expectation{"www.insecure.sec.", dns.TypeA, dns.RcodeSuccess, Insecure, 0, "unsigned child, NSEC proves no DS"},
		Expectation{"nx.insecure.sec.", dns.TypeA, dns.RcodeNameError, Insecure, 0, "NXDOMAIN in an unsigned child"},
		Expectation{"www.unsigned.optout.", dns.TypeA, dns.RcodeSuccess, Insecure, 0, "unsigned child, opt-out NSEC3 covers it"},
		Expectation{"www.expired.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeSignatureExpired, "every signature expired"},
		Expectation{"www.notyet.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeSignatureNotYetValid, "every signature not yet valid"},
		Expectation{"www.dsmismatch.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeDNSKEYMissing, "DS matches no DNSKEY"},
		Expectation{"www.nosig.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeRRSIGsMissing, "answer without RRSIG"},
		Expectation{"txt.nosig.broken.", dns.TypeTXT, dns.RcodeSuccess, Secure, 0, "the rest of nosig.broken. is signed"},
		Expectation{"www.wrongkey.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeDNSBogus, "signed by a key not in the DNSKEY set (some validators say EDE 9 or 10)"},
		Expectation{"www.badsig.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeDNSBogus, "corrupted signature"},
		Expectation{"nx.nonsec.broken.", dns.TypeA, dns.RcodeNameError, Bogus, dns.ExtendedErrorCodeNSECMissing, "NXDOMAIN without NSEC"},
		Expectation{"www.nonsec.broken.", dns.TypeMX, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeNSECMissing, "NODATA without NSEC"},
		Expectation{"www.nonsec.broken.", dns.TypeA, dns.RcodeSuccess, Secure, 0, "positive answers of nonsec.broken. are signed"},
		Expectation{"x.wildnoproof.broken.", dns.TypeA, dns.RcodeSuccess, Bogus, dns.ExtendedErrorCodeNSECMissing, "wildcard answer without NSEC"},
		Expectation{"www.dsa.broken.", dns.TypeA, dns.RcodeSuccess, Insecure, dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm, "only algorithm 3 (DSA)"},
		Expectation{"www.digest.broken.", dns.TypeA, dns.RcodeSuccess, Insecure, dns.ExtendedErrorCodeUnsupportedDSDigestType, "only DS digest type 200"},
	)
}
