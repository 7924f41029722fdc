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
// Only NSEC is used; NSEC3 zones are asked as before.

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
	mu      sync.Mutex  // guards the fields below
	entries []nsecEntry // sorted by owner in canonical order
	soa     []dns.RR    // SOA and its RRSIGs
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
	if len(soa) == 0 {
		return
	}
	zone = dns.CanonicalName(zone)
	z, ok := r.nsec.Get(zone)
	if !ok {
		z = &zoneNSEC{}
		r.nsec.Add(zone, z)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.soa = soa
	for _, rr := range m.Ns {
		n, ok := rr.(*dns.NSEC)
		if !ok || !dns.IsSubDomain(zone, n.Hdr.Name) {
			continue
		}
		e := nsecEntry{nsec: n, sigs: sigsAsRR(m.Ns, n.Hdr.Name, dns.TypeNSEC),
			expires: now.Add(time.Duration(min(ttl, n.Hdr.Ttl)) * time.Second)}
		i, found := slices.BinarySearchFunc(z.entries, n.Hdr.Name, func(e nsecEntry, name string) int {
			return dnssec.CanonicalCompare(e.nsec.Hdr.Name, name)
		})
		switch {
		case found:
			z.entries[i] = e
		case len(z.entries) < maxNSECPerZone:
			z.entries = slices.Insert(z.entries, i, e)
		}
	}
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
func (r *Resolver) synthesise(name string, qtype uint16, now time.Time) (*dns.Msg, cache.Meta, bool) {
	if !r.cfg.DNSSEC {
		return nil, cache.Meta{}, false
	}
	name = dns.CanonicalName(name)
	for zone := name; ; zone = parent(zone) {
		if z, ok := r.nsec.Get(zone); ok {
			return z.synthesise(zone, name, qtype, now)
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
	if pred == nil {
		return nil, cache.Meta{}, false
	}
	out := new(dns.Msg)
	out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	var proof []*nsecEntry
	if strings.EqualFold(pred.nsec.Hdr.Name, name) {
		if qtype == dns.TypeDS || dnssec.NSECNoData(name, qtype, zone, []*dns.NSEC{pred.nsec}).Status != dnssec.Secure {
			// DS denials come from the parent side: leave them to the
			// servers rather than reason about which side this NSEC is.
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
