// Package dnssec validates DNSSEC: trust anchors, signatures, DS chains and
// NSEC/NSEC3 denial proofs (RFC 4033, 4034, 4035, 5155, 6840, 8624, 9276).
// It sends no packets, keeps no cache policy and does no logging: every
// function here is a pure check over records the caller already holds, so
// it can be tested without a network and its verdicts can be replayed.
//
// The resolver owns the orchestration: it walks the chain of trust from an
// anchor (Anchors.Closest), looks up each zone's DS and DNSKEY RRsets itself
// (this package has no fetching interface), and calls, per query:
//
//	b := dnssec.NewBudget(dnssec.DefaultLimits(), dnssec.Policy{}) // one per query
//	ta := anchors.Closest(qname)                 // or dnssec.DSAnchor(zone, validatedDS)
//	ks := dnssec.VerifyDNSKEYs(dnskeyAndSigs, ta, now, b)
//	res := dnssec.VerifyRRset(rrset, sigs, ks.Keys, zone, now, b)
//	if res.Wildcard != "" { res = dnssec.NSEC3Wildcard(qname, res.Wildcard, zone, nsec3s, b) }
//	neg := dnssec.NSEC3NameError(qname, zone, nsec3s, b) // negative answers, after
//	                                                     // VerifyRRset on each NSEC3
//
// Insecure from VerifyDNSKEYs (only unsupported algorithms or digests in
// the DS set) or from a DS denial (NSECNoData/NSEC3Delegation) ends the
// chain: everything below is Insecure. Bogus means SERVFAIL with
// EDE(res.Err); so does any error wrapping ErrBudget.
//
// One Budget is shared by everything validated for one client query, which
// is what bounds the work an attacker can cause (KeyTrap, CVE-2023-50387;
// NSEC3 hash floods, CVE-2023-50868). Errors carry sentinels that EDE maps
// to RFC 8914 Extended DNS Error codes; the resolver turns those into
// SERVFAIL + EDE.
//
// The package does not decide when data should have been signed: a missing
// RRSIG is Bogus here, and the caller, which knows whether the zone is below
// a secure delegation, decides to call these functions at all.
package dnssec

// Status is the DNSSEC security status of an RRset or an answer
// (RFC 4035 §4.3).
type Status uint8

// The statuses, in the order RFC 4035 §4.3 lists them. The zero value is
// Indeterminate: nothing has been decided.
const (
	Indeterminate Status = iota
	Secure
	Insecure
	Bogus
)

// String returns the status in lowercase, as RFC 4035 §4.3 names it.
func (s Status) String() string {
	switch s {
	case Secure:
		return "secure"
	case Insecure:
		return "insecure"
	case Bogus:
		return "bogus"
	default:
		return "indeterminate"
	}
}
