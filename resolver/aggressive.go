package resolver

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// SideCaches.NSECBytes bounds what is kept over all zones (NSEC,
	// NSEC3, their RRSIGs, and the wildcard RRsets), in estimated bytes
	// (rrBytes). The two bounds above allow a thousand times its default
	// (4,096 zones of 256 records and their signatures), which a signer
	// of its own zones answering with a fresh NSEC for every name (RFC
	// 4470) could make hush hold; counting records instead would not do,
	// as one NSEC listing every type unpacks to 128 KiB.
	//
	// maxNSECEntryBytes bounds one kept entry (a record and its
	// signatures, or a wildcard RRset): larger ones are not kept, and a
	// zone keeps at most one nsecZoneShare of the store's bound, so that
	// no zone takes the room of all the others.
	maxNSECEntryBytes = 16 << 10
	nsecZoneShare     = 16
	// maxWildPerZone and maxWildRRs bound the wildcard RRsets kept per
	// zone for synthesis, and the records in each.
	maxWildPerZone = 16
	maxWildRRs     = 32
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
	wild    []wildEntry  // in no order
	// bound counts the bytes kept over all zones against the store's
	// bound; nil for a zone on its own (tests), which counts nothing
	// and keeps at most a share of the default bound.
	bound *nsecBound
	// gone marks a zone the store dropped: it keeps nothing more.
	gone bool
	// bytes is what the zone holds (bytesLocked), for its share.
	bytes int
}

// nsecBound is the aggressive-NSEC store's bound and what its zones hold
// against it. It is read on every record kept, hence an atomic count and
// a bound fixed before the store is used, not a lock.
type nsecBound struct {
	held atomic.Int64 // bytes held over all zones
	max  int64        // SideCaches.NSECBytes; set before use, then read-only
}

// full reports whether the store holds its bound or more.
func (b *nsecBound) full() bool { return b.held.Load() >= b.max }

// zoneMax is what one zone may hold.
func (b *nsecBound) zoneMax() int {
	if b == nil {
		return int(DefaultSideCaches.NSECBytes / nsecZoneShare)
	}
	return int(b.max / nsecZoneShare)
}

// room reports whether an entry of n bytes may be kept: not too big on
// its own, and with room in the zone's share and in the store.
func (z *zoneNSEC) room(n int) bool {
	if n > maxNSECEntryBytes || z.bytes+n > z.bound.zoneMax() {
		return false
	}
	return z.bound == nil || !z.bound.full()
}

// count adds d bytes to the zone's and the store's totals.
func (z *zoneNSEC) count(d int) {
	z.bytes += d
	if z.bound != nil && d != 0 {
		z.bound.held.Add(int64(d))
	}
}

// bytesLocked is what z holds, in estimated bytes; the counts are kept in
// step with it.
func (z *zoneNSEC) bytesLocked() int {
	n := rrsBytes(z.soa)
	for _, e := range z.entries {
		n += e.size()
	}
	for _, e := range z.nsec3 {
		n += e.size()
	}
	for _, e := range z.wild {
		n += e.size()
	}
	return n
}

// rrBytes estimates what rr holds as a Go value: its wire length, the
// type bitmap of an NSEC or NSEC3 unpacked (2 bytes a type, which the
// wire packs into a bit), and the value's own fields and headers.
func rrBytes(rr dns.RR) int {
	n := dns.Len(rr) + 96
	switch v := rr.(type) {
	case *dns.NSEC:
		n += 2 * len(v.TypeBitMap)
	case *dns.NSEC3:
		n += 2 * len(v.TypeBitMap)
	}
	return n
}

func rrsBytes(rrs []dns.RR) int {
	n := 0
	for _, rr := range rrs {
		n += rrBytes(rr)
	}
	return n
}

func (e nsecEntry) size() int  { return rrBytes(e.nsec) + rrsBytes(e.sigs) }
func (e nsec3Entry) size() int { return rrBytes(e.nsec3) + rrsBytes(e.sigs) }
func (e wildEntry) size() int  { return rrsBytes(e.rrs) }

type nsec3Entry struct {
	nsec3   *dns.NSEC3
	sigs    []dns.RR
	expires time.Time
}

// newNSECStore makes the store of zones' records, counting in b what
// they hold: a zone that leaves it (evicted, flushed) gives its count back.
func newNSECStore(b *nsecBound) *cache.Sharded[string, *zoneNSEC] {
	return cache.NewShardedEvict(maxNSECZones, 0, nil, func(_ string, z *zoneNSEC) {
		z.mu.Lock()
		defer z.mu.Unlock()
		// z.bytes, kept with every change (count), not a walk over the
		// records: this runs with the shard locked, on a query's path.
		b.held.Add(-int64(z.bytes))
		z.entries, z.nsec3, z.wild, z.soa, z.bytes, z.gone = nil, nil, nil, nil, 0, true
	})
}

// rememberNSEC keeps the validated NSEC RRsets of a Secure denial from
// zone, with the SOA of the response.
func (r *Resolver) rememberNSEC(zone string, m *dns.Msg, now time.Time) {
	skew := now.Sub(r.wall())
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
	if r.nsecBound.full() {
		r.sweepNSEC(now)
		// Full of live records: the zones asked about least recently
		// (in a few shards of the store, from this zone's) give way,
		// or a new zone would get no room until the others' records
		// expire, up to an hour later.
		for i := 0; i < nsecEvictTries && r.nsecBound.full() && r.nsecWantsRoom(zone); i++ {
			r.nsec.EvictNear(zone, i)
		}
	}
	z, ok := r.nsec.Get(zone)
	if !ok {
		z = &zoneNSEC{bound: &r.nsecBound}
		r.nsec.Add(zone, z)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.gone {
		return
	}
	if n := rrsBytes(soa); len(soa) > 0 && n <= maxNSECEntryBytes {
		// A wildcard answer's proof comes without one: negative answers
		// are synthesised only once a denial brought it. Counted as the
		// records are: a zone may sign its SOA with as many keys as a
		// response holds, and 4,096 zones of those were not bounded.
		z.count(n - rrsBytes(z.soa))
		z.soa = soa
	}
	for _, rr := range m.Ns {
		// Opt-out records cannot prove a name absent (RFC 8198 §4.3),
		// and zones full of them (com.) would only cost hashing per miss.
		if n3, ok := rr.(*dns.NSEC3); ok && n3.Flags&1 == 0 && dnssec.IsSubDomain(zone, n3.Hdr.Name) {
			sigs := sigsAsRR(m.Ns, n3.Hdr.Name, dns.TypeNSEC3)
			z.addNSEC3Locked(nsec3Entry{nsec3: n3, sigs: sigs,
				expires: capBySigs(now.Add(time.Duration(min(ttl, n3.Hdr.Ttl))*time.Second), skew, sigs)}, now)
		}
		n, ok := rr.(*dns.NSEC)
		if !ok || !dnssec.IsSubDomain(zone, n.Hdr.Name) {
			continue
		}
		sigs := sigsAsRR(m.Ns, n.Hdr.Name, dns.TypeNSEC)
		e := nsecEntry{nsec: n, sigs: sigs, expires: capBySigs(now.Add(time.Duration(min(ttl, n.Hdr.Ttl))*time.Second), skew, sigs)}
		i, found := slices.BinarySearchFunc(z.entries, n.Hdr.Name, func(e nsecEntry, name string) int {
			return dnssec.CanonicalCompare(e.nsec.Hdr.Name, name)
		})
		size := e.size()
		if !found && (len(z.entries) >= maxNSECPerZone || !z.room(size)) {
			// Full: make room by dropping what has expired.
			z.entries = slices.DeleteFunc(z.entries, func(e nsecEntry) bool {
				if now.Before(e.expires) {
					return false
				}
				z.count(-e.size())
				return true
			})
			i, found = slices.BinarySearchFunc(z.entries, n.Hdr.Name, func(e nsecEntry, name string) int {
				return dnssec.CanonicalCompare(e.nsec.Hdr.Name, name)
			})
		}
		switch {
		case found && size <= maxNSECEntryBytes:
			z.count(size - z.entries[i].size())
			z.entries[i] = e
		case !found && len(z.entries) < maxNSECPerZone && z.room(size):
			z.entries = slices.Insert(z.entries, i, e)
			z.count(size)
		}
	}
}

// nsecWantsRoom reports whether zone may have others evicted for its
// records: it is new to the store, or holds less than its share. A zone
// at its share (or a refresh of records it has) gains nothing from it.
func (r *Resolver) nsecWantsRoom(zone string) bool {
	z, ok := r.nsec.Peek(zone)
	if !ok {
		return true
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	// Room for one more entry of the largest size, or half the share
	// when the share is smaller than that (a store under 256 KiB, which
	// only a library user can configure).
	share := z.bound.zoneMax()
	return !z.gone && z.bytes < max(share-maxNSECEntryBytes, share/2)
}

// nsecEvictTries bounds the zones evicted to make room for one denial.
const nsecEvictTries = 8

// nsecSweepEvery is the least time between two sweeps of the store.
const nsecSweepEvery = 10 * time.Second

// sweepNSEC drops the expired records of every zone when the store is
// full (SideCaches.NSECBytes), at most once per nsecSweepEvery: a zone's
// expired records otherwise go only when the zone gets new ones, and
// zones no longer asked about would keep the room new zones need. It
// visits every zone; the store holds at most its bound.
func (r *Resolver) sweepNSEC(now time.Time) {
	last := r.nsecSwept.Load()
	if now.UnixNano()-last < int64(nsecSweepEvery) || !r.nsecSwept.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	r.nsec.Range(func(_ string, z *zoneNSEC) bool {
		z.mu.Lock()
		defer z.mu.Unlock()
		before := z.bytesLocked()
		live := func(t time.Time) bool { return now.Before(t) }
		z.entries = slices.DeleteFunc(z.entries, func(e nsecEntry) bool { return !live(e.expires) })
		z.nsec3 = slices.DeleteFunc(z.nsec3, func(e nsec3Entry) bool { return !live(e.expires) })
		z.wild = slices.DeleteFunc(z.wild, func(e wildEntry) bool { return !live(e.expires) })
		z.count(z.bytesLocked() - before)
		return true
	})
}

// addNSEC3Locked keeps e, replacing the record of the same owner or an
// expired one; a full zone keeps what it has.
func (z *zoneNSEC) addNSEC3Locked(e nsec3Entry, now time.Time) {
	size := e.size()
	if size > maxNSECEntryBytes {
		return
	}
	for i := range z.nsec3 {
		if strings.EqualFold(z.nsec3[i].nsec3.Hdr.Name, e.nsec3.Hdr.Name) || !now.Before(z.nsec3[i].expires) {
			z.count(size - z.nsec3[i].size())
			z.nsec3[i] = e
			return
		}
	}
	if len(z.nsec3) < maxNSECPerZone && z.room(size) {
		z.nsec3 = append(z.nsec3, e)
		z.count(size)
	}
}

// capBySigs returns t, or the earliest signature expiration if sooner: a
// proof is no longer valid once its signatures have expired. t is on the
// age clock, expirations on the wall clock; skew is the age clock's time
// minus the wall clock's.
func capBySigs(t time.Time, skew time.Duration, sigs []dns.RR) time.Time {
	for _, rr := range sigs {
		if s, ok := rr.(*dns.RRSIG); ok {
			if exp := time.Unix(int64(s.Expiration), 0).Add(skew); exp.Before(t) {
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
	if dnssec.UnderNTA(r.cfg.NegativeAnchors, name, r.wall()) {
		// RFC 7646 §2: nothing at or below a negative trust anchor is
		// Secure, and everything synthesised here would be; the NSEC
		// records of a signed zone above an anchor that is no zone cut
		// cover the names under it all the same.
		return nil, cache.Meta{}, false
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
	return out, cache.Meta{Rank: cache.RankAnswer, Security: cache.Security(dnssec.Secure)}, true
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
	return out, cache.Meta{Rank: cache.RankAnswer, Security: cache.Security(dnssec.Secure)}, true
}

// wildcardAnswer is a Secure answer validate found synthesised from a
// wildcard: owner and type of the RRset, and the wildcard's name.
type wildcardAnswer struct {
	owner, wildcard string
	rrtype          uint16
}
