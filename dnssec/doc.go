// Package dnssec validates DNSSEC: trust anchors, signatures, DS chains and
// NSEC/NSEC3 denial proofs. It sends no packets and keeps no cache policy;
// the resolver supplies a Fetcher for the DNSKEY and DS records it needs.
//
// Validation itself arrives with the DNSSEC issue; today the package holds
// only the status vocabulary the cache and resolver already carry.
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
