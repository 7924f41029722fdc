package dnssec

import (
	"errors"

	"github.com/miekg/dns"
)

// Sentinels for errors.Is. Every error this package returns wraps one of
// them (or ErrBudget); EDE maps them to RFC 8914 codes.
var (
	// ErrBogus is a failed check with no more specific code: a bad
	// signature, a wrong signer, a label count that does not fit, a DS
	// that matches no key, a malformed record.
	ErrBogus = errors.New("dnssec: bogus")
	// ErrSignatureExpired: every usable RRSIG was past its expiration.
	ErrSignatureExpired = errors.New("dnssec: signature expired")
	// ErrSignatureNotYetValid: every usable RRSIG was before its inception.
	ErrSignatureNotYetValid = errors.New("dnssec: signature not yet valid")
	// ErrDNSKEYMissing: no DNSKEY matches the signatures or the DS set.
	ErrDNSKEYMissing = errors.New("dnssec: dnskey missing")
	// ErrRRSIGsMissing: no usable RRSIG covers the RRset.
	ErrRRSIGsMissing = errors.New("dnssec: rrsigs missing")
	// ErrNSECMissing: the NSEC/NSEC3 records do not prove the denial.
	ErrNSECMissing = errors.New("dnssec: nsec missing")
	// ErrUnsupportedAlgorithm: only unsupported DNSKEY algorithms; the zone
	// is Insecure (RFC 4035 §5.2).
	ErrUnsupportedAlgorithm = errors.New("dnssec: unsupported dnskey algorithm")
	// ErrUnsupportedDigest: only unsupported DS digest types; the zone is
	// Insecure (RFC 4035 §5.2).
	ErrUnsupportedDigest = errors.New("dnssec: unsupported ds digest type")
	// ErrNSEC3Iterations: an NSEC3 iteration count above
	// Limits.MaxNSEC3Iterations; the answer is Insecure (RFC 9276 §3.2).
	ErrNSEC3Iterations = errors.New("dnssec: unsupported nsec3 iterations value")
)

// EDE returns the RFC 8914 Extended DNS Error code for an error from this
// package, and false for nil or an error it does not know. ErrBudget maps
// to DNSSEC Bogus: the answer could not be proven, and the client should
// not be told more about why than any other bogus answer.
func EDE(err error) (uint16, bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, ErrSignatureExpired):
		return dns.ExtendedErrorCodeSignatureExpired, true
	case errors.Is(err, ErrSignatureNotYetValid):
		return dns.ExtendedErrorCodeSignatureNotYetValid, true
	case errors.Is(err, ErrDNSKEYMissing):
		return dns.ExtendedErrorCodeDNSKEYMissing, true
	case errors.Is(err, ErrRRSIGsMissing):
		return dns.ExtendedErrorCodeRRSIGsMissing, true
	case errors.Is(err, ErrNSECMissing):
		return dns.ExtendedErrorCodeNSECMissing, true
	case errors.Is(err, ErrUnsupportedAlgorithm):
		return dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm, true
	case errors.Is(err, ErrUnsupportedDigest):
		return dns.ExtendedErrorCodeUnsupportedDSDigestType, true
	case errors.Is(err, ErrNSEC3Iterations):
		return dns.ExtendedErrorCodeUnsupportedNSEC3IterValue, true
	case errors.Is(err, ErrBogus), errors.Is(err, ErrBudget):
		return dns.ExtendedErrorCodeDNSBogus, true
	}
	return 0, false
}
