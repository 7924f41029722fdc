package dnssec

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// ErrBudget is returned (wrapped) when a query has spent its validation
// budget. The caller should answer SERVFAIL: the data may well be fine, but
// proving it would cost more than any honest zone needs.
var ErrBudget = errors.New("dnssec: validation budget exhausted")

// Limits caps the cryptographic work one client query may cause. The
// defaults follow Unbound 1.19.1's KeyTrap fixes (validator/val_sigcrypt.c
// MAX_VALIDATE_RRSIGS 8, val_utils.c MAX_DS_MATCH_FAILURES 4, validator.c
// MAX_VALIDATE_AT_ONCE 8 × MAX_VALIDATION_SUSPENDS 16, val_nsec3.c
// MAX_NSEC3_CALCULATIONS) and RFC 9276 for NSEC3 iterations. A zero field
// means "use the default", never "unlimited".
type Limits struct {
	// MaxSigsPerRRset is how many signature verifications one RRset may
	// cost, successful or not (default 8, Unbound's MAX_VALIDATE_RRSIGS).
	// An honest RRset needs one; a key rollover two or three.
	MaxSigsPerRRset int
	// MaxValidations is how many signature verifications one query may cost
	// in total across the whole chain (default 128 = Unbound's 8 per
	// round × 16 suspends).
	MaxValidations int
	// MaxFailures is how many signature verifications may fail in one query
	// before validation stops (default 16). Honest data almost never fails a
	// verification: each failure is a hint of an attack.
	MaxFailures int
	// MaxKeysPerTag is how many DNSKEYs sharing one key tag and algorithm
	// are tried for one signature (default 4). Key tags are 16-bit
	// checksums, so honest collisions exist but are rare; KeyTrap crafts
	// hundreds.
	MaxKeysPerTag int
	// MaxDNSKEYs and MaxDS bound how many DNSKEY and DS records of one zone
	// are considered at all (defaults 32 and 16); the rest are ignored.
	MaxDNSKEYs int
	MaxDS      int
	// MaxDSFailures is how many DS-matched keys may fail to verify the
	// DNSKEY RRset (default 4, Unbound's MAX_DS_MATCH_FAILURES).
	MaxDSFailures int
	// MaxNSEC3Hashes is how many distinct NSEC3 name hashes one query may
	// compute (default 64; CVE-2023-50868). A closest-encloser proof needs
	// one per label of the QNAME below the zone plus the wildcard.
	MaxNSEC3Hashes int
	// MaxNSEC3Iterations is the highest NSEC3 iteration count accepted
	// (default 150, Unbound's default; RFC 9276 §3.2 lets validators treat
	// larger counts as Insecure, which is what the NSEC3 functions do).
	MaxNSEC3Iterations uint16
	// MaxTime bounds the wall-clock time spent in validation for one query
	// (default 500ms), measured from NewBudget. It is a backstop, checked
	// before each expensive operation, not a deadline for the resolution.
	MaxTime time.Duration
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxSigsPerRRset:    8,
		MaxValidations:     128,
		MaxFailures:        16,
		MaxKeysPerTag:      4,
		MaxDNSKEYs:         32,
		MaxDS:              16,
		MaxDSFailures:      4,
		MaxNSEC3Hashes:     64,
		MaxNSEC3Iterations: 150,
		MaxTime:            500 * time.Millisecond,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSigsPerRRset <= 0 {
		l.MaxSigsPerRRset = d.MaxSigsPerRRset
	}
	if l.MaxValidations <= 0 {
		l.MaxValidations = d.MaxValidations
	}
	if l.MaxFailures <= 0 {
		l.MaxFailures = d.MaxFailures
	}
	if l.MaxKeysPerTag <= 0 {
		l.MaxKeysPerTag = d.MaxKeysPerTag
	}
	if l.MaxDNSKEYs <= 0 {
		l.MaxDNSKEYs = d.MaxDNSKEYs
	}
	if l.MaxDS <= 0 {
		l.MaxDS = d.MaxDS
	}
	if l.MaxDSFailures <= 0 {
		l.MaxDSFailures = d.MaxDSFailures
	}
	if l.MaxNSEC3Hashes <= 0 {
		l.MaxNSEC3Hashes = d.MaxNSEC3Hashes
	}
	if l.MaxNSEC3Iterations == 0 {
		l.MaxNSEC3Iterations = d.MaxNSEC3Iterations
	}
	if l.MaxTime <= 0 {
		l.MaxTime = d.MaxTime
	}
	return l
}

// Policy holds validation choices that are not resource limits.
type Policy struct {
	// DisableSHA1 treats RSASHA1 (5), RSASHA1-NSEC3-SHA1 (7) and SHA-1 DS
	// digests as unsupported, so zones that depend on them validate as
	// Insecure rather than Secure (RFC 8624 §3.1 permits this; some
	// distributions' crypto policies require it).
	DisableSHA1 bool
	// ClockSkew widens every signature validity window on both sides.
	// Zero means the default of 5 minutes; negative means none. Unbound uses
	// no skew by default but a fudge of 10% of the validity period capped at
	// a day for expired signatures; a small fixed allowance is easier to
	// reason about and covers the clock drift of a home router.
	ClockSkew time.Duration
	// IgnoreTime skips the signature validity windows altogether, for a
	// caller that knows its wall clock is wrong (a router before NTP has
	// answered): everything else is checked as usual, and the caller
	// must not vouch for the result as Secure to anyone. Validated TTLs
	// are then judged as at each signature's inception.
	IgnoreTime bool
}

// DefaultClockSkew is the skew used when Policy.ClockSkew is zero.
const DefaultClockSkew = 5 * time.Minute

func (p Policy) skew() time.Duration {
	switch {
	case p.ClockSkew == 0:
		return DefaultClockSkew
	case p.ClockSkew < 0:
		return 0
	}
	return p.ClockSkew
}

// Budget tracks one query's validation spend. It is safe for concurrent
// use, so that the parallel fetches of one client query (name server
// addresses, keys) spend one budget: create one per client query with
// NewBudget and pass it to every call made for that query. A nil *Budget is accepted everywhere and behaves as a
// fresh default budget per call, which bounds that call but not the query.
type Budget struct {
	limits   Limits
	policy   Policy
	deadline time.Time

	// mu guards the fields below; the checks themselves run outside it.
	mu sync.Mutex

	// future is the latest inception of a root signature that verified
	// but is not valid yet (see FutureInception); 0 for none.
	future uint32

	validations int // signature verifications attempted
	failures    int // of which failed
	hashes      int // NSEC3 names hashed

	// nsec3 memoises hashes so that a proof that looks at many NSEC3
	// records hashes each candidate name once.
	nsec3 map[nsec3Key]string

	// sigs, if not nil, remembers signature checks across budgets.
	sigs *SigCache
}

type nsec3Key struct {
	name string
	alg  uint8
	iter uint16
	salt string
}

// NewBudget returns a budget for one query with l (zero fields take their
// defaults) and p.
func NewBudget(l Limits, p Policy) *Budget {
	l = l.withDefaults()
	return &Budget{limits: l, policy: p, deadline: time.Now().Add(l.MaxTime)}
}

// WithSigCache makes b look up and remember successful signature checks in
// c (nil: none), and returns b. A remembered check still counts against
// the budget's verifications, so that limits hold the same whatever the
// memo holds.
func (b *Budget) WithSigCache(c *SigCache) *Budget {
	b.sigs = c
	return b
}

func (b *Budget) orDefault() *Budget {
	if b == nil {
		return NewBudget(Limits{}, Policy{})
	}
	return b
}

// Validations reports how many signature verifications were attempted so
// far; tests and metrics use it.
func (b *Budget) Validations() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.validations
}

// Failures reports how many signature verifications failed so far.
func (b *Budget) Failures() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}

// Hashes reports how many NSEC3 name hashes were computed so far.
func (b *Budget) Hashes() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hashes
}

// Limits returns the limits in force (defaults filled in).
func (b *Budget) Limits() Limits {
	if b == nil {
		return DefaultLimits()
	}
	return b.limits
}

// Policy returns the policy in force.
func (b *Budget) Policy() Policy {
	if b == nil {
		return Policy{}
	}
	return b.policy
}

// noteFuture checks a root signature that is not valid yet with the keys
// cands, and remembers its inception if one of them made it: the root's
// operators do not sign ahead of time, so the wall clock is behind (see
// FutureInception). Only the root's, because the operator of any other
// zone could sign with a far future inception to make a resolver think
// its clock wrong.
func (b *Budget) noteFuture(rrset []dns.RR, sig *dns.RRSIG, cands []*dns.DNSKEY) {
	data, err := signedData(rrset, sig)
	if err != nil {
		return
	}
	raw, err := sigBytes(sig)
	if err != nil {
		return
	}
	for _, k := range cands {
		if b.spendValidation() != nil {
			return
		}
		if b.sigs.verify(k, sig.Algorithm, data, raw) == nil {
			b.mu.Lock()
			if b.future == 0 || int32(sig.Inception-b.future) > 0 {
				b.future = sig.Inception
			}
			b.mu.Unlock()
			return
		}
		b.fail()
	}
}

// FutureInception reports the latest inception of a root signature that
// verified with a key trusted at the time but was not valid yet by the
// clock given: evidence that the wall clock is behind. t is in the era of
// now (RFC 4034 serial arithmetic).
func (b *Budget) FutureInception(now time.Time) (t time.Time, ok bool) {
	if b == nil {
		return time.Time{}, false
	}
	b.mu.Lock()
	future := b.future
	b.mu.Unlock()
	if future == 0 {
		return time.Time{}, false
	}
	return now.Add(time.Duration(int32(future-uint32(now.Unix()))) * time.Second), true
}

// spendValidation reserves one signature verification.
func (b *Budget) spendValidation() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.validations >= b.limits.MaxValidations {
		return fmt.Errorf("%w: %d signature verifications", ErrBudget, b.validations)
	}
	if b.failures >= b.limits.MaxFailures {
		return fmt.Errorf("%w: %d failed signature verifications", ErrBudget, b.failures)
	}
	if time.Now().After(b.deadline) {
		return fmt.Errorf("%w: time limit %v", ErrBudget, b.limits.MaxTime)
	}
	b.validations++
	return nil
}

// spendHash reserves one NSEC3 hash computation.
func (b *Budget) spendHash() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hashes >= b.limits.MaxNSEC3Hashes {
		return fmt.Errorf("%w: %d nsec3 hashes", ErrBudget, b.hashes)
	}
	if time.Now().After(b.deadline) {
		return fmt.Errorf("%w: time limit %v", ErrBudget, b.limits.MaxTime)
	}
	b.hashes++
	return nil
}

// fail counts one signature verification that failed.
func (b *Budget) fail() {
	b.mu.Lock()
	b.failures++
	b.mu.Unlock()
}
