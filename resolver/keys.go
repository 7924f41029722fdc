package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// The chain of trust: a zone's keys, trusted through the DS its parent
// signed (taken from referrals where they carry it) up to a trust anchor,
// fetched and checked once, then kept in a small cache of their own; and
// what a Bogus answer costs before the zone's other servers are asked.

const (
	// bogusTTL is how long a Bogus answer or key set is kept, so that a
	// broken zone does not cost a full validation per query, nor stay
	// broken in the cache long after it is fixed.
	bogusTTL = 60
	// maxKeyTTL bounds how long a validated key set is trusted.
	maxKeyTTL = time.Hour
)

// maxKeyEntries bounds the validated keys kept in zones;
// SideCaches.KeyBytes bounds them in bytes as keyEntryBytes counts them.
// 32 large RSA keys a zone (dnssec.Limits.MaxDNSKEYs) in each of 4,096
// zones would be about 120 MB; zones of two or three keys take 0.5 to 1.5
// KiB each, so with the default 16 MiB the bytes bind only a set of
// unusually large keys, and with a router's 1 or 2 MiB after one or two
// thousand zones.
const maxKeyEntries = 4096

// minKeyShardBytes is the least part of the key cache's bytes one shard
// holds: a key set heavier than its shard's part is not kept at all, and
// the heaviest (32 RSA-4096 keys) weighs about 26 KiB.
const minKeyShardBytes = 64 << 10

// newKeyCache makes the validated key cache, bounded at bytes: 64 shards,
// fewer when bytes is small, so that each holds at least minKeyShardBytes.
func newKeyCache(bytes int64) *cache.Sharded[string, keyEntry] {
	shards := 64
	for shards > 1 && bytes/int64(shards) < minKeyShardBytes {
		shards /= 2
	}
	return cache.NewWeighted(bytes, maxKeyEntries, shards, nil, keyEntryBytes)
}

// keyEntryBytes is what a keys entry holds, roughly, as Go values: the
// entry, its LRU node and map slot, the zone's name, and each key's record
// with its owner and base64 key.
func keyEntryBytes(zone string, e keyEntry) int64 {
	n := 160 + len(zone)
	for _, k := range e.ks.Keys {
		n += 96 + len(k.Hdr.Name) + len(k.PublicKey)
	}
	return int64(n)
}

type keyEntry struct {
	ks      dnssec.KeySet
	expires time.Time
	// unchecked: judged without signature times (see qstate.unchecked).
	unchecked bool
}

// live reports whether e may be used at now (age clock).
func (r *Resolver) live(e keyEntry, now time.Time) bool {
	return now.Before(e.expires) && (!e.unchecked || !r.ClockPlausible())
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
	hit = hit && r.live(cached, now)
	if hit && cached.unchecked {
		qs.unchecked = true
	}
	if hit && keys == nil {
		return cached.ks, nil
	}
	if keys == nil {
		return r.sharedKeys(ctx, qs, zone, now)
	}
	return r.judgeKeys(ctx, qs, zone, keys, hit && cached.ks.Status != dnssec.Bogus, now)
}

// keyFlight is the outcome of one fetch of a zone's keys, as keyflights
// shares it: the key set, and whether it was judged without signature
// times.
type keyFlight struct {
	ks        dnssec.KeySet
	unchecked bool
}

// sharedKeys fetches and judges the keys of zone, which the key cache
// lacks, or waits for the fetch another goroutine does already (this
// query's prefetchKeys, say, or another query's validation), so that a
// zone's keys are fetched once however many wait for them.
//
// A fetch can need other zones' keys (the parent's for the DS, a name
// server's zone for its address), and two fetches waiting for each
// other would wait until the query's time ran out. So a call stack that
// does a fetch for others waits only for the fetch of a zone with fewer
// labels than any of its own, and does the work itself otherwise, as it
// did before fetches were shared: every wait then leads to a zone with
// fewer labels, and no chain of waits comes back. A failure of another's
// fetch (its budget, its context) says nothing of this query's: it
// tries for itself.
func (r *Resolver) sharedKeys(ctx context.Context, qs *qstate, zone string, now time.Time) (dnssec.KeySet, error) {
	labels := dns.CountLabel(zone)
	if qs.leads && labels >= qs.leadLabels {
		return r.judgeKeys(ctx, qs, zone, nil, false, now)
	}
	v, shared, err := r.keyflights.do(ctx, zone, func() (keyFlight, error) {
		leads, leadLabels := qs.leads, qs.leadLabels
		qs.leads, qs.leadLabels = true, labels
		defer func() { qs.leads, qs.leadLabels = leads, leadLabels }()
		ks, err := r.judgeKeys(ctx, qs, zone, nil, false, now)
		return keyFlight{ks: ks, unchecked: qs.unchecked}, err
	})
	if shared && err != nil && ctx.Err() == nil {
		return r.judgeKeys(ctx, qs, zone, nil, false, now)
	}
	if shared && err == nil {
		qs.unchecked = qs.unchecked || v.unchecked
	}
	return v.ks, err
}

// judgeKeys fetches the DS (or takes the trust anchor) of zone and judges
// its key set, keys or, when nil, the one the zone's servers give, and
// keeps the outcome. proven says the key cache holds keys of the zone
// proven already, which one Bogus copy does not replace.
func (r *Resolver) judgeKeys(ctx context.Context, qs *qstate, zone string, keys *dns.Msg, proven bool, now time.Time) (dnssec.KeySet, error) {
	anchors := r.anchors.Load()
	if dnssec.UnderNTA(r.cfg.NegativeAnchors, zone, r.wall()) || anchors.Closest(zone) == nil {
		return dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, nil
	}
	trust := anchors.Lookup(zone)
	fromAnchor := trust != nil
	if trust == nil {
		t, final, decided, err := r.trustFromDS(ctx, qs, zone, now)
		if err != nil || decided {
			return final, err
		}
		trust = t
	}
	if keys == nil {
		m, _, err := r.lookup(ctx, qs, zone, dns.TypeDNSKEY)
		if err != nil {
			return dnssec.KeySet{}, err
		}
		// The lookup judged the keys already when it had to fetch them.
		if e, ok := r.keys.Get(zone); ok && r.live(e, now) {
			qs.unchecked = qs.unchecked || e.unchecked
			return e.ks, nil
		}
		keys = m
	}
	ks := dnssec.VerifyDNSKEYs(keys.Answer, trust, r.wall(), r.budget(qs))
	if err := budgetError(ks.Err); err != nil {
		return dnssec.KeySet{}, err // says nothing about the zone: not kept
	}
	if fromAnchor && ks.Status == dnssec.Secure && !qs.unchecked && r.cfg.OnAnchorKeys != nil {
		// RFC 5011: a key set validated from the anchor is what moves
		// the anchor's tracked keys on; never one whose signature
		// times went unchecked, which a replay could have supplied.
		r.cfg.OnAnchorKeys(zone, keys.Answer, r.wall())
	}
	if ks.Status == dnssec.Bogus && proven {
		// One bad copy (a forger's, or a broken server's) does not
		// undo keys already proven: the answer is Bogus, the zone not.
		return ks, nil
	}
	return r.keepKeys(qs, zone, ks, now), nil
}

// trustFromDS fetches zone's DS set through the parent and returns the
// trust point zone's keys are checked against. When the DS answer
// already decides the zone (Bogus, or Insecure by a proven absence), it
// returns that key set, kept, with decided true instead.
func (r *Resolver) trustFromDS(ctx context.Context, qs *qstate, zone string, now time.Time) (trust *dnssec.Anchor, final dnssec.KeySet, decided bool, err error) {
	ds, meta, err := r.lookup(ctx, qs, zone, dns.TypeDS)
	if err != nil {
		return nil, dnssec.KeySet{}, false, err
	}
	switch dnssec.Status(meta.Security) {
	case dnssec.Bogus:
		return nil, r.keepKeys(qs, zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Bogus,
			Err: fmt.Errorf("%w: DS of %s", dnssec.ErrBogus, zone)}}, now), true, nil
	case dnssec.Secure:
	default:
		if ds.Rcode == dns.RcodeNameError && !r.private(zone) {
			// Even under opt-out, a zone's apex exists.
			return nil, r.keepKeys(qs, zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Bogus,
				Err: fmt.Errorf("%w: %s does not exist", dnssec.ErrBogus, zone)}}, now), true, nil
		}
		return nil, r.keepKeys(qs, zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now), true, nil
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
		if !provesDelegation(ds, zone, r.budget(qs)) && r.private(zone) {
			// The operator's own zone, which the public tree does
			// not delegate: unsigned, not Bogus (fwdzones.go).
			return nil, r.keepKeys(qs, zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now), true, nil
		}
		if !provesDelegation(ds, zone, r.budget(qs)) {
			return nil, r.keepKeys(qs, zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Bogus,
				Err: fmt.Errorf("%w: %s is not a zone cut", dnssec.ErrBogus, zone)}}, now), true, nil
		}
		return nil, r.keepKeys(qs, zone, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now), true, nil
	}
	return dnssec.DSAnchor(zone, set), dnssec.KeySet{}, false, nil
}

func (r *Resolver) keepKeys(qs *qstate, zone string, ks dnssec.KeySet, now time.Time) dnssec.KeySet {
	ttl := time.Duration(ks.TTL) * time.Second
	switch {
	case ks.Status == dnssec.Bogus:
		ttl = bogusTTL * time.Second
	case ks.Status == dnssec.Insecure || ttl <= 0:
		ttl = 5 * time.Minute
	}
	r.keys.Add(zone, keyEntry{ks: ks, expires: now.Add(min(ttl, maxKeyTTL)), unchecked: qs.unchecked})
	return ks
}

// maxBogusRetries caps how many times one client query asks another
// server after an answer failed validation (Unbound's
// VAL_MAX_RESTART_COUNT).
const maxBogusRetries = 5

// retryBogus reports whether a Bogus answer for (name, qtype) from a
// server of zone is worth asking another server for, and if so counts
// the retry against the query's limit. It is when the query has retries
// left and the fault may lie with the answer rather than with the zone's
// keys, already judged Bogus, which no other answer would mend. A Bogus
// key set judged from a DNSKEY answer is forgotten meanwhile, so that
// the next server's copy is judged afresh.
func (r *Resolver) retryBogus(qs *qstate, zone, name string, qtype uint16) bool {
	if qs.shared.bogusRetries.Load() >= maxBogusRetries {
		return false
	}
	if qtype != dns.TypeDNSKEY {
		e, ok := r.keys.Peek(dns.CanonicalName(zone))
		if ok && e.ks.Status == dnssec.Bogus && r.live(e, r.now()) {
			return false
		}
	} else {
		r.forgetBogusKeys(name) // the answer is the keys
	}
	return qs.shared.bogusRetries.Add(1) <= maxBogusRetries
}

// noteReferralDS validates the DS RRset, or the denial of one, that a
// signed referral from zone's servers carries for child (RFC 4035 §3.1.4),
// and caches it as the answer to a DS question for child, so that the
// chain of trust needs no DS query of its own: Unbound and Knot Resolver
// both take the DS from the referral, which spares the parent's servers
// a separate DS query. A referral without either, or one whose keys
// cannot be fetched now, leaves the DS to be asked for later.
func (r *Resolver) noteReferralDS(ctx context.Context, qs *qstate, resp *dns.Msg, zone, child string) {
	key := r.fullKey(child, dns.TypeDS)
	now := r.now()
	if r.anchors.Load().Lookup(child) != nil {
		return // the anchor, not the parent, vouches for the child
	}
	if e, ok := r.keys.Get(dns.CanonicalName(child)); ok && r.live(e, now) {
		return
	}
	if _, meta, ok := r.cache.GetMsg(key, now); ok && r.usable(meta) {
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
		r.store(key, m, cache.Meta{Rank: cache.RankAnswerNonAuth, Security: cache.Security(status), EDE: code, Unchecked: qs.unchecked})
	case status == dnssec.Insecure || provesDelegation(m, child, r.budget(qs)):
		// A denial without the SOA a DS query's answer has would be
		// cached a few seconds at most (RFC 2308 §5); what it proves,
		// that the child is unsigned, is kept instead, as zoneKeys
		// would conclude.
		r.keepKeys(qs, dns.CanonicalName(child), dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now)
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

// forgetBogusKeys drops a Bogus key set of zone judged from one server's
// answer, so that another server's copy is judged afresh; keys already
// proven stay (zoneKeysWith does not replace them with a Bogus copy).
func (r *Resolver) forgetBogusKeys(zone string) {
	zone = dns.CanonicalName(zone)
	if e, ok := r.keys.Peek(zone); ok && e.ks.Status == dnssec.Bogus {
		r.keys.Remove(zone)
	}
}
