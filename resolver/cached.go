package resolver

import (
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Answers built from RRsets the cache holds, rather than from a cached
// response to the same question.

// cachedAlias answers (name, qtype) from an alias the cache holds: a CNAME
// at name, learned from an answer for another type, or a DNAME above it,
// from which the CNAME is synthesised (RFC 6672 §3.2), as Unbound does.
// The answer is the alias alone; resolve follows it.
func (r *Resolver) cachedAlias(name string, qtype uint16, now time.Time) (*dns.Msg, cache.Meta, bool) {
	out := new(dns.Msg)
	out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	if qtype != dns.TypeCNAME {
		if rrs, meta, ok := r.cache.GetRRset(name, dns.TypeCNAME, dns.ClassINET, now); ok && r.usableAlias(meta) && r.usable(meta) {
			out.Answer = rrs
			return out, meta, true
		}
	}
	if qtype == dns.TypeDNAME {
		return nil, cache.Meta{}, false
	}
	for anc := parent(dns.CanonicalName(name)); anc != "."; anc = parent(anc) {
		rrs, meta, ok := r.cache.GetRRset(anc, dns.TypeDNAME, dns.ClassINET, now)
		if !ok || !r.usableAlias(meta) || !r.usable(meta) {
			continue
		}
		for _, rr := range rrs {
			d, ok := rr.(*dns.DNAME)
			if !ok {
				continue
			}
			target, ok := dnameTarget(name, d)
			if !ok {
				// Too long a name: YXDOMAIN, as the DNAME's server
				// would say (RFC 6672 §2.2), and Unbound says from
				// its cache.
				out.Rcode = dns.RcodeYXDomain
				out.Answer = rrs
				return out, meta, true
			}
			out.Answer = append(rrs, synthCNAME(name, target, d.Hdr.Ttl))
			return out, meta, true
		}
	}
	return nil, cache.Meta{}, false
}

// cachedSecure answers (name, qtype) from an address RRset that came,
// validated, in the answer to another question (the target of a CNAME
// chain that one response held whole), as Unbound and Knot Resolver
// answer from their RRset caches. Only Secure data answers so: what was
// not validated waits for a question of its own.
func (r *Resolver) cachedSecure(name string, qtype uint16, now time.Time) (*dns.Msg, cache.Meta, bool) {
	if qtype != dns.TypeA && qtype != dns.TypeAAAA {
		return nil, cache.Meta{}, false
	}
	rrs, meta, ok := r.cache.GetRRset(name, qtype, dns.ClassINET, now)
	if !ok || !r.usable(meta) || meta.Rank != cache.RankValidated || dnssec.Status(meta.Security) != dnssec.Secure || fromWildcard(rrs) {
		// A wildcard's expansion needs its denial proof beside it,
		// which the RRset cache does not keep.
		return nil, cache.Meta{}, false
	}
	out := new(dns.Msg)
	out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	out.Answer = rrs
	return out, meta, true
}

// usableAlias reports whether a cached alias may answer other questions.
// With validation on, only a validated one may (Secure, or Insecure as
// proven by the chain of trust): an alias answers for every type at its
// name, a DNAME for every name below, so one left unchecked (from an
// answer of signatures, say) would let a single forged reply redirect a
// signed zone. Without validation, anything not Bogus.
func (r *Resolver) usableAlias(meta cache.Meta) bool {
	s := dnssec.Status(meta.Security)
	if r.cfg.DNSSEC {
		return s == dnssec.Secure || s == dnssec.Insecure
	}
	return s != dnssec.Bogus
}

// fromWildcard reports whether a signature in answer shows its RRset
// expanded from a wildcard: fewer labels than its owner (RFC 4035
// §5.3.4).
func fromWildcard(answer []dns.RR) bool {
	return slices.ContainsFunc(answer, func(rr dns.RR) bool {
		s, ok := rr.(*dns.RRSIG)
		return ok && int(s.Labels) < dns.CountLabel(s.Hdr.Name) && !strings.HasPrefix(s.Hdr.Name, "*.")
	})
}

// denialRecords returns the NSEC and NSEC3 records of rrs and their
// signatures.
func denialRecords(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.NSEC, *dns.NSEC3:
			out = append(out, rr)
		case *dns.RRSIG:
			if rr.TypeCovered == dns.TypeNSEC || rr.TypeCovered == dns.TypeNSEC3 {
				out = append(out, rr)
			}
		}
	}
	return out
}

// keepAnswerRRsets lets addresses and NS sets learned from a validated (or
// unvalidated but not Bogus) answer feed the iterator's view of name
// servers, and keeps its aliases for other questions (cachedAlias): with
// validation on, only aliases validated Secure or proven Insecure, since
// an alias answers every type at its name (a DNAME every name below) and
// an Indeterminate answer was not checked at all.
func (r *Resolver) keepAnswerRRsets(resp *dns.Msg, status dnssec.Status, unchecked bool) {
	if status == dnssec.Bogus {
		return
	}
	aliases := !r.cfg.DNSSEC || status == dnssec.Secure || status == dnssec.Insecure
	meta := cache.Meta{Rank: cache.RankAnswer, Security: cache.Security(status), Unchecked: unchecked}
	switch {
	case status == dnssec.Secure:
		meta.Rank = cache.RankValidated
	case !resp.Authoritative:
		meta.Rank = cache.RankAnswerNonAuth
	}
	now := r.now()
	for _, set := range rrsets(resp.Answer) {
		h := set[0].Header()
		switch h.Rrtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeNS:
			// With their signatures: validated addresses answer
			// clients too (cachedSecure).
			for _, sig := range sigsFor(resp.Answer, h.Name, h.Rrtype) {
				set = append(set, sig)
			}
			r.cache.SetRRset(set, meta, now)
		case dns.TypeCNAME, dns.TypeDNAME:
			// Aliases hold whatever the type asked next (cachedAlias).
			// A CNAME synthesised from a DNAME is not the zone's own
			// record: the DNAME is kept instead.
			if !aliases || h.Rrtype == dns.TypeCNAME && underDNAME(resp.Answer, h.Name) {
				continue
			}
			for _, sig := range sigsFor(resp.Answer, h.Name, h.Rrtype) {
				set = append(set, sig)
			}
			r.cache.SetRRset(set, meta, now)
		}
	}
}
