package resolver

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Zone cuts and referrals: what the iterator knows of the zone it asks
// (Unbound's delegation point, iter_delegpt), where it comes from (the
// cache, the root hints, a referral) and the parent-side glue kept as the
// last resort for its servers.

// zoneCut is what the iterator knows of the zone it is querying.
type zoneCut struct {
	zone    string
	nsNames []string
	addrs   []netip.Addr
	// looked lists NS names whose addresses were looked up already.
	// It is made on the first mark (markLooked), as tried is: most cuts
	// of an uncached query need neither.
	looked map[string]bool
	// tried lists servers that failed for this cut (markTried).
	tried map[netip.Addr]bool
	// nsLookups counts address lookups for glueless NS names (NXNSAttack).
	nsLookups int
	// parentGlue says the parent-side glue of the NS names was added.
	parentGlue bool
	// fetch is the address lookups of glueless NS names under way
	// (lookupNSAddrs); nil before the first.
	fetch *nsFetch
	// keysAsked says the zone's keys were asked for (prefetchKeys).
	keysAsked bool
}

// reaskParent reports whether the parent may be asked again for zone's
// delegation now, and notes that it is.
func (r *Resolver) reaskParent(zone string) bool {
	now := r.now()
	key := strings.ToLower(zone)
	if until, ok := r.reasked.Get(key); ok && now.Before(until) {
		return false
	}
	r.reasked.Add(key, now.Add(holdDown))
	return true
}

// takeReferral caches a referral from a server of zone, its NS set and
// glue, and returns the new cut. Glue from outside zone (there only with
// Config.OutOfZoneGlue) serves the new cut but is not cached.
func (r *Resolver) takeReferral(resp *dns.Msg, zone string) *zoneCut {
	var child string
	var ns []dns.RR
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS {
			continue
		}
		// The deepest NS owner is the delegation; scrub dropped any NS
		// that is not an ancestor of the question.
		if child == "" || dns.CountLabel(rr.Header().Name) > dns.CountLabel(child) {
			child, ns = rr.Header().Name, ns[:0]
		}
		if strings.EqualFold(rr.Header().Name, child) {
			ns = append(ns, rr)
		}
	}
	if child == "" {
		return nil
	}
	now := r.now()
	r.cache.SetRRset(ns, cache.Meta{Rank: cache.RankAuthorityReferral}, now)
	r.keepDelegation(child, ns, now)
	for _, set := range rrsets(resp.Extra) {
		if t := set[0].Header().Rrtype; (t == dns.TypeA || t == dns.TypeAAAA) && dnssec.IsSubDomain(zone, set[0].Header().Name) {
			r.cache.SetRRset(set, cache.Meta{Rank: cache.RankAdditional}, now)
			r.keepGlue(set, now)
		}
	}
	cut := r.cutFromNS(dns.CanonicalName(child), ns, now)
	// Glue the cache would not keep (TTL 0) still serves this walk
	// (RFC 1035 §3.2.1).
	for _, rr := range resp.Extra {
		if slices.Contains(cut.nsNames, dns.CanonicalName(rr.Header().Name)) {
			cut.addrs = appendAddrs(cut.addrs, []dns.RR{rr})
		}
	}
	return cut
}

// cutFromNSAnswer returns the zone cut an answer to a minimised NS query
// for name shows below zone, or nil: the NS RRset of name in the answer
// section of an authoritative reply, taken and cached as a referral
// would be.
func (r *Resolver) cutFromNSAnswer(resp *dns.Msg, name, zone string) *zoneCut {
	if !resp.Authoritative || strings.EqualFold(name, zone) {
		// Only the child's own servers speak for its apex; a cache's
		// non-authoritative copy is no cut.
		return nil
	}
	var ns []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == dns.TypeNS && strings.EqualFold(rr.Header().Name, name) {
			ns = append(ns, rr)
		}
	}
	if len(ns) == 0 {
		return nil
	}
	return r.takeReferral(&dns.Msg{Ns: ns, Extra: resp.Extra}, zone)
}

// delegEntry is the parent's side of a delegation: the NS names it gave.
type delegEntry struct {
	nsNames []string
	expires time.Time
}

// keepDelegation remembers the NS names of a referral to zone, clamped
// in time as glue is.
func (r *Resolver) keepDelegation(zone string, ns []dns.RR, now time.Time) {
	ttl := maxGlueSeconds
	e := delegEntry{}
	for _, rr := range ns {
		ttl = min(ttl, wireTTL(rr.Header().Ttl))
		if n, ok := rr.(*dns.NS); ok {
			e.nsNames = append(e.nsNames, dns.CanonicalName(n.Ns))
		}
	}
	if ttl == 0 || len(e.nsNames) == 0 {
		return
	}
	e.expires = now.Add(time.Duration(ttl) * time.Second)
	r.delegs.Add(dns.CanonicalName(zone), e)
}

// parentSideCut returns the cut the parent's delegation of cut.zone
// makes (its NS names, with the parent-side glue and the cached
// addresses for them), or nil when none is remembered, when it names
// the same servers as cut (a dead zone gains nothing by asking them
// again), or when it has no address to start from.
func (r *Resolver) parentSideCut(cut *zoneCut) *zoneCut {
	now := r.now()
	e, ok := r.delegs.Get(cut.zone)
	if !ok || !now.Before(e.expires) {
		return nil
	}
	same := len(e.nsNames) == len(cut.nsNames)
	for _, n := range e.nsNames {
		same = same && slices.Contains(cut.nsNames, n)
	}
	if same {
		return nil
	}
	alt := &zoneCut{zone: cut.zone, nsNames: slices.Clone(e.nsNames)}
	for _, n := range alt.nsNames {
		if g, ok := r.glue.Get(n); ok && now.Before(g.expires) {
			for _, a := range g.addrs {
				if !containsAddr(alt.addrs, a) {
					alt.addrs = append(alt.addrs, a)
				}
			}
		}
		alt.addrs = r.cachedAddrs(alt.addrs, n, now)
	}
	if len(alt.addrs) == 0 && !hasOutOfZoneNS(alt) {
		return nil
	}
	return alt
}

// maxGlueSeconds caps how long parent-side glue is kept: the cache's
// default maximum TTL.
const maxGlueSeconds = uint32(cache.DefaultMaxTTL / time.Second)

// glueEntry is the parent-side addresses of one name server name.
type glueEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

// keepGlue remembers set, A or AAAA glue of a referral, as the parent's
// side of its owner's addresses, beside what is kept already of the
// other type. Its lifetime is clamped as the cache clamps RRsets: a TTL
// with the top bit set counts as zero (RFC 2181 §8), and none is kept
// longer than the cache's default maximum, so that a referral cannot pin
// addresses for 136 years.
func (r *Resolver) keepGlue(set []dns.RR, now time.Time) {
	ttl := maxGlueSeconds
	for _, rr := range set {
		ttl = min(ttl, wireTTL(rr.Header().Ttl))
	}
	if ttl == 0 {
		return
	}
	name := dns.CanonicalName(set[0].Header().Name)
	e := glueEntry{expires: now.Add(time.Duration(ttl) * time.Second)}
	if old, ok := r.glue.Get(name); ok && now.Before(old.expires) {
		if old.expires.Before(e.expires) {
			e.expires = old.expires
		}
		for _, a := range old.addrs {
			if a.Is4() != (set[0].Header().Rrtype == dns.TypeA) {
				e.addrs = append(e.addrs, a)
			}
		}
	}
	e.addrs = appendAddrs(e.addrs, set)
	r.glue.Add(name, e)
}

// addParentGlue adds to cut, once, the parent-side addresses kept for its
// NS names that it lacks, and reports whether there were any: the last
// resort when the addresses the child gives for its servers all fail
// (iter_pcdiff), as Unbound falls back on parent-side glue.
func (r *Resolver) addParentGlue(cut *zoneCut) bool {
	if cut.parentGlue {
		return false
	}
	cut.parentGlue = true
	now := r.now()
	before := len(cut.addrs)
	for _, n := range cut.nsNames {
		e, ok := r.glue.Get(n)
		if !ok || !now.Before(e.expires) {
			continue
		}
		for _, a := range e.addrs {
			if !containsAddr(cut.addrs, a) {
				cut.addrs = append(cut.addrs, a)
			}
		}
	}
	return len(cut.addrs) > before
}

// markTried notes that server a failed for c.
func (c *zoneCut) markTried(a netip.Addr) {
	if c.tried == nil {
		c.tried = make(map[netip.Addr]bool)
	}
	c.tried[a] = true
}

// markLooked notes that the addresses of NS name n were looked up.
func (c *zoneCut) markLooked(n string) {
	if c.looked == nil {
		c.looked = make(map[string]bool)
	}
	c.looked[n] = true
}

// cutFromNS builds a zone cut from an NS set, with the addresses the cache
// knows for its names.
func (r *Resolver) cutFromNS(zone string, ns []dns.RR, now time.Time) *zoneCut {
	cut := &zoneCut{zone: zone}
	for _, rr := range ns {
		n, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		target := dns.CanonicalName(n.Ns)
		cut.nsNames = append(cut.nsNames, target)
		cut.addrs = r.cachedAddrs(cut.addrs, target, now)
	}
	return cut
}

// cachedAddrs appends to dst the A and AAAA addresses the cache holds for
// name that dst does not have yet. Every uncached query builds a cut, so
// this reads the cached wire form rather than unpack records.
func (r *Resolver) cachedAddrs(dst []netip.Addr, name string, now time.Time) []netip.Addr {
	for _, t := range [...]uint16{dns.TypeA, dns.TypeAAAA} {
		from := len(dst)
		dst, _ = r.cache.AppendAddrs(dst, name, t, now)
		for i := from; i < len(dst); {
			if containsAddr(dst[:i], dst[i]) || !dst[i].IsValid() {
				dst = slices.Delete(dst, i, i+1)
				continue
			}
			i++
		}
	}
	return dst
}

func appendAddrs(dst []netip.Addr, rrs []dns.RR) []netip.Addr {
	for _, rr := range rrs {
		var a netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(rr.AAAA.To16())
		default:
			continue
		}
		if a.IsValid() && !containsAddr(dst, a) {
			dst = append(dst, a)
		}
	}
	return dst
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, b := range s {
		if b == a {
			return true
		}
	}
	return false
}

// findCut returns the closest enclosing zone cut the cache knows a usable
// delegation for, or the root from the hints. DS records live on the
// parent side of a cut, so a DS question starts from the parent.
func (r *Resolver) findCut(name string, qtype uint16) *zoneCut {
	z := dns.CanonicalName(name)
	if qtype == dns.TypeDS && z != "." {
		z = parent(z)
	}
	return r.cutAtOrAbove(z)
}

// cutAtOrAbove returns the closest zone cut at or above z the cache knows
// a usable delegation for, or the root from the hints.
func (r *Resolver) cutAtOrAbove(z string) *zoneCut {
	now := r.now()
	for {
		if _, ok := r.routes.stub[z]; ok {
			// The operator's servers for the zone, whatever the public
			// tree delegates it to.
			return r.stubCut(z)
		}
		if ns, _, ok := r.cache.GetRRset(z, dns.TypeNS, dns.ClassINET, now); ok {
			cut := r.cutFromNS(z, ns, now)
			if len(cut.addrs) > 0 || hasOutOfZoneNS(cut) {
				return cut
			}
		}
		if z == "." {
			break
		}
		z = parent(z)
	}
	return r.rootCut(now)
}

// hasOutOfZoneNS reports whether some NS name of the cut can be looked up
// without the cut's own servers.
func hasOutOfZoneNS(cut *zoneCut) bool {
	for _, n := range cut.nsNames {
		if !dnssec.IsSubDomain(cut.zone, n) {
			return true
		}
	}
	return false
}

func (r *Resolver) rootCut(now time.Time) *zoneCut {
	cut := &zoneCut{zone: "."}
	for _, rr := range r.cfg.RootHints {
		switch rr := rr.(type) {
		case *dns.NS:
			cut.nsNames = append(cut.nsNames, dns.CanonicalName(rr.Ns))
		case *dns.A, *dns.AAAA:
			cut.addrs = appendAddrs(cut.addrs, []dns.RR{rr})
		}
	}
	for _, n := range cut.nsNames {
		cut.markLooked(n)
	}
	return cut
}

func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}
