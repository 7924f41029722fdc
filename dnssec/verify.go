package dnssec

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Result is the verdict on one RRset or one denial proof.
type Result struct {
	// Status is Secure, Insecure or Bogus; never Indeterminate.
	Status Status
	// Err says why the status is not Secure (nil when Secure). It wraps one
	// of the package's sentinels; EDE(Err) gives the RFC 8914 code.
	Err error
	// Wildcard is set when a Secure RRset was synthesised from a wildcard
	// (RRSIG Labels below the owner's label count, RFC 4035 §5.3.4): it is
	// the wildcard owner, such as "*.example.". The answer is only Secure
	// once the caller has also proven, with NSECWildcard or NSEC3Wildcard,
	// that the exact name does not exist.
	Wildcard string
	// TTL is the longest time the validated RRset may be cached
	// (RFC 4035 §5.3.3, see ValidatedTTL). Only VerifyRRset and
	// VerifyDNSKEYs set it, and only when Status is Secure; the denial
	// proofs leave it zero because the caller caches NSEC/NSEC3 by the
	// TTLs of their own VerifyRRset results.
	TTL uint32
}

func bogus(err error) Result    { return Result{Status: Bogus, Err: err} }
func insecure(err error) Result { return Result{Status: Insecure, Err: err} }

// VerifyRRset validates rrset (one owner, type and class) against sigs and
// the zone keys of signer, at time now. keys are expected to be the
// already validated DNSKEY RRset of signer (VerifyDNSKEYs). The RRSIGs must
// name signer, which must be the owner or an ancestor of it; their Labels
// field must not exceed the owner's label count; each must be inside its
// validity window widened by Policy.ClockSkew; and a key must match its key
// tag and algorithm, carry the zone-key flag and protocol 3, and not be
// revoked (RFC 4035 §5.3.1, RFC 5011 §7).
//
// One good signature is enough (RFC 6840 §5.4). Signatures with
// unsupported algorithms are skipped, never Insecure here: whether a zone is
// Insecure for want of algorithms is decided from its DS set by
// VerifyDNSKEYs, which an attacker cannot forge. VerifyRRset does not check
// that signer is the right zone for the owner (the caller knows the zone
// cut), and does not prove wildcard non-existence (see Result.Wildcard).
func VerifyRRset(rrset []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, signer string, now time.Time, b *Budget) Result {
	return verifyRRset(rrset, sigs, keys, signer, now, b.orDefault(), 0)
}

// verifyRRset is VerifyRRset with maxTries to override the per-RRset cap
// (0 = Limits.MaxSigsPerRRset).
func verifyRRset(rrset []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, signer string, now time.Time, b *Budget, maxTries int) Result {
	if len(rrset) == 0 || rrset[0] == nil {
		return bogus(fmt.Errorf("dnssec: verify: empty rrset: %w", ErrBogus))
	}
	h0 := rrset[0].Header()
	owner := dns.CanonicalName(h0.Name)
	for _, rr := range rrset[1:] {
		h := rr.Header()
		if h.Rrtype != h0.Rrtype || h.Class != h0.Class || !strings.EqualFold(h.Name, h0.Name) {
			return bogus(fmt.Errorf("dnssec: verify: mixed rrset: %w", ErrBogus))
		}
	}
	signer = dns.CanonicalName(signer)
	if _, ok := dns.IsDomainName(signer); !ok || !IsSubDomain(signer, owner) {
		return bogus(fmt.Errorf("dnssec: verify: signer is not an ancestor of the owner: %w", ErrBogus))
	}
	ownerLabels := dns.CountLabel(owner)
	if strings.HasPrefix(owner, "*.") {
		ownerLabels-- // RFC 4034 §3.1.3: the "*" label is not counted.
	}
	if maxTries <= 0 {
		maxTries = b.limits.MaxSigsPerRRset
	}
	skew := int64(b.policy.skew() / time.Second)

	// Index usable keys by (tag, algorithm), computing each tag once.
	type tagAlg struct {
		tag uint16
		alg uint8
	}
	byTag := make(map[tagAlg][]*dns.DNSKEY)
	for i, k := range keys {
		if i >= b.limits.MaxDNSKEYs {
			break
		}
		if usableKey(k, signer, b.policy) {
			ta := tagAlg{k.KeyTag(), k.Algorithm}
			if len(byTag[ta]) < b.limits.MaxKeysPerTag {
				byTag[ta] = append(byTag[ta], k)
			}
		}
	}

	var (
		sawSig   bool
		why      error // the most telling failure so far
		tries    int
		nowSer   = uint32(now.Unix()) // RFC 4034 §3.1.5: serial arithmetic.
		wildcard string
	)
	better := func(err error) {
		// Prefer a crypto failure over a window failure over a missing key.
		switch {
		case why == nil, errors.Is(why, ErrDNSKEYMissing):
			why = err
		case errors.Is(err, ErrBogus):
			why = err
		}
	}
	for _, sig := range sigs {
		if sig == nil || sig.TypeCovered != h0.Rrtype || !strings.EqualFold(sig.Hdr.Name, h0.Name) {
			continue
		}
		sawSig = true
		if !strings.EqualFold(dns.Fqdn(sig.SignerName), signer) {
			better(fmt.Errorf("dnssec: verify: rrsig signer %q is not the zone: %w", sig.SignerName, ErrBogus))
			continue
		}
		if int(sig.Labels) > ownerLabels {
			better(fmt.Errorf("dnssec: verify: rrsig labels %d above owner's %d: %w", sig.Labels, ownerLabels, ErrBogus))
			continue
		}
		if !AlgorithmSupported(sig.Algorithm, b.policy) {
			continue
		}
		if int32(sig.Expiration-sig.Inception) < 0 {
			better(fmt.Errorf("dnssec: verify: rrsig expires before inception: %w", ErrBogus))
			continue
		}
		if d := int64(int32(sig.Inception - nowSer)); d > skew && !b.policy.IgnoreTime {
			if signer == "." {
				b.noteFuture(rrset, sig, byTag[tagAlg{sig.KeyTag, sig.Algorithm}])
			}
			better(fmt.Errorf("dnssec: verify: %w", ErrSignatureNotYetValid))
			continue
		}
		if d := int64(int32(nowSer - sig.Expiration)); d > skew && !b.policy.IgnoreTime {
			better(fmt.Errorf("dnssec: verify: %w", ErrSignatureExpired))
			continue
		}
		cands := byTag[tagAlg{sig.KeyTag, sig.Algorithm}]
		if len(cands) == 0 {
			better(fmt.Errorf("dnssec: verify: no key for tag %d algorithm %d: %w", sig.KeyTag, sig.Algorithm, ErrDNSKEYMissing))
			continue
		}
		data, err := signedData(rrset, sig)
		if err != nil {
			better(fmt.Errorf("dnssec: verify: %w", err))
			continue
		}
		raw, err := sigBytes(sig)
		if err != nil {
			better(fmt.Errorf("dnssec: verify: %w", err))
			continue
		}
		for _, k := range cands {
			if tries >= maxTries {
				return bogus(fmt.Errorf("dnssec: verify: %w: %d signature checks for one rrset", ErrBudget, tries))
			}
			if err := b.spendValidation(); err != nil {
				return bogus(fmt.Errorf("dnssec: verify: %w", err))
			}
			tries++
			if err := b.sigs.verify(k, sig.Algorithm, data, raw); err != nil {
				b.fail()
				better(fmt.Errorf("dnssec: verify: %w", err))
				continue
			}
			if int(sig.Labels) < ownerLabels {
				labels := dns.SplitDomainName(owner)
				wildcard = "*." + strings.Join(labels[len(labels)-int(sig.Labels):], ".") + "."
				if sig.Labels == 0 {
					wildcard = "*."
				}
			}
			at := now
			if b.policy.IgnoreTime {
				at = time.Unix(int64(sig.Inception), 0)
			}
			return Result{Status: Secure, Wildcard: wildcard, TTL: ValidatedTTL(rrset, sig, at)}
		}
	}
	if !sawSig {
		return bogus(fmt.Errorf("dnssec: verify: %w", ErrRRSIGsMissing))
	}
	if why == nil {
		// Only unsupported algorithms signed it.
		why = fmt.Errorf("dnssec: verify: no rrsig with a supported algorithm: %w", ErrRRSIGsMissing)
	}
	return bogus(why)
}

// usableKey reports whether k may verify signatures for zone: owned by the
// zone, zone-key flag set, protocol 3, not revoked, supported algorithm.
func usableKey(k *dns.DNSKEY, zone string, p Policy) bool {
	return k != nil && k.Flags&dns.ZONE != 0 && k.Flags&dns.REVOKE == 0 && k.Protocol == 3 &&
		AlgorithmSupported(k.Algorithm, p) && strings.EqualFold(dns.Fqdn(k.Hdr.Name), zone)
}

// ValidatedTTL returns how long rrset, validated by sig, may be cached at
// now: the least of the RRs' TTLs, the RRSIG's Original TTL, the RRSIG's
// own TTL and the seconds until the signature expires (RFC 4035 §5.3.3,
// RFC 4034 §3). It returns 0 for an expired signature.
func ValidatedTTL(rrset []dns.RR, sig *dns.RRSIG, now time.Time) uint32 {
	if sig == nil {
		return 0
	}
	ttl := min(sig.OrigTtl, sig.Hdr.Ttl)
	for _, rr := range rrset {
		ttl = min(ttl, rr.Header().Ttl)
	}
	left := int64(int32(sig.Expiration - uint32(now.Unix())))
	if left <= 0 {
		return 0
	}
	if left < int64(ttl) {
		ttl = uint32(left)
	}
	return ttl
}

// KeySet is the verdict on a zone's DNSKEY RRset.
type KeySet struct {
	Result
	// Keys are the zone's DNSKEYs (only those VerifyRRset may use) when
	// Status is Secure; nil otherwise.
	Keys []*dns.DNSKEY
}

// DSAnchor wraps a zone's DS RRset, as validated in the parent, as the
// trust for VerifyDNSKEYs. Records other than DS are ignored.
func DSAnchor(zone string, ds []dns.RR) *Anchor {
	a := &Anchor{Zone: dns.CanonicalName(zone)}
	for _, rr := range ds {
		if d, ok := rr.(*dns.DS); ok {
			a.DS = append(a.DS, d)
		}
	}
	return a
}

// VerifyDNSKEYs validates a zone's DNSKEY RRset (rrs: the DNSKEY records
// and their RRSIGs, as they came in the answer) against trust: the parent's
// validated DS set (DSAnchor) or a configured anchor. The RRset is Secure
// when a DS with a supported digest type and algorithm matches a zone key
// (SEP flag or not) that signs the RRset, or a DNSKEY anchor signs it
// (RFC 4035 §5.2). When every DS has an unsupported digest or algorithm,
// the zone is Insecure (RFC 4035 §5.2, RFC 6840 §5.2). SHA-1 DS records are
// ignored when a SHA-256 or SHA-384 one is present (RFC 4509 §3).
//
// VerifyDNSKEYs does not fetch anything and does not check that the DS
// set itself was validated: that is the caller's chain walk.
func VerifyDNSKEYs(rrs []dns.RR, trust *Anchor, now time.Time, b *Budget) KeySet {
	b = b.orDefault()
	if trust == nil || (len(trust.DS) == 0 && len(trust.DNSKEY) == 0) {
		return KeySet{Result: bogus(fmt.Errorf("dnssec: dnskey: no trust anchor or ds: %w", ErrBogus))}
	}
	zone := dns.CanonicalName(trust.Zone)
	var keys []*dns.DNSKEY
	var rrset []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range rrs {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			if x != nil && strings.EqualFold(dns.Fqdn(x.Hdr.Name), zone) && len(keys) < b.limits.MaxDNSKEYs {
				keys = append(keys, x)
				rrset = append(rrset, x)
			}
		case *dns.RRSIG:
			if x != nil && x.TypeCovered == dns.TypeDNSKEY {
				sigs = append(sigs, x)
			}
		}
	}
	if len(rrset) == 0 {
		return KeySet{Result: bogus(fmt.Errorf("dnssec: dnskey: no dnskey records: %w", ErrDNSKEYMissing))}
	}

	// Choose the DS records worth trying.
	strong := false
	for _, d := range trust.DS {
		if d != nil && (d.DigestType == dns.SHA256 || d.DigestType == dns.SHA384) &&
			AlgorithmSupported(d.Algorithm, b.policy) {
			strong = true
		}
	}
	var usable []*dns.DS
	unsupportedAlg := false
	for _, d := range trust.DS {
		switch {
		case d == nil:
		case !DigestSupported(d.DigestType, b.policy):
		case !AlgorithmSupported(d.Algorithm, b.policy):
			unsupportedAlg = true
		case strong && d.DigestType == dns.SHA1:
		case len(usable) < b.limits.MaxDS:
			usable = append(usable, d)
		}
	}
	var anchorKeys []*dns.DNSKEY
	for _, k := range trust.DNSKEY {
		if k != nil && AlgorithmSupported(k.Algorithm, b.policy) && k.Flags&dns.REVOKE == 0 {
			anchorKeys = append(anchorKeys, k)
		}
	}
	if len(usable) == 0 && len(anchorKeys) == 0 {
		if unsupportedAlg {
			return KeySet{Result: insecure(fmt.Errorf("dnssec: dnskey: %w", ErrUnsupportedAlgorithm))}
		}
		if len(trust.DS) > 0 {
			return KeySet{Result: insecure(fmt.Errorf("dnssec: dnskey: %w", ErrUnsupportedDigest))}
		}
		return KeySet{Result: insecure(fmt.Errorf("dnssec: dnskey: %w", ErrUnsupportedAlgorithm))}
	}

	var why error
	failures := 0
	try := func(k *dns.DNSKEY) (Result, bool) {
		r := verifyRRset(rrset, sigs, []*dns.DNSKEY{k}, zone, now, b, 0)
		if r.Status == Secure {
			return r, true
		}
		why = r.Err
		if errors.Is(r.Err, ErrBudget) {
			return r, true
		}
		failures++
		if failures >= b.limits.MaxDSFailures {
			return bogus(fmt.Errorf("dnssec: dnskey: %w: %d ds-matched keys failed", ErrBudget, failures)), true
		}
		return r, false
	}
	for _, k := range anchorKeys {
		if r, done := try(k); done {
			return keySet(r, keys, zone, b.policy)
		}
	}
	perTag := make(map[uint16]int)
	matched := false
	for _, d := range usable {
		for _, k := range keys {
			if !usableKey(k, zone, b.policy) || !dsMatches(d, k) {
				continue
			}
			if perTag[d.KeyTag] >= b.limits.MaxKeysPerTag {
				break
			}
			perTag[d.KeyTag]++
			matched = true
			if r, done := try(k); done {
				return keySet(r, keys, zone, b.policy)
			}
		}
	}
	if !matched && len(anchorKeys) == 0 {
		return KeySet{Result: bogus(fmt.Errorf("dnssec: dnskey: no key matches the ds set: %w", ErrDNSKEYMissing))}
	}
	if why == nil {
		why = fmt.Errorf("dnssec: dnskey: %w", ErrBogus)
	}
	return KeySet{Result: bogus(why)}
}

func keySet(r Result, keys []*dns.DNSKEY, zone string, p Policy) KeySet {
	if r.Status != Secure {
		return KeySet{Result: r}
	}
	var zk []*dns.DNSKEY
	for _, k := range keys {
		if usableKey(k, zone, p) {
			zk = append(zk, k)
		}
	}
	return KeySet{Result: r, Keys: zk}
}
