package resolver

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Aggressive use of the validated cache (RFC 8198): NSEC records that
// proved a denial are kept per zone, in canonical order, and later
// questions they answer (a name between two of them, a type missing from
// one) are answered NXDOMAIN or NODATA without asking the zone's servers.
// NSEC3 records are kept too (unordered: their order is by hash) and
// tried against the hashes of the name, its ancestors and their
// wildcards, within the query's hashing budget.

const (
	maxNSECPerZone = 256
	maxNSECZones   = 4096
)

type nsecEntry struct {
	nsec    *dns.NSEC
	sigs    []dns.RR
	expires time.Time
}

// zoneNSEC holds one zone's validated NSEC records and the SOA that
// goes with negative answers from it.
type zoneNSEC struct {
	mu      sync.Mutex   // guards the fields below
	entries []nsecEntry  // sorted by owner in canonical order
	nsec3   []nsec3Entry // in no order
	soa     []dns.RR     // SOA and its RRSIGs
}

type nsec3Entry struct {
	nsec3   *dns.NSEC3
	sigs    []dns.RR
	expires time.Time
}

func newNSECStore() *cache.Sharded[string, *zoneNSEC] {
	return cache.NewSharded[string, *zoneNSEC](maxNSECZones, 0, nil)
}

// rememberNSEC keeps the validated NSEC RRsets of a Secure denial from
// zone, with the SOA of the response.
func (r *Resolver) rememberNSEC(zone string, m *dns.Msg, now time.Time) {
	var soa []dns.RR
	var ttl uint32 = maxNegativeSeconds
	for _, rr := range m.Ns {
		if s, ok := rr.(*dns.SOA); ok && strings.EqualFold(s.Hdr.Name, zone) {
			soa = append(soa, rr)
			ttl = min(ttl, s.Hdr.Ttl, s.Minttl)
		}
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeSOA {
			soa = append(soa, rr)
		}
	}
	zone = dns.CanonicalName(zone)
	z, ok := r.nsec.Get(zone)
	if !ok {
		z = &zoneNSEC{}
		r.nsec.Add(zone, z)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(soa) > 0 {
		// A wildcard answer's proof comes without one: negative answers
		// are synthesised only once a denial brought it.
		z.soa = soa
	}
	for _, rr := range m.Ns {
		// Opt-out records cannot prove a name absent (RFC 8198 §4.3),
		// and zones full of them (com.) would only cost hashing per miss.
		if n3, ok := rr.(*dns.NSEC3); ok && n3.Flags&1 == 0 && dns.IsSubDomain(zone, n3.Hdr.Name) {
			sigs := sigsAsRR(m.Ns, n3.Hdr.Name, dns.TypeNSEC3)
			z.addNSEC3Locked(nsec3Entry{nsec3: n3, sigs: sigs,
				expires: capBySigs(now.Add(time.Duration(min(ttl, n3.Hdr.Ttl))*time.Second), sigs)}, now)
		}
		n, ok := rr.(*dns.NSEC)
		if !ok || !dns.IsSubDomain(zone, n.Hdr.Name) {
			continue
		}
		sigs := sigsAsRR(m.Ns, n.Hdr.Name, dns.TypeNSEC)
		e := nsecEntry{nsec: n, sigs: sigs, expires: capBySigs(now.Add(time.Duration(min(ttl, n.Hdr.Ttl))*time.Second), sigs)}
		i, found := slices.BinarySearchFunc(z.entries, n.Hdr.Name, func(e nsecEntry, name string) int {
			return dnssec.CanonicalCompare(e.nsec.Hdr.Name, name)
		})
		if !found && len(z.entries) >= maxNSECPerZone {
			// Full: make room by dropping what has expired.
			z.entries = slices.DeleteFunc(z.entries, func(e nsecEntry) bool { return !now.Before(e.expires) })
			i, found = slices.BinarySearchFunc(z.entries, n.Hdr.Name, func(e nsecEntry, name string) int {
				return dnssec.CanonicalCompare(e.nsec.Hdr.Name, name)
			})
		}
		switch {
		case found:
			z.entries[i] = e
		case len(z.entries) < maxNSECPerZone:
			z.entries = slices.Insert(z.entries, i, e)
		}
	}
}

// addNSEC3Locked keeps e, replacing the record of the same owner or an
// expired one; a full zone keeps what it has.
func (z *zoneNSEC) addNSEC3Locked(e nsec3Entry, now time.Time) {
	for i := range z.nsec3 {
		if strings.EqualFold(z.nsec3[i].nsec3.Hdr.Name, e.nsec3.Hdr.Name) || !now.Before(z.nsec3[i].expires) {
			z.nsec3[i] = e
			return
		}
	}
	if len(z.nsec3) < maxNSECPerZone {
		z.nsec3 = append(z.nsec3, e)
	}
}

// capBySigs returns t, or the earliest signature expiration if sooner: a
// proof is no longer valid once its signatures have expired.
func capBySigs(t time.Time, sigs []dns.RR) time.Time {
	for _, rr := range sigs {
		if s, ok := rr.(*dns.RRSIG); ok {
			if exp := time.Unix(int64(s.Expiration), 0); exp.Before(t) {
				t = exp
			}
		}
	}
	return t
}

// maxNegativeSeconds caps what a synthesised answer may be kept for, as
// the cache caps negative answers.
const maxNegativeSeconds = 3600

func sigsAsRR(rrs []dns.RR, owner string, t uint16) []dns.RR {
	var out []dns.RR
	for _, s := range sigsFor(rrs, owner, t) {
		out = append(out, s)
	}
	return out
}

// synthesise answers (name, qtype) from the validated NSEC records of the
// closest zone that has some, when they prove NXDOMAIN or NODATA.
func (r *Resolver) synthesise(name string, qtype uint16, now time.Time, b *dnssec.Budget) (*dns.Msg, cache.Meta, bool) {
	if !r.cfg.DNSSEC {
		return nil, cache.Meta{}, false
	}
	name = dns.CanonicalName(name)
	start := name
	if qtype == dns.TypeDS && name != "." {
		// DS records, and their denial, live in the parent zone.
		start = parent(name)
	}
	for zone := start; ; zone = parent(zone) {
		if z, ok := r.nsec.Get(zone); ok {
			if m, meta, ok := z.synthesise(zone, name, qtype, now); ok {
				return m, meta, ok
			}
			if m, meta, ok := z.synthesise3(zone, name, qtype, now, b); ok {
				return m, meta, ok
			}
			return r.synthesiseWildcard(z, zone, name, qtype, now, b)
		}
		if zone == "." {
			return nil, cache.Meta{}, false
		}
	}
}

func (z *zoneNSEC) synthesise(zone, name string, qtype uint16, now time.Time) (*dns.Msg, cache.Meta, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	pred := z.predecessorLocked(name, now)
	if pred == nil || len(z.soa) == 0 {
		return nil, cache.Meta{}, false
	}
	out := new(dns.Msg)
	out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	var proof []*nsecEntry
	if strings.EqualFold(pred.nsec.Hdr.Name, name) {
		// NSECNoData also checks the side of a cut: the parent's NSEC
		// (NS without SOA) denies DS only, the child's apex NSEC anything
		// but DS; synthesise looks for DS in the parent's store.
		if dnssec.NSECNoData(name, qtype, zone, []*dns.NSEC{pred.nsec}).Status != dnssec.Secure {
			return nil, cache.Meta{}, false
		}
		proof = []*nsecEntry{pred}
	} else {
		if !dnssec.Covers(pred.nsec, name) {
			return nil, cache.Meta{}, false
		}
		ce := closestEncloser(name, pred.nsec)
		wild := z.predecessorLocked("*."+ce, now)
		if wild == nil {
			return nil, cache.Meta{}, false
		}
		if dnssec.NSECNameError(name, zone, []*dns.NSEC{pred.nsec, wild.nsec}).Status != dnssec.Secure {
			return nil, cache.Meta{}, false
		}
		out.Rcode = dns.RcodeNameError
		proof = []*nsecEntry{pred}
		if wild != pred {
			proof = append(proof, wild)
		}
	}
	out.Ns = append(out.Ns, z.soa...)
	for _, p := range proof {
		out.Ns = append(out.Ns, p.nsec)
		out.Ns = append(out.Ns, p.sigs...)
	}
	return out, cache.Meta{Rank: cache.RankAnswer, Security: uint8(dnssec.Secure)}, true
}

// predecessorLocked returns the unexpired NSEC whose owner is the last at
// or before name in canonical order.
func (z *zoneNSEC) predecessorLocked(name string, now time.Time) *nsecEntry {
	i, found := slices.BinarySearchFunc(z.entries, name, func(e nsecEntry, name string) int {
		return dnssec.CanonicalCompare(e.nsec.Hdr.Name, name)
	})
	if !found {
		i--
	}
	if i < 0 || !now.Before(z.entries[i].expires) {
		return nil
	}
	return &z.entries[i]
}

// closestEncloser is the deepest ancestor of name that the NSEC covering
// it shows to exist: the longer common suffix of name with the NSEC's
// owner or its next name (RFC 4035 §5.4).
func closestEncloser(name string, n *dns.NSEC) string {
	a := commonAncestor(name, n.Hdr.Name)
	b := commonAncestor(name, n.NextDomain)
	if dns.CountLabel(b) > dns.CountLabel(a) {
		return b
	}
	return a
}

func commonAncestor(a, b string) string {
	n := dns.CompareDomainName(a, b)
	return suffix(dns.CanonicalName(a), n)
}

// synthesise3 is synthesise for NSEC3 zones: it picks the cached records
// that match or cover the hashes of name, its ancestors in the zone and
// their wildcards, and asks for a NODATA or a closest-encloser proof.
func (z *zoneNSEC) synthesise3(zone, name string, qtype uint16, now time.Time, b *dnssec.Budget) (*dns.Msg, cache.Meta, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if qtype == dns.TypeDS || len(z.soa) == 0 {
		return nil, cache.Meta{}, false
	}
	var candidates []string
	for a := name; ; a = parent(a) {
		candidates = append(candidates, a, "*."+a)
		if strings.EqualFold(a, zone) || a == "." {
			break
		}
	}
	var picked []*nsec3Entry
	var set []*dns.NSEC3
	for i := range z.nsec3 {
		e := &z.nsec3[i]
		if !now.Before(e.expires) {
			continue
		}
		for _, c := range candidates {
			m, err := dnssec.NSEC3Matches(e.nsec3, zone, c, b)
			if err != nil {
				return nil, cache.Meta{}, false
			}
			cv := false
			if !m {
				if cv, err = dnssec.NSEC3Covers(e.nsec3, zone, c, b); err != nil {
					return nil, cache.Meta{}, false
				}
			}
			if m || cv {
				picked = append(picked, e)
				set = append(set, e.nsec3)
				break
			}
		}
	}
	if len(set) == 0 {
		return nil, cache.Meta{}, false
	}
	out := new(dns.Msg)
	out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	switch {
	case dnssec.NSEC3NoData(name, qtype, zone, set, b).Status == dnssec.Secure:
	case dnssec.NSEC3NameError(name, zone, set, b).Status == dnssec.Secure:
		out.Rcode = dns.RcodeNameError
	default:
		return nil, cache.Meta{}, false
	}
	out.Ns = append(out.Ns, z.soa...)
	for _, p := range picked {
		out.Ns = append(out.Ns, p.nsec3)
		out.Ns = append(out.Ns, p.sigs...)
	}
	return out, cache.Meta{Rank: cache.RankAnswer, Security: uint8(dnssec.Secure)}, true
}

// wildcardAnswer is a Secure answer validate found synthesised from a
// wildcard: owner and type of the RRset, and the wildcard's name.
type wildcardAnswer struct {
	owner, wildcard string
	rrtype          uint16
}

// rememberWildcards keeps what a Secure wildcard answer from zone proves
// for later questions (RFC 8198 §5.3): the NSEC or NSEC3 records that
// showed the name absent, and the wildcard's RRsets, under the
// wildcard's own name, with their signatures (which sign that name).
func (r *Resolver) rememberWildcards(zone string, m *dns.Msg, ws []wildcardAnswer, now time.Time) {
	r.rememberNSEC(zone, m, now)
	meta := cache.Meta{Rank: cache.RankValidated, Security: uint8(dnssec.Secure)}
	for _, w := range ws {
		var set []dns.RR
		for _, rr := range m.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, w.owner) {
				continue
			}
			if h.Rrtype == w.rrtype || h.Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == w.rrtype {
				c := dns.Copy(rr)
				c.Header().Name = w.wildcard
				set = append(set, c)
			}
		}
		if len(set) > 0 {
			r.cache.SetRRset(set, meta, now)
		}
	}
}

// synthesiseWildcard answers (name, qtype) from a cached wildcard of zone
// whose expansion the zone's cached NSEC or NSEC3 records allow: they
// must show that name itself does not exist and that the wildcard's
// owner is its closest encloser (RFC 8198 §5.3, RFC 4035 §5.3.4). The
// wildcard's CNAME serves any type, as the zone's servers would.
func (r *Resolver) synthesiseWildcard(z *zoneNSEC, zone, name string, qtype uint16, now time.Time, b *dnssec.Budget) (*dns.Msg, cache.Meta, bool) {
	if qtype == dns.TypeDS || qtype == dns.TypeRRSIG || qtype == dns.TypeANY || strings.HasPrefix(name, "*.") {
		return nil, cache.Meta{}, false
	}
	for ce := parent(name); dns.IsSubDomain(zone, ce); ce = parent(ce) {
		wild := "*." + ce
		if ce == "." {
			wild = "*."
		}
		for _, t := range []uint16{qtype, dns.TypeCNAME} {
			rrs, meta, ok := r.cache.GetRRset(wild, t, dns.ClassINET, now)
			if !ok || dnssec.Status(meta.Security) != dnssec.Secure {
				continue
			}
			proof, ok := z.wildcardProof(zone, name, wild, now, b)
			if !ok {
				return nil, cache.Meta{}, false
			}
			out := new(dns.Msg)
			out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
			for _, rr := range rrs {
				c := dns.Copy(rr)
				c.Header().Name = name
				out.Answer = append(out.Answer, c)
			}
			out.Ns = proof
			return out, cache.Meta{Rank: cache.RankAnswer, Security: uint8(dnssec.Secure)}, true
		}
		if ce == zone || ce == "." {
			break
		}
	}
	return nil, cache.Meta{}, false
}

// wildcardProof returns the cached NSEC or NSEC3 records, with their
// signatures, that prove wild may expand to name.
func (z *zoneNSEC) wildcardProof(zone, name, wild string, now time.Time, b *dnssec.Budget) ([]dns.RR, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if pred := z.predecessorLocked(name, now); pred != nil && dnssec.Covers(pred.nsec, name) &&
		dnssec.NSECWildcard(name, wild, zone, []*dns.NSEC{pred.nsec}).Status == dnssec.Secure {
		return append([]dns.RR{pred.nsec}, pred.sigs...), true
	}
	// NSEC3: a record covering the next closer name, the child of the
	// wildcard's owner on the way to name (RFC 5155 §8.8).
	ce := strings.TrimPrefix(wild, "*.")
	if wild == "*." {
		ce = "."
	}
	next := suffix(name, dns.CountLabel(ce)+1)
	for i := range z.nsec3 {
		e := &z.nsec3[i]
		if !now.Before(e.expires) {
			continue
		}
		cv, err := dnssec.NSEC3Covers(e.nsec3, zone, next, b)
		if err != nil {
			return nil, false
		}
		if cv && dnssec.NSEC3Wildcard(name, wild, zone, []*dns.NSEC3{e.nsec3}, b).Status == dnssec.Secure {
			return append([]dns.RR{e.nsec3}, e.sigs...), true
		}
	}
	return nil, false
}
