package resolver

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Wildcard answers synthesised from the validated cache (RFC 8198 §5.3):
// the wildcard RRsets a Secure wildcard answer showed, kept in the zone's
// store beside its NSEC and NSEC3 records (aggressive.go).

// wildEntry is a wildcard RRset of the zone, kept with the proof that
// came with it: only these expand to other names (RFC 8198 §5.3).
type wildEntry struct {
	name    string   // the wildcard's owner, canonical
	rrtype  uint16   // the RRset's type
	rrs     []dns.RR // the RRset and its RRSIGs, owned by name
	expires time.Time
}

// rememberWildcards keeps in zone's store, for later questions (RFC 8198
// §5.3), what a Secure wildcard answer showed: the NSEC or NSEC3 records
// of zone that proved the expansion, and the wildcard's RRsets under the
// wildcard's own name, with their signatures (which sign that name). A
// wildcard signed by any zone but the one whose records prove the
// expansion is not kept: the proof says nothing about its names.
func (r *Resolver) rememberWildcards(zone string, m *dns.Msg, ws []wildcardAnswer, now time.Time) {
	r.rememberNSEC(zone, m, now)
	skew := now.Sub(r.wall())
	zone = dns.CanonicalName(zone)
	z, ok := r.nsec.Get(zone)
	if !ok {
		return
	}
	for _, w := range ws {
		e := wildEntry{name: dns.CanonicalName(w.wildcard), rrtype: w.rrtype}
		if !dnssec.IsSubDomain(zone, e.name) {
			continue
		}
		var ttl uint32 = math.MaxInt32
		for _, rr := range m.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, w.owner) {
				continue
			}
			if h.Rrtype == w.rrtype || h.Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == w.rrtype {
				c := dns.Copy(rr)
				c.Header().Name = e.name
				e.rrs = append(e.rrs, c)
				ttl = min(ttl, wireTTL(h.Ttl))
			}
		}
		if len(e.rrs) == 0 || len(e.rrs) > maxWildRRs || ttl == 0 || !signedBy(e.rrs, zone) {
			continue
		}
		e.expires = capBySigs(now.Add(time.Duration(min(ttl, maxWildSeconds))*time.Second), skew, e.rrs)
		z.addWild(e, now)
	}
}

// maxWildSeconds caps how long a wildcard RRset is kept for synthesis,
// as the cache caps positive answers by default.
const maxWildSeconds = uint32(cache.DefaultMaxTTL / time.Second)

// wireTTL reads a TTL as RFC 2181 §8 asks: one with the top bit set
// counts as zero.
func wireTTL(t uint32) uint32 {
	if t > math.MaxInt32 {
		return 0
	}
	return t
}

// signedBy reports whether rrs holds an RRSIG and every RRSIG in it has
// zone as its signer.
func signedBy(rrs []dns.RR, zone string) bool {
	signed := false
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok {
			if !strings.EqualFold(dns.CanonicalName(s.SignerName), zone) {
				return false
			}
			signed = true
		}
	}
	return signed
}

// addWild keeps e, replacing the entry of the same name and type or an
// expired one; a full zone keeps what it has.
func (z *zoneNSEC) addWild(e wildEntry, now time.Time) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.gone {
		return
	}
	size := e.size()
	if size > maxNSECEntryBytes {
		return
	}
	for i := range z.wild {
		if z.wild[i].name == e.name && z.wild[i].rrtype == e.rrtype || !now.Before(z.wild[i].expires) {
			z.count(size - z.wild[i].size())
			z.wild[i] = e
			return
		}
	}
	if len(z.wild) < maxWildPerZone && z.room(size) {
		z.wild = append(z.wild, e)
		z.count(size)
	}
}

// wildLocked returns the unexpired wildcard RRset kept for (name, t).
func (z *zoneNSEC) wildLocked(name string, t uint16, now time.Time) *wildEntry {
	for i := range z.wild {
		if e := &z.wild[i]; e.name == name && e.rrtype == t && now.Before(e.expires) {
			return e
		}
	}
	return nil
}

// synthesiseWildcard answers (name, qtype) from a wildcard RRset of zone
// that rememberWildcards kept, when the zone's NSEC or NSEC3 records
// allow its expansion: they must show that name itself does not exist
// and that the wildcard's owner is its closest encloser (RFC 8198 §5.3,
// RFC 4035 §5.3.4). The wildcard's CNAME serves any type, as the zone's
// servers would.
func (r *Resolver) synthesiseWildcard(z *zoneNSEC, zone, name string, qtype uint16, now time.Time, b *dnssec.Budget) (*dns.Msg, cache.Meta, bool) {
	if qtype == dns.TypeDS || qtype == dns.TypeRRSIG || qtype == dns.TypeANY || strings.HasPrefix(name, "*.") {
		return nil, cache.Meta{}, false
	}
	zone = dns.CanonicalName(zone)
	z.mu.Lock()
	defer z.mu.Unlock()
	for ce := parent(name); dnssec.IsSubDomain(zone, ce); ce = parent(ce) {
		wild := "*." + ce
		if ce == "." {
			wild = "*."
		}
		for _, t := range []uint16{qtype, dns.TypeCNAME} {
			w := z.wildLocked(wild, t, now)
			if w == nil || !signedBy(w.rrs, zone) {
				continue
			}
			proof, expires, ok := z.wildcardProofLocked(zone, name, wild, now, b)
			if !ok {
				return nil, cache.Meta{}, false
			}
			if w.expires.Before(expires) {
				expires = w.expires
			}
			left := uint32(expires.Sub(now) / time.Second)
			if left == 0 {
				return nil, cache.Meta{}, false
			}
			out := new(dns.Msg)
			out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
			for _, rr := range w.rrs {
				c := dns.Copy(rr)
				c.Header().Name = name
				c.Header().Ttl = min(c.Header().Ttl, left)
				out.Answer = append(out.Answer, c)
			}
			out.Ns = proof
			return out, cache.Meta{Rank: cache.RankAnswer, Security: cache.Security(dnssec.Secure)}, true
		}
		if ce == zone || ce == "." {
			break
		}
	}
	return nil, cache.Meta{}, false
}

// wildcardProofLocked returns the kept NSEC or NSEC3 records, with their
// signatures, that prove wild may expand to name, and when the first of
// them expires.
func (z *zoneNSEC) wildcardProofLocked(zone, name, wild string, now time.Time, b *dnssec.Budget) ([]dns.RR, time.Time, bool) {
	if pred := z.predecessorLocked(name, now); pred != nil && dnssec.Covers(pred.nsec, name) &&
		dnssec.NSECWildcard(name, wild, zone, []*dns.NSEC{pred.nsec}).Status == dnssec.Secure {
		return append([]dns.RR{pred.nsec}, pred.sigs...), pred.expires, true
	}
	// NSEC3: a record covering the next closer name, the child of the
	// wildcard's owner on the way to name (RFC 5155 §8.8).
	ce := strings.TrimPrefix(wild, "*.")
	if wild == "*." {
		ce = "."
	}
	next := suffix(name, dns.CountLabel(ce)+1)
	var found *nsec3Entry
	for i := range z.nsec3 {
		e := &z.nsec3[i]
		if !now.Before(e.expires) {
			continue
		}
		if ce != zone {
			// A closest encloser at a cut (or a DNAME) belongs to the
			// zone below, or hides everything below it: no wildcard of
			// this zone expands there (RFC 5155 §8.3).
			m, err := dnssec.NSEC3Matches(e.nsec3, zone, ce, b)
			if err != nil {
				return nil, time.Time{}, false
			}
			if m && (slices.Contains(e.nsec3.TypeBitMap, dns.TypeNS) && !slices.Contains(e.nsec3.TypeBitMap, dns.TypeSOA) ||
				slices.Contains(e.nsec3.TypeBitMap, dns.TypeDNAME)) {
				return nil, time.Time{}, false
			}
		}
		if found != nil {
			continue
		}
		cv, err := dnssec.NSEC3Covers(e.nsec3, zone, next, b)
		if err != nil {
			return nil, time.Time{}, false
		}
		if cv && dnssec.NSEC3Wildcard(name, wild, zone, []*dns.NSEC3{e.nsec3}, b).Status == dnssec.Secure {
			found = e
		}
	}
	if found == nil {
		return nil, time.Time{}, false
	}
	return append([]dns.RR{found.nsec3}, found.sigs...), found.expires, true
}
