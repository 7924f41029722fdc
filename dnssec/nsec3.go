package dnssec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// usableNSEC3 filters nsec3s for zone: owned directly below zone, hash
// algorithm SHA-1 (others are ignored, RFC 5155 §8.1), flags 0 or 1
// (RFC 5155 §8.2). It reports ErrNSEC3Iterations if any usable record's
// iteration count is above the limit (RFC 9276 §3.2: the answer is then
// Insecure, not Bogus).
func usableNSEC3(nsec3s []*dns.NSEC3, zone string, b *Budget) ([]*dns.NSEC3, error) {
	var out []*dns.NSEC3
	var iterErr error
	for _, n := range nsec3s {
		if n == nil || n.Hash != dns.SHA1 || n.Flags > 1 {
			continue
		}
		// The owner is one hash label over the zone; in the root zone
		// that label is the whole name.
		owner := dns.Fqdn(n.Hdr.Name)
		off, _ := dns.NextLabel(owner, 0)
		parent := owner[off:]
		if parent == "" {
			parent = "."
		}
		if owner == "." || !strings.EqualFold(parent, zone) {
			continue
		}
		if n.Iterations > b.limits.MaxNSEC3Iterations {
			iterErr = fmt.Errorf("%d iterations: %w", n.Iterations, ErrNSEC3Iterations)
			continue
		}
		out = append(out, n)
	}
	if iterErr != nil {
		return nil, iterErr
	}
	return out, nil
}

// hashName computes (or recalls) the NSEC3 hash of name with n's
// parameters, spending the budget.
func (b *Budget) hashName(name string, n *dns.NSEC3) (string, error) {
	k := nsec3Key{name: dns.CanonicalName(name), alg: n.Hash, iter: n.Iterations, salt: strings.ToUpper(n.Salt)}
	b.mu.Lock()
	h, ok := b.nsec3[k]
	b.mu.Unlock()
	if ok {
		return h, nil
	}
	if err := b.spendHash(); err != nil {
		return "", err
	}
	h = dns.HashName(k.name, n.Hash, n.Iterations, n.Salt)
	if h == "" {
		return "", fmt.Errorf("nsec3 hash: %w", ErrBogus)
	}
	b.mu.Lock()
	if b.nsec3 == nil {
		b.nsec3 = make(map[nsec3Key]string)
	}
	b.nsec3[k] = h
	b.mu.Unlock()
	return h, nil
}

func ownerHash(n *dns.NSEC3) string {
	owner := n.Hdr.Name
	if i := strings.IndexByte(owner, '.'); i >= 0 {
		owner = owner[:i]
	}
	return strings.ToUpper(owner)
}

// nsec3Match reports whether n's owner is the hash of name.
func nsec3Match(n *dns.NSEC3, name string, b *Budget) (bool, error) {
	h, err := b.hashName(name, n)
	if err != nil {
		return false, err
	}
	return h == ownerHash(n), nil
}

// nsec3Cover reports whether the hash of name falls strictly between n's
// owner hash and Next Hashed Owner, wrapping at the end of the chain.
func nsec3Cover(n *dns.NSEC3, name string, b *Budget) (bool, error) {
	h, err := b.hashName(name, n)
	if err != nil {
		return false, err
	}
	o, next := ownerHash(n), strings.ToUpper(n.NextDomain)
	switch {
	case o < next:
		return o < h && h < next, nil
	case o == next: // one-record chain: everything but the owner
		return h != o, nil
	default: // last record: wraps to the first
		return h > o || h < next, nil
	}
}

// NSEC3Covers reports whether n covers name (RFC 5155 §1.3, for
// aggressive use of cached NSEC3, RFC 8198). It spends one hash from b
// unless the same hash was already computed with it. n must be usable:
// SHA-1, flags 0 or 1, iterations within the limit (else it returns an
// error wrapping ErrBogus or ErrNSEC3Iterations).
func NSEC3Covers(n *dns.NSEC3, zone, name string, b *Budget) (bool, error) {
	b = b.orDefault()
	u, err := usableNSEC3([]*dns.NSEC3{n}, dns.CanonicalName(zone), b)
	if err != nil {
		return false, fmt.Errorf("dnssec: nsec3 covers: %w", err)
	}
	if len(u) == 0 || !IsSubDomain(zone, name) {
		return false, nil
	}
	return nsec3Cover(n, name, b)
}

// NSEC3Matches reports whether n is the NSEC3 record of name; see
// NSEC3Covers.
func NSEC3Matches(n *dns.NSEC3, zone, name string, b *Budget) (bool, error) {
	b = b.orDefault()
	u, err := usableNSEC3([]*dns.NSEC3{n}, dns.CanonicalName(zone), b)
	if err != nil {
		return false, fmt.Errorf("dnssec: nsec3 matches: %w", err)
	}
	if len(u) == 0 || !IsSubDomain(zone, name) {
		return false, nil
	}
	return nsec3Match(n, name, b)
}

func findNSEC3(nsec3s []*dns.NSEC3, name string, b *Budget, cover bool) (*dns.NSEC3, error) {
	for _, n := range nsec3s {
		var ok bool
		var err error
		if cover {
			ok, err = nsec3Cover(n, name, b)
		} else {
			ok, err = nsec3Match(n, name, b)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return n, nil
		}
	}
	return nil, nil
}

// encloser is the result of a closest-encloser proof.
type encloser struct {
	ce       string     // closest encloser
	ceNSEC3  *dns.NSEC3 // matches ce
	nc       string     // next closer name
	ncNSEC3  *dns.NSEC3 // covers nc; nil if qname itself matched
	optOut   bool       // ncNSEC3 has the Opt-Out flag
	matching *dns.NSEC3 // set instead when qname itself matches
}

// closestEncloser runs RFC 5155 §8.3: walk up from qname to zone until an
// NSEC3 matches, and require that the name one label below (the next
// closer) is covered. The closest encloser must not be the parent side of
// a delegation or a DNAME owner (RFC 5155 §8.3, RFC 6840 §4.1).
func closestEncloser(qname, zone string, nsec3s []*dns.NSEC3, b *Budget) (encloser, error) {
	qname = dns.CanonicalName(qname)
	if !IsSubDomain(zone, qname) {
		return encloser{}, fmt.Errorf("qname outside zone: %w", ErrNSECMissing)
	}
	if m, err := findNSEC3(nsec3s, qname, b, false); err != nil || m != nil {
		return encloser{ce: qname, ceNSEC3: m, matching: m}, err
	}
	nc := qname
	for off, end := dns.NextLabel(qname, 0); ; off, end = dns.NextLabel(qname, off) {
		sname := qname[off:]
		if end {
			sname = "."
		}
		if !IsSubDomain(zone, sname) {
			return encloser{}, fmt.Errorf("no closest encloser: %w", ErrNSECMissing)
		}
		m, err := findNSEC3(nsec3s, sname, b, false)
		if err != nil {
			return encloser{}, err
		}
		if m != nil {
			if sname != zone && ((hasType(m.TypeBitMap, dns.TypeNS) && !hasType(m.TypeBitMap, dns.TypeSOA)) ||
				hasType(m.TypeBitMap, dns.TypeDNAME)) {
				return encloser{}, fmt.Errorf("closest encloser is a delegation or dname: %w", ErrNSECMissing)
			}
			c, err := findNSEC3(nsec3s, nc, b, true)
			if err != nil {
				return encloser{}, err
			}
			if c == nil {
				return encloser{}, fmt.Errorf("next closer not covered: %w", ErrNSECMissing)
			}
			return encloser{ce: sname, ceNSEC3: m, nc: nc, ncNSEC3: c, optOut: c.Flags&1 == 1}, nil
		}
		if end {
			return encloser{}, fmt.Errorf("no closest encloser: %w", ErrNSECMissing)
		}
		nc = sname
	}
}

// nsec3Result turns an error from the helpers into a Result.
func nsec3Result(what string, err error) Result {
	switch {
	case errors.Is(err, ErrNSEC3Iterations):
		return insecure(fmt.Errorf("dnssec: %s: %w", what, err))
	case errors.Is(err, ErrBudget):
		return bogus(fmt.Errorf("dnssec: %s: %w", what, err))
	}
	return bogus(fmt.Errorf("dnssec: %s: %w", what, err))
}

func prepNSEC3(what, zone string, nsec3s []*dns.NSEC3, b *Budget) ([]*dns.NSEC3, string, *Budget, *Result) {
	b = b.orDefault()
	zone = dns.CanonicalName(zone)
	u, err := usableNSEC3(nsec3s, zone, b)
	if err != nil {
		r := nsec3Result(what, err)
		return nil, zone, b, &r
	}
	if len(u) == 0 {
		r := bogus(fmt.Errorf("dnssec: %s: no usable nsec3: %w", what, ErrNSECMissing))
		return nil, zone, b, &r
	}
	return u, zone, b, nil
}

// NSEC3NameError proves NXDOMAIN for qname with NSEC3 (RFC 5155 §8.4): a
// closest-encloser proof and an NSEC3 covering the wildcard at the closest
// encloser. If the NSEC3 covering the next closer name has Opt-Out set,
// an unsigned delegation may hide there and the result is Insecure
// (RFC 5155 §9.2, as Unbound does).
func NSEC3NameError(qname, zone string, nsec3s []*dns.NSEC3, b *Budget) Result {
	const what = "nsec3 name error"
	u, zone, b, r := prepNSEC3(what, zone, nsec3s, b)
	if r != nil {
		return *r
	}
	e, err := closestEncloser(qname, zone, u, b)
	if err != nil {
		return nsec3Result(what, err)
	}
	if e.matching != nil {
		return bogus(fmt.Errorf("dnssec: %s: qname exists: %w", what, ErrNSECMissing))
	}
	w, err := findNSEC3(u, wildcardOf(e.ce), b, true)
	if err != nil {
		return nsec3Result(what, err)
	}
	if w == nil {
		return bogus(fmt.Errorf("dnssec: %s: wildcard not denied: %w", what, ErrNSECMissing))
	}
	if e.optOut {
		return Result{Status: Insecure}
	}
	return Result{Status: Secure}
}

// NSEC3NoData proves that qname has no qtype RRset with NSEC3
// (RFC 5155 §8.5–§8.7): an NSEC3 matching qname without qtype and CNAME
// (this also covers empty non-terminals, whose NSEC3 has an empty bitmap);
// or, for qtype DS, a closest-encloser proof whose next closer is covered
// by an Opt-Out NSEC3 (Insecure: an unsigned delegation, RFC 5155 §8.6);
// or a wildcard NODATA: a closest-encloser proof and an NSEC3 matching the
// wildcard without qtype and CNAME (Insecure when the next closer's NSEC3
// has Opt-Out, with or without that wildcard record). For qtype DS, a
// matching NSEC3 with NS but neither DS nor SOA proves securely that the
// delegation is insecure (RFC 5155 §8.9 uses the same test for referrals;
// the caller then treats the child as Insecure).
func NSEC3NoData(qname string, qtype uint16, zone string, nsec3s []*dns.NSEC3, b *Budget) Result {
	const what = "nsec3 nodata"
	u, zone, b, r := prepNSEC3(what, zone, nsec3s, b)
	if r != nil {
		return *r
	}
	e, err := closestEncloser(qname, zone, u, b)
	if err != nil {
		return nsec3Result(what, err)
	}
	if e.matching != nil {
		if err := typeAbsent(e.matching.TypeBitMap, qtype, qname); err != nil {
			return bogus(fmt.Errorf("dnssec: %s: %w", what, err))
		}
		return Result{Status: Secure}
	}
	if qtype == dns.TypeDS {
		if e.optOut {
			return Result{Status: Insecure}
		}
		return bogus(fmt.Errorf("dnssec: %s: ds: next closer not opt-out: %w", what, ErrNSECMissing))
	}
	w, err := findNSEC3(u, wildcardOf(e.ce), b, false)
	if err != nil {
		return nsec3Result(what, err)
	}
	if w == nil {
		if e.optOut {
			// An opt-out span covers the next closer name: it may hide
			// an unsigned delegation whose data this is (RFC 5155 §9.2,
			// Unbound's case 5), so no proof either way.
			return Result{Status: Insecure}
		}
		return bogus(fmt.Errorf("dnssec: %s: no wildcard nsec3: %w", what, ErrNSECMissing))
	}
	if err := typeAbsent(w.TypeBitMap, qtype, wildcardOf(e.ce)); err != nil {
		return bogus(fmt.Errorf("dnssec: %s: wildcard: %w", what, err))
	}
	if e.optOut {
		return Result{Status: Insecure}
	}
	return Result{Status: Secure}
}

// NSEC3Delegation proves a referral from zone to child unsigned
// (RFC 5155 §8.9): it is NSEC3NoData for the DS type at child, so an
// Insecure or Secure result both mean the child zone is Insecure; Bogus
// means the referral lied.
func NSEC3Delegation(child, zone string, nsec3s []*dns.NSEC3, b *Budget) Result {
	return NSEC3NoData(child, dns.TypeDS, zone, nsec3s, b)
}

// NSEC3Wildcard completes a wildcard answer (Result.Wildcard from
// VerifyRRset) with NSEC3 (RFC 5155 §8.8): the closest encloser is the
// wildcard's parent, and an NSEC3 must cover the next closer name of qname
// below it. Opt-Out on that NSEC3 makes the result Insecure.
func NSEC3Wildcard(qname, wildcard, zone string, nsec3s []*dns.NSEC3, b *Budget) Result {
	const what = "nsec3 wildcard"
	u, zone, b, r := prepNSEC3(what, zone, nsec3s, b)
	if r != nil {
		return *r
	}
	qname = dns.CanonicalName(qname)
	ce := strings.TrimPrefix(dns.CanonicalName(wildcard), "*.")
	if ce == "" {
		ce = "."
	}
	if !IsSubDomain(ce, qname) || strings.EqualFold(ce, qname) || !IsSubDomain(zone, ce) {
		return bogus(fmt.Errorf("dnssec: %s: wildcard does not enclose qname: %w", what, ErrBogus))
	}
	// Next closer: ce with one more label of qname.
	labels := dns.SplitDomainName(qname)
	nc := dns.Fqdn(strings.Join(labels[len(labels)-dns.CountLabel(ce)-1:], "."))
	c, err := findNSEC3(u, nc, b, true)
	if err != nil {
		return nsec3Result(what, err)
	}
	if c == nil {
		return bogus(fmt.Errorf("dnssec: %s: next closer not covered: %w", what, ErrNSECMissing))
	}
	if c.Flags&1 == 1 {
		return Result{Status: Insecure}
	}
	return Result{Status: Secure}
}
