package resolver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Validation follows Unbound's validator: every response is checked
// against the keys of the zone that served it before it is cached, and a
// zone's keys are trusted through the DS its parent signed, up to a trust
// anchor (keys.go).

// budget returns the query's validation budget, making it on first use.
// Every goroutine of the query spends the one budget.
func (r *Resolver) budget(qs *qstate) *dnssec.Budget {
	s := qs.shared
	s.mu.Lock()
	if s.budget == nil {
		p := r.cfg.DNSSECPolicy
		if r.cfg.DNSSEC && !r.ClockPlausible() {
			p.IgnoreTime = true
			s.ignoreTime = true
		}
		s.budget = dnssec.NewBudget(r.dnssecLimits, p).WithSigCache(r.sigs)
	}
	b, ignoreTime := s.budget, s.ignoreTime
	s.mu.Unlock()
	if ignoreTime {
		qs.unchecked = true
	}
	return b
}

// validateAnswer judges the final response for (qname, qtype) from a
// server of zone. It is the one place that knows DNSKEY answers: an
// answer to a DNSKEY question that is (or, from the zone's own servers,
// should be) a zone's key set is judged by that zone's chain of trust,
// whichever servers gave it, since validating it with the zone's keys
// would need the very keys being fetched. Anything else in such an
// answer, and every other response, is judged by validate with the keys
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
	if rest := withoutKeySet(m, qname); len(rest.Answer) > 0 {
		s, c, err := r.validate(ctx, qs, rest, zone, qname, qtype, kind)
		if err != nil {
			return dnssec.Indeterminate, 0, err
		}
		if s != dnssec.Secure {
			code = c
		}
		status = combine(status, s)
	}
	return status, code, nil
}

// withoutKeySet returns a shallow copy of m whose answer section lacks
// the DNSKEY RRset of zone and the signatures over it.
func withoutKeySet(m *dns.Msg, zone string) *dns.Msg {
	out := *m
	out.Answer = nil
	for _, rr := range m.Answer {
		h := rr.Header()
		t := h.Rrtype
		if s, ok := rr.(*dns.RRSIG); ok {
			t = s.TypeCovered
		}
		if t != dns.TypeDNSKEY || !strings.EqualFold(h.Name, zone) {
			out.Answer = append(out.Answer, rr)
		}
	}
	return &out
}

// anchoredZone is the zone whose keys judge an answer for qname from a
// server of zone: zone itself, unless a trust anchor lies between them.
// Then the walk never saw that zone's cut (one server for parent and
// child, no minimisation, or a minimised walk fallen back to full
// names), but whether an answer must validate is a matter of the name,
// not of the cuts seen: under a configured anchor nothing is Insecure
// without a validated proof, so the anchored zone's keys judge it, and
// an unsigned answer is Bogus. A DS record lives above its owner's
// cut, so a DS question is judged by the anchors of the parent.
func (r *Resolver) anchoredZone(zone, qname string, qtype uint16) string {
	name := qname
	if qtype == dns.TypeDS && name != "." {
		name = parent(dns.CanonicalName(name))
	}
	a := r.anchors.Load().Closest(name)
	if a == nil || !dnssec.IsSubDomain(zone, a.Zone) || strings.EqualFold(a.Zone, zone) {
		return zone
	}
	return a.Zone
}

// validate judges a final response for (qname, qtype) from a server of
// zone in three steps: the RRsets of the answer must verify, then the
// denials (NSEC, NSEC3) of the authority section, then what those prove
// (wildcard expansions, NXDOMAIN, NODATA) is judged. It returns
// Indeterminate when validation is off or when the answer holds
// signatures alone (to an RRSIG question), and an error only when keys
// could not be fetched or the query's budget ran out. It knows nothing of
// key sets: validateAnswer judges those.
func (r *Resolver) validate(ctx context.Context, qs *qstate, m *dns.Msg, zone, qname string, qtype uint16, kind respKind) (dnssec.Status, uint16, error) {
	if !r.cfg.DNSSEC {
		return dnssec.Indeterminate, 0, nil
	}
	if dnssec.UnderNTA(r.cfg.NegativeAnchors, qname, r.wall()) {
		// RFC 7646 §2: a name at or below a negative trust anchor is
		// Insecure, also when the anchor is no zone cut and the zone
		// that answered (whose keys zoneKeys judges) is signed.
		return dnssec.Insecure, 0, nil
	}
	if qtype == dns.TypeRRSIG && kind == kindAnswer && sigsOnly(m.Answer) {
		// Signatures are not signed: an answer of nothing but them
		// cannot be validated (Unbound alike), only a denial of them
		// can. Anything beside them must verify like any other answer.
		return dnssec.Indeterminate, 0, nil
	}
	zone = r.anchoredZone(zone, qname, qtype)
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
	v := &verifier{r: r, qs: qs, zone: zone, ks: ks, now: r.wall(), b: r.budget(qs)}
	wildcards, status, code, err := v.answer(ctx, m.Answer)
	if err != nil || status != dnssec.Secure {
		return status, code, err
	}
	if qtype == dns.TypeRRSIG && kind == kindAnswer && hasRRset(m.Answer, qname, dns.TypeRRSIG) {
		// The rest verified, the signatures asked for cannot be.
		return dnssec.Indeterminate, 0, nil
	}
	negative := kind == kindNXDomain || kind == kindNoData
	if len(wildcards) == 0 && !negative {
		return dnssec.Secure, 0, nil
	}
	d, status, code, err := v.denials(ctx, m.Ns)
	if err != nil || status != dnssec.Secure {
		return status, code, err
	}
	proofZone := zone
	if s := firstSigner(m.Ns); s != "" && dnssec.IsSubDomain(zone, s) {
		proofZone = s
	}
	var final string
	if negative {
		final, _ = chainEnd(m.Answer, qname, qtype)
		if st, err := r.bareForwardedDenial(ctx, qs, m, final); err != nil || st == dnssec.Insecure {
			return st, 0, err
		}
	}
	status, code, err = v.judge(d, proofZone, wildcards, final, qtype, kind)
	if err != nil || status != dnssec.Secure || len(d.nsecs)+len(d.nsec3s) == 0 {
		return status, code, err
	}
	switch {
	case qs.unchecked:
		// Kept for other names only once their times can be checked.
	case negative:
		r.rememberNSEC(proofZone, m, r.now())
	default:
		r.rememberWildcards(proofZone, m, wildcards, r.now())
	}
	return status, code, nil
}

// bareForwardedDenial judges a forwarder's NODATA that comes with
// nothing at all in its authority section (dnsmasq's for its own names):
// Insecure where final's zone is proven unsigned, as an unsigned SOA
// would be. Otherwise it reports Indeterminate, and the denial is judged
// like any other (Bogus for want of a proof).
func (r *Resolver) bareForwardedDenial(ctx context.Context, qs *qstate, m *dns.Msg, final string) (dnssec.Status, error) {
	if len(m.Ns) != 0 || !r.forwarded(final) {
		return dnssec.Indeterminate, nil
	}
	ins, err := r.provenInsecure(ctx, qs, final)
	if err != nil || !ins {
		return dnssec.Indeterminate, err
	}
	return dnssec.Insecure, nil
}

// sigsOnly reports whether answer holds records and all are signatures.
func sigsOnly(answer []dns.RR) bool {
	return len(answer) > 0 && !slices.ContainsFunc(answer, func(rr dns.RR) bool {
		return rr.Header().Rrtype != dns.TypeRRSIG
	})
}

// verifier checks the RRsets of one response from a server of zone with
// the zone's keys ks, or with those of a child zone the same servers
// serve where a child signed them.
type verifier struct {
	r    *Resolver
	qs   *qstate
	zone string
	ks   dnssec.KeySet
	now  time.Time // wall clock: signature validity
	b    *dnssec.Budget
}

// keysFor returns the keys for a signer inside zone (a child zone the
// same server serves signs its own records).
func (v *verifier) keysFor(ctx context.Context, signer string) ([]*dns.DNSKEY, dnssec.Result, error) {
	if signer == "" || strings.EqualFold(signer, v.zone) || !dnssec.IsSubDomain(v.zone, signer) {
		return v.ks.Keys, v.ks.Result, nil
	}
	cks, err := v.r.zoneKeys(ctx, v.qs, signer)
	return cks.Keys, cks.Result, err
}

// verify checks one RRset against its signatures sigs.
func (v *verifier) verify(ctx context.Context, set []dns.RR, sigs []*dns.RRSIG) (dnssec.Result, error) {
	signer := v.zone
	if len(sigs) > 0 {
		signer = sigs[0].SignerName
	}
	// The signer comes off the wire: it must be the zone that answered
	// or a zone between it and the owner (a child served by the same
	// servers), never anything else, before any key is fetched for it.
	if owner := set[0].Header().Name; !dnssec.IsSubDomain(v.zone, signer) || !dnssec.IsSubDomain(signer, owner) {
		return dnssec.Result{Status: dnssec.Bogus, Err: fmt.Errorf("%w: signer outside the zone", dnssec.ErrBogus)}, nil
	}
	if len(sigs) == 0 && v.r.forwarded(set[0].Header().Name) {
		// Through a forwarder an unsigned RRset is fine if its zone is
		// proven unsigned (fwdsecure.go), Bogus otherwise.
		ins, err := v.r.provenInsecure(ctx, v.qs, set[0].Header().Name)
		if err != nil {
			return dnssec.Result{}, err
		}
		if ins {
			return dnssec.Result{Status: dnssec.Insecure}, nil
		}
	}
	keys, kr, err := v.keysFor(ctx, signer)
	if err != nil {
		return dnssec.Result{}, err
	}
	if kr.Status != dnssec.Secure {
		return kr, nil
	}
	return dnssec.VerifyRRset(set, sigs, keys, signer, v.now, v.b), nil
}

// verifySets verifies every RRset of section but the signatures and those
// skip names, and calls each with every one that verified. It stops at
// the first Bogus one, with its status and RFC 8914 code. An Insecure one
// does not stop it: the rest must still verify, since one response may
// span zones (a forwarder's alias chain from an unsigned zone into a
// signed one), and an unsigned zone's record must not carry a signed
// zone's forged one past validation. The first Insecure one's status and
// code (none unless its result names one) are the result when nothing is
// Bogus.
func (v *verifier) verifySets(ctx context.Context, section []dns.RR, skip func(h *dns.RR_Header) bool, each func(set []dns.RR, res dnssec.Result)) (dnssec.Status, uint16, error) {
	status, code := dnssec.Secure, uint16(0)
	for _, set := range rrsets(section) {
		h := set[0].Header()
		if h.Rrtype == dns.TypeRRSIG || skip != nil && skip(h) {
			continue
		}
		res, err := v.verify(ctx, set, sigsFor(section, h.Name, h.Rrtype))
		if err == nil {
			err = budgetError(res.Err)
		}
		if err != nil {
			return dnssec.Indeterminate, 0, err
		}
		switch res.Status {
		case dnssec.Secure:
			each(set, res)
		case dnssec.Bogus:
			return res.Status, ede(res.Err, dnssecEDE(dnssec.ErrBogus)), nil
		default:
			// Insecure: an EDE only when the result names one (an
			// unsupported algorithm or digest, RFC 8914 §4.2, 4.3);
			// EDE 6 says Bogus, and Bogus is never served.
			if status == dnssec.Secure {
				status, code = res.Status, ede(res.Err, 0)
			}
		}
	}
	return status, code, nil
}

// answer verifies every RRset of the answer chain and returns those that
// are wildcard expansions; a CNAME synthesised from a DNAME has no
// signature of its own (RFC 6672 §5.3.1).
func (v *verifier) answer(ctx context.Context, answer []dns.RR) ([]wildcardAnswer, dnssec.Status, uint16, error) {
	var wildcards []wildcardAnswer
	status, code, err := v.verifySets(ctx, answer,
		func(h *dns.RR_Header) bool { return h.Rrtype == dns.TypeCNAME && underDNAME(answer, h.Name) },
		func(set []dns.RR, res dnssec.Result) {
			if res.Wildcard != "" {
				h := set[0].Header()
				wildcards = append(wildcards, wildcardAnswer{owner: h.Name, wildcard: res.Wildcard, rrtype: h.Rrtype})
			}
		})
	return wildcards, status, code, err
}

// denialSet is the verified NSEC and NSEC3 records of a response.
type denialSet struct {
	nsecs  []*dns.NSEC
	nsec3s []*dns.NSEC3
}

// denials verifies the RRsets of the authority section and returns its
// NSEC and NSEC3 records, each verified before it is believed. The rest
// of it (the SOA of a negative answer) must verify too, as in Unbound,
// so that nothing Bogus reaches the cache or a client with a Secure
// answer.
func (v *verifier) denials(ctx context.Context, ns []dns.RR) (denialSet, dnssec.Status, uint16, error) {
	var d denialSet
	status, code, err := v.verifySets(ctx, ns, nil, func(set []dns.RR, _ dnssec.Result) {
		for _, rr := range set {
			switch rr := rr.(type) {
			case *dns.NSEC:
				d.nsecs = append(d.nsecs, rr)
			case *dns.NSEC3:
				d.nsec3s = append(d.nsec3s, rr)
			}
		}
	})
	return d, status, code, err
}

// judge checks what the verified denials d of proofZone prove: that no
// closer name matched each wildcard expansion, and for a negative answer
// (kind) that final, the end of the answer chain, does not exist or lacks
// qtype. It is Secure when all hold, Insecure when one lies in an opt-out
// span, and Bogus when one fails or no denial is there to judge.
func (v *verifier) judge(d denialSet, proofZone string, wildcards []wildcardAnswer, final string, qtype uint16, kind respKind) (dnssec.Status, uint16, error) {
	var proofs []dnssec.Result
	for _, w := range wildcards {
		if len(d.nsec3s) > 0 {
			proofs = append(proofs, dnssec.NSEC3Wildcard(w.owner, w.wildcard, proofZone, d.nsec3s, v.b))
		} else {
			proofs = append(proofs, dnssec.NSECWildcard(w.owner, w.wildcard, proofZone, d.nsecs))
		}
	}
	if kind == kindNXDomain || kind == kindNoData {
		switch {
		case len(d.nsec3s) > 0 && kind == kindNXDomain:
			proofs = append(proofs, dnssec.NSEC3NameError(final, proofZone, d.nsec3s, v.b))
		case len(d.nsec3s) > 0:
			proofs = append(proofs, dnssec.NSEC3NoData(final, qtype, proofZone, d.nsec3s, v.b))
		case len(d.nsecs) > 0 && kind == kindNXDomain:
			proofs = append(proofs, dnssec.NSECNameError(final, proofZone, d.nsecs))
		case len(d.nsecs) > 0:
			proofs = append(proofs, dnssec.NSECNoData(final, qtype, proofZone, d.nsecs))
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
	return status, 0, nil
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
