package resolver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Validation follows Unbound's validator: every response is checked
// against the keys of the zone that served it before it is cached, and a
// zone's keys are trusted through the DS its parent signed, up to a trust
// anchor. A zone's keys are fetched and checked once, then kept in a
// small cache of their own.

const (
	// bogusTTL is how long a Bogus answer or key set is kept, so that a
	// broken zone does not cost a full validation per query, nor stay
	// broken in the cache long after it is fixed.
	bogusTTL = 60
	// maxKeyTTL bounds how long a validated key set is trusted.
	maxKeyTTL = time.Hour
)

type keyEntry struct {
	ks      dnssec.KeySet
	expires time.Time
}

// budget returns the query's validation budget, making it on first use.
func (r *Resolver) budget(qs *qstate) *dnssec.Budget {
	if qs.budget == nil {
		qs.budget = dnssec.NewBudget(r.dnssecLimits, r.cfg.DNSSECPolicy)
	}
	return qs.budget
}

// zoneKeys returns the validated DNSKEYs of zone, or why there are none:
// Insecure when the chain of trust proves the zone unsigned (or no anchor
// covers it, or a negative trust anchor does), Bogus when it is broken.
// An error means the keys or DS could not be fetched at all.
func (r *Resolver) zoneKeys(ctx context.Context, qs *qstate, zone string) (dnssec.KeySet, error) {
	return r.zoneKeysWith(ctx, qs, zone, nil)
}

// zoneKeysWith is zoneKeys with the zone's DNSKEY answer already in hand
// (nil: look it up). A key set given is always judged against the DS or
// trust anchor, whatever the key cache holds: it is an answer the client
// may get, and the cache vouches only for the copy it was filled from.
func (r *Resolver) zoneKeysWith(ctx context.Context, qs *qstate, zone string, keys *dns.Msg) (dnssec.KeySet, error) {
	zone = dns.CanonicalName(zone)
	now := r.now()
	cached, hit := r.keys.Get(zone)
	hit = hit && now.Before(cached.expires)
	if hit && keys == nil {
		return cached.ks, nil
	}
	if dnssec.UnderNTA(r.cfg.NegativeAnchors, zone, now) || r.anchors.Closest(zone) == nil {
		return dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, nil
	}
	trust := r.anchors.Lookup(zone)
	if trust == nil {
		ds, meta, err := r.lookup(ctx, qs, zone, dns.TypeDS)
		if err != nil {
			return dnssec.KeySet{}, err
		}
		switch dnssec.Status(meta.Security) {
		case dnssec.Bogus:
			return r.keepKeys(zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Bogus,
				Err: fmt.Errorf("%w: DS of %s", dnssec.ErrBogus, zone)}}, now), nil
		case dnssec.Secure:
		default:
			if ds.Rcode == dns.RcodeNameError {
				// Even under opt-out, a zone's apex exists.
				return r.keepKeys(zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Bogus,
					Err: fmt.Errorf("%w: %s does not exist", dnssec.ErrBogus, zone)}}, now), nil
			}
			return r.keepKeys(zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now), nil
		}
		var set []dns.RR
		for _, rr := range ds.Answer {
			if rr.Header().Rrtype == dns.TypeDS && strings.EqualFold(rr.Header().Name, zone) {
				set = append(set, rr)
			}
		}
		if len(set) == 0 {
			// A proven absence of DS means an insecure delegation only if
			// the name is a delegation at all (RFC 4035 §5.2): the proof
			// must show NS without SOA at it. A name that does not exist,
			// or exists without being a cut, is no zone, and a signature
			// that claims it as signer is bogus.
			if !provesDelegation(ds, zone, r.budget(qs)) {
				return r.keepKeys(zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Bogus,
					Err: fmt.Errorf("%w: %s is not a zone cut", dnssec.ErrBogus, zone)}}, now), nil
			}
			return r.keepKeys(zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now), nil
		}
		trust = dnssec.DSAnchor(zone, set)
	}
	if keys == nil {
		m, _, err := r.lookup(ctx, qs, zone, dns.TypeDNSKEY)
		if err != nil {
			return dnssec.KeySet{}, err
		}
		// The lookup judged the keys already when it had to fetch them.
		if e, ok := r.keys.Get(zone); ok && now.Before(e.expires) {
			return e.ks, nil
		}
		keys = m
	}
	ks := dnssec.VerifyDNSKEYs(keys.Answer, trust, now, r.budget(qs))
	if err := budgetError(ks.Err); err != nil {
		return dnssec.KeySet{}, err // says nothing about the zone: not kept
	}
	if ks.Status == dnssec.Bogus && hit && cached.ks.Status != dnssec.Bogus {
		// One bad copy (a forger's, or a broken server's) does not
		// undo keys already proven: the answer is Bogus, the zone not.
		return ks, nil
	}
	return r.keepKeys(zone, ks, now), nil
}

func (r *Resolver) keepKeys(zone string, ks dnssec.KeySet, now time.Time) dnssec.KeySet {
	ttl := time.Duration(ks.TTL) * time.Second
	switch {
	case ks.Status == dnssec.Bogus:
		ttl = bogusTTL * time.Second
	case ks.Status == dnssec.Insecure || ttl <= 0:
		ttl = 5 * time.Minute
	}
	r.keys.Add(zone, keyEntry{ks: ks, expires: now.Add(min(ttl, maxKeyTTL))})
	return ks
}

// validateAnswer judges the final response for (qname, qtype) from a
// server of zone, as validate does, except that an answer to a DNSKEY
// question that is (or, from the zone's own servers, should be) a zone's
// key set is judged by that zone's chain of trust, whichever servers gave
// it: validating it with the zone's keys would need the very keys being
// fetched. Anything else in such an answer is still checked with the keys
// of zone, the zone whose servers answered.
func (r *Resolver) validateAnswer(ctx context.Context, qs *qstate, m *dns.Msg, zone, qname string, qtype uint16, kind respKind) (dnssec.Status, uint16, error) {
	if !r.cfg.DNSSEC || qtype != dns.TypeDNSKEY || kind != kindAnswer ||
		!hasRRset(m.Answer, qname, dns.TypeDNSKEY) && !strings.EqualFold(qname, zone) {
		// A DNSKEY question at an alias, say, is answered by zone's
		// records like any other.
		return r.validate(ctx, qs, m, zone, qname, qtype, kind)
	}
	ks, err := r.zoneKeysWith(ctx, qs, qname, m)
	if err != nil {
		return dnssec.Indeterminate, 0, err
	}
	if ks.Status == dnssec.Bogus {
		return dnssec.Bogus, ede(ks.Err, dnssecEDE(dnssec.ErrDNSKEYMissing)), nil
	}
	status, code := ks.Status, ede(ks.Err, 0)
	if !onlyKeySet(m.Answer, qname) {
		rest, rcode, err := r.validate(ctx, qs, m, zone, qname, qtype, kind)
		if err != nil {
			return dnssec.Indeterminate, 0, err
		}
		if rest != dnssec.Secure {
			code = rcode
		}
		status = combine(status, rest)
	}
	return status, code, nil
}

// onlyKeySet reports whether answer holds nothing but the DNSKEY RRset of
// zone and signatures over it.
func onlyKeySet(answer []dns.RR, zone string) bool {
	for _, rr := range answer {
		h := rr.Header()
		t := h.Rrtype
		if s, ok := rr.(*dns.RRSIG); ok {
			t = s.TypeCovered
		}
		if t != dns.TypeDNSKEY || !strings.EqualFold(h.Name, zone) {
			return false
		}
	}
	return true
}

// validate judges a final response for (qname, qtype) from a server of
// zone. It returns Indeterminate when validation is off, when the answer
// holds signatures alone (to an RRSIG question), or when it is the key
// set of qname alone (validateAnswer judges that), and an error only when
// keys could not be fetched. The key set of qname in a DNSKEY answer is
// left to validateAnswer; every other RRset must verify.
func (r *Resolver) validate(ctx context.Context, qs *qstate, m *dns.Msg, zone, qname string, qtype uint16, kind respKind) (dnssec.Status, uint16, error) {
	if !r.cfg.DNSSEC {
		return dnssec.Indeterminate, 0, nil
	}
	if qtype == dns.TypeDNSKEY && kind == kindAnswer && onlyKeySet(m.Answer, qname) {
		return dnssec.Indeterminate, 0, nil
	}
	sigsOnly := kind == kindAnswer && len(m.Answer) > 0 && !slices.ContainsFunc(m.Answer, func(rr dns.RR) bool {
		return rr.Header().Rrtype != dns.TypeRRSIG
	})
	if qtype == dns.TypeRRSIG && sigsOnly {
		// Signatures are not signed: an answer of nothing but them
		// cannot be validated (Unbound alike), only a denial of them
		// can. Anything beside them must verify like any other answer.
		return dnssec.Indeterminate, 0, nil
	}
	ks, err := r.zoneKeys(ctx, qs, zone)
	if err != nil {
		return dnssec.Indeterminate, 0, err
	}
	switch ks.Status {
	case dnssec.Insecure:
		// An unsupported algorithm or digest is worth telling the client
		// (RFC 8914 §4.2, 4.3) though the answer stands.
		return dnssec.Insecure, ede(ks.Err, 0), nil
	case dnssec.Bogus:
		return dnssec.Bogus, ede(ks.Err, dnssecEDE(dnssec.ErrDNSKEYMissing)), nil
	}
	now := r.now()
	b := r.budget(qs)
	// keysFor returns the keys for a signer inside zone (a child zone the
	// same server serves signs its own records).
	keysFor := func(signer string) ([]*dns.DNSKEY, dnssec.Result, error) {
		if signer == "" || strings.EqualFold(signer, zone) || !dns.IsSubDomain(zone, signer) {
			return ks.Keys, ks.Result, nil
		}
		cks, err := r.zoneKeys(ctx, qs, signer)
		return cks.Keys, cks.Result, err
	}
	verify := func(set []dns.RR, sigs []*dns.RRSIG) (dnssec.Result, error) {
		signer := zone
		if len(sigs) > 0 {
			signer = sigs[0].SignerName
		}
		// The signer comes off the wire: it must be the zone that answered
		// or a zone between it and the owner (a child served by the same
		// servers), never anything else, before any key is fetched for it.
		if owner := set[0].Header().Name; !dns.IsSubDomain(zone, signer) || !dns.IsSubDomain(signer, owner) {
			return dnssec.Result{Status: dnssec.Bogus, Err: fmt.Errorf("%w: signer outside the zone", dnssec.ErrBogus)}, nil
		}
		keys, kr, err := keysFor(signer)
		if err != nil {
			return dnssec.Result{}, err
		}
		if kr.Status != dnssec.Secure {
			return kr, nil
		}
		if !dns.IsSubDomain(zone, signer) {
			signer = zone
		}
		return dnssec.VerifyRRset(set, sigs, keys, signer, now, b), nil
	}

	// Every RRset of the answer chain must verify; a CNAME synthesised
	// from a DNAME has no signature of its own (RFC 6672 §5.3.1).
	var wildcards []wildcardAnswer
	for _, set := range rrsets(m.Answer) {
		h := set[0].Header()
		if h.Rrtype == dns.TypeRRSIG || (h.Rrtype == dns.TypeCNAME && underDNAME(m.Answer, h.Name)) {
			continue
		}
		if qtype == dns.TypeDNSKEY && h.Rrtype == dns.TypeDNSKEY && strings.EqualFold(h.Name, qname) {
			continue // the key set: validateAnswer judges it
		}
		res, err := verify(set, sigsFor(m.Answer, h.Name, h.Rrtype))
		if err == nil {
			err = budgetError(res.Err)
		}
		if err != nil {
			return dnssec.Indeterminate, 0, err
		}
		if res.Status != dnssec.Secure {
			return res.Status, ede(res.Err, dnssecEDE(dnssec.ErrBogus)), nil
		}
		if res.Wildcard != "" {
			wildcards = append(wildcards, wildcardAnswer{owner: h.Name, wildcard: res.Wildcard, rrtype: h.Rrtype})
		}
	}
	if qtype == dns.TypeRRSIG && kind == kindAnswer && hasRRset(m.Answer, qname, dns.TypeRRSIG) {
		// The rest verified, the signatures asked for cannot be.
		return dnssec.Indeterminate, 0, nil
	}
	if len(wildcards) == 0 && kind != kindNXDomain && kind != kindNoData {
		return dnssec.Secure, 0, nil
	}

	// Denials: the NSEC/NSEC3 RRsets of the authority section, each
	// verified before it is believed. The rest of it (the SOA of a
	// negative answer) must verify too, as in Unbound, so that nothing
	// Bogus reaches the cache or a client with a Secure answer.
	var nsecs []*dns.NSEC
	var nsec3s []*dns.NSEC3
	for _, set := range rrsets(m.Ns) {
		h := set[0].Header()
		if h.Rrtype == dns.TypeRRSIG {
			continue
		}
		res, err := verify(set, sigsFor(m.Ns, h.Name, h.Rrtype))
		if err == nil {
			err = budgetError(res.Err)
		}
		if err != nil {
			return dnssec.Indeterminate, 0, err
		}
		if res.Status != dnssec.Secure {
			return res.Status, ede(res.Err, dnssecEDE(dnssec.ErrBogus)), nil
		}
		for _, rr := range set {
			switch rr := rr.(type) {
			case *dns.NSEC:
				nsecs = append(nsecs, rr)
			case *dns.NSEC3:
				nsec3s = append(nsec3s, rr)
			}
		}
	}
	proofZone := zone
	if s := firstSigner(m.Ns); s != "" && dns.IsSubDomain(zone, s) {
		proofZone = s
	}
	var proofs []dnssec.Result
	for _, w := range wildcards {
		if len(nsec3s) > 0 {
			proofs = append(proofs, dnssec.NSEC3Wildcard(w.owner, w.wildcard, proofZone, nsec3s, b))
		} else {
			proofs = append(proofs, dnssec.NSECWildcard(w.owner, w.wildcard, proofZone, nsecs))
		}
	}
	if kind == kindNXDomain || kind == kindNoData {
		final, _ := chainEnd(m.Answer, qname, qtype)
		switch {
		case len(nsec3s) > 0 && kind == kindNXDomain:
			proofs = append(proofs, dnssec.NSEC3NameError(final, proofZone, nsec3s, b))
		case len(nsec3s) > 0:
			proofs = append(proofs, dnssec.NSEC3NoData(final, qtype, proofZone, nsec3s, b))
		case len(nsecs) > 0 && kind == kindNXDomain:
			proofs = append(proofs, dnssec.NSECNameError(final, proofZone, nsecs))
		case len(nsecs) > 0:
			proofs = append(proofs, dnssec.NSECNoData(final, qtype, proofZone, nsecs))
		default:
			return dnssec.Bogus, dnssecEDE(dnssec.ErrNSECMissing), nil
		}
	}
	status := dnssec.Secure
	for _, p := range proofs {
		if err := budgetError(p.Err); err != nil {
			return dnssec.Indeterminate, 0, err
		}
		switch p.Status {
		case dnssec.Bogus:
			return dnssec.Bogus, ede(p.Err, dnssecEDE(dnssec.ErrNSECMissing)), nil
		case dnssec.Insecure:
			status = dnssec.Insecure
		}
	}
	switch {
	case status != dnssec.Secure || len(nsecs)+len(nsec3s) == 0:
	case kind == kindNXDomain || kind == kindNoData:
		r.rememberNSEC(proofZone, m, now)
	case len(wildcards) > 0:
		r.rememberWildcards(proofZone, m, wildcards, now)
	}
	return status, 0, nil
}

// maxBogusRetries caps how many times one client query asks another
// server after an answer failed validation (Unbound's
// VAL_MAX_RESTART_COUNT).
const maxBogusRetries = 5

// bogusRetryable reports whether a Bogus answer for qtype from a server
// of zone is worth asking another server for: the query has retries
// left, and the fault may lie with the answer rather than with the
// zone's keys, already judged Bogus, which no other answer would mend.
func (r *Resolver) bogusRetryable(qs *qstate, zone string, qtype uint16) bool {
	if qs.bogusRetries >= maxBogusRetries {
		return false
	}
	if qtype == dns.TypeDNSKEY {
		return true // the answer is the keys
	}
	e, ok := r.keys.Peek(dns.CanonicalName(zone))
	return !ok || e.ks.Status != dnssec.Bogus || !r.now().Before(e.expires)
}

// noteReferralDS validates the DS RRset, or the denial of one, that a
// signed referral from zone's servers carries for child (RFC 4035 §3.1.4),
// and caches it as the answer to a DS question for child, so that the
// chain of trust needs no DS query of its own: Unbound and Knot Resolver
// both take the DS from the referral, and parent servers need not answer
// a separate DS query alike. A referral without either, or one whose
// keys cannot be fetched now, leaves the DS to be asked for later.
func (r *Resolver) noteReferralDS(ctx context.Context, qs *qstate, resp *dns.Msg, zone, child string) {
	key := r.fullKey(child, dns.TypeDS)
	now := r.now()
	if r.anchors.Lookup(child) != nil {
		return // the anchor, not the parent, vouches for the child
	}
	if e, ok := r.keys.Get(dns.CanonicalName(child)); ok && now.Before(e.expires) {
		return
	}
	if _, _, ok := r.cache.GetMsg(key, now); ok {
		return
	}
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: child, Qtype: dns.TypeDS, Qclass: dns.ClassINET}}
	for _, rr := range resp.Ns {
		h := rr.Header()
		if !strings.EqualFold(h.Name, child) {
			continue
		}
		if h.Rrtype == dns.TypeDS || h.Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeDS {
			m.Answer = append(m.Answer, rr)
		}
	}
	kind := kindAnswer
	if len(m.Answer) == 0 {
		kind = kindNoData
		for _, rr := range resp.Ns {
			switch rr := rr.(type) {
			case *dns.NSEC, *dns.NSEC3:
				m.Ns = append(m.Ns, rr)
			case *dns.RRSIG:
				if rr.TypeCovered == dns.TypeNSEC || rr.TypeCovered == dns.TypeNSEC3 {
					m.Ns = append(m.Ns, rr)
				}
			}
		}
		if len(m.Ns) == 0 {
			return
		}
	}
	if !slices.ContainsFunc(append(m.Answer, m.Ns...), func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG }) {
		// Unsigned: from an insecure zone there is nothing to learn, and
		// from a secure one a DS query gets a second chance.
		return
	}
	status, code, err := r.validate(ctx, qs, m, zone, child, dns.TypeDS, kind)
	switch {
	case err != nil || status == dnssec.Bogus || status == dnssec.Indeterminate:
	case kind == kindAnswer:
		r.store(key, m, cache.Meta{Rank: cache.RankAnswerNonAuth, Security: cache.Security(status), EDE: code})
	case status == dnssec.Insecure || provesDelegation(m, child, r.budget(qs)):
		// A denial without the SOA a DS query's answer has would be
		// cached a few seconds at most (RFC 2308 §5); what it proves,
		// that the child is unsigned, is kept instead, as zoneKeys
		// would conclude.
		r.keepKeys(dns.CanonicalName(child), dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now)
	}
}

// provesDelegation reports whether a validated negative answer to a DS
// query for zone shows a delegation there: the NSEC or NSEC3 record of
// the name has NS and lacks SOA (RFC 4035 §5.2, RFC 5155 §8.6). An opt-out
// NSEC3 covering the name counts too: unsigned delegations hide there.
func provesDelegation(m *dns.Msg, zone string, b *dnssec.Budget) bool {
	if m.Rcode != dns.RcodeSuccess {
		return false
	}
	delegation := func(bitmap []uint16) bool {
		return slices.Contains(bitmap, dns.TypeNS) && !slices.Contains(bitmap, dns.TypeSOA)
	}
	for _, rr := range m.Ns {
		switch n := rr.(type) {
		case *dns.NSEC:
			if strings.EqualFold(n.Hdr.Name, zone) {
				return delegation(n.TypeBitMap)
			}
		case *dns.NSEC3:
			parentZone := parent(dns.CanonicalName(n.Hdr.Name))
			if ok, err := dnssec.NSEC3Matches(n, parentZone, zone, b); err == nil && ok {
				return delegation(n.TypeBitMap)
			}
		}
	}
	// No record of the name itself: only an opt-out span may cover it,
	// which the proof already judged Insecure rather than Secure.
	return false
}

// budgetError turns a validation stopped by this query's budget into an
// error: the query fails (SERVFAIL), but nothing about the zone is learned
// or cached, unlike a Bogus result.
func budgetError(err error) error {
	if errors.Is(err, dnssec.ErrBudget) {
		return &Error{EDE: EDEDNSSECBogus, Err: fmt.Errorf("%w: %w", ErrBudget, err)}
	}
	return nil
}

// ede returns err's RFC 8914 code, or def.
func ede(err error, def uint16) uint16 {
	if c, ok := dnssec.EDE(err); ok {
		return c
	}
	return def
}

func dnssecEDE(sentinel error) uint16 {
	c, _ := dnssec.EDE(sentinel)
	return c
}

// hasRRset reports whether rrs hold records of type t owned by name.
func hasRRset(rrs []dns.RR, name string, t uint16) bool {
	return slices.ContainsFunc(rrs, func(rr dns.RR) bool {
		return rr.Header().Rrtype == t && strings.EqualFold(rr.Header().Name, name)
	})
}

// sigsFor returns the RRSIGs in rrs over (owner, t).
func sigsFor(rrs []dns.RR, owner string, t uint16) []*dns.RRSIG {
	var out []*dns.RRSIG
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == t && strings.EqualFold(s.Hdr.Name, owner) {
			out = append(out, s)
		}
	}
	return out
}

func firstSigner(rrs []dns.RR) string {
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && (s.TypeCovered == dns.TypeNSEC || s.TypeCovered == dns.TypeNSEC3) {
			return s.SignerName
		}
	}
	return ""
}

// combine is the status of an answer built from parts: Bogus if any part
// is, Secure only if every part is.
func combine(a, b dnssec.Status) dnssec.Status {
	switch {
	case a == dnssec.Bogus || b == dnssec.Bogus:
		return dnssec.Bogus
	case a == dnssec.Secure && b == dnssec.Secure:
		return dnssec.Secure
	case a == dnssec.Indeterminate && b == dnssec.Indeterminate:
		return dnssec.Indeterminate
	}
	return dnssec.Insecure
}

// clampTTL returns a copy of m whose records live at most ttl seconds.
func clampTTL(m *dns.Msg, ttl uint32) *dns.Msg {
	out := m.Copy()
	for _, sec := range [][]dns.RR{out.Answer, out.Ns, out.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype != dns.TypeOPT && rr.Header().Ttl > ttl {
				rr.Header().Ttl = ttl
			}
		}
	}
	return out
}

// forgetBogusKeys drops a Bogus key set of zone judged from one server's
// answer, so that another server's copy is judged afresh; keys already
// proven stay (zoneKeysWith does not replace them with a Bogus copy).
func (r *Resolver) forgetBogusKeys(zone string) {
	zone = dns.CanonicalName(zone)
	if e, ok := r.keys.Peek(zone); ok && e.ks.Status == dnssec.Bogus {
		r.keys.Remove(zone)
	}
}
