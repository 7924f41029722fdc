package cache

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// SetMsg caches m as the answer to the client question k, as of now.
//
// m is the answer as a client that set DO gets it; one entry serves both
// kinds of client, whatever k.DO says: a lookup with DO clear gets it
// without the DNSSEC records such a client did not ask for (RFC 4035
// §3.2.1: RRSIG, NSEC and NSEC3 records of the answer and authority
// sections, unless the question is of that type).
//
// It stores a packed copy: the caller may reuse or modify m afterwards. It
// caches nothing, and says nothing, when m
//   - is truncated (TC): the full answer must come over TCP, and a cached
//     truncated answer would send every client there;
//   - is not a QUERY, or its question is not k's (name compared
//     case-insensitively, type, class);
//   - has an RCODE other than NOERROR, NXDOMAIN or SERVFAIL;
//   - would get a TTL of zero (see below);
//   - is larger than a shard of the cache holds (see Config.Shards).
//
// The TTL of the entry is:
//   - for a positive answer, the lowest TTL of the answer and authority
//     records (RRSIGs included, and no longer than a signature stays
//     valid), clamped to [MinTTL, MaxTTL];
//   - for a negative answer (NXDOMAIN, or NOERROR without a record of the
//     question's type, CNAMEs aside: NODATA), min(SOA TTL, SOA MINIMUM) of
//     the authority SOA (RFC 2308 §5), further lowered by any lower TTL in
//     the answer and authority sections and capped at MaxNegativeTTL;
//     without an SOA, NoSOANegativeTTL, lowered and capped alike;
//   - for SERVFAIL, ServfailTTL.
//
// Every record's TTL in the stored copy is lowered to the entry's TTL (and,
// for positive answers, raised to MinTTL), so no client is told to keep a
// record longer than the cache itself does; the OPT record is stored as
// given. The question keeps the case it has in m.
//
// A SERVFAIL does not replace an unexpired answer of another RCODE: one
// failed refresh must not throw away a good answer. Anything else replaces
// what k held.
func (c *Cache) SetMsg(k Key, m *dns.Msg, meta Meta, now time.Time) {
	if m == nil || m.Truncated || m.Opcode != dns.OpcodeQuery || len(m.Question) != 1 {
		return
	}
	ik := msgKey(k)
	q := m.Question[0]
	if q.Qtype != k.Type || q.Qclass != k.Class || canonicalName(q.Name) != ik.name {
		return
	}
	ttl, floor := c.msgTTL(k.Type, m, now)
	if ttl == 0 {
		return
	}
	wire, offs, err := packMsg(m, ttl, floor)
	if err != nil {
		return
	}
	e := &entry{
		stored:  now,
		ttl:     ttl,
		meta:    meta,
		wire:    wire,
		ttlOffs: offs,
	}
	var flags uint32
	if m.Rcode == dns.RcodeServerFailure {
		flags |= entryServfail
	}
	if m.IsEdns0() != nil {
		flags |= entryOpt
	}
	e.flags.Store(flags)
	plain, ok := planPlain(wire, q.Qtype)
	if !ok {
		// Rare: pack the plain message on its own.
		pm := *m
		pm.Answer = withoutDNSSEC(m.Answer, q.Qtype)
		pm.Ns = withoutDNSSEC(m.Ns, q.Qtype)
		pw, poffs, err := packMsg(&pm, ttl, floor)
		if err != nil {
			return
		}
		plain = &plainView{wire: pw, ttlOffs: poffs}
	}
	e.plain = plain.compact()
	if !e.servfail() {
		c.store.Add(ik, e)
		return
	}
	c.store.AddIf(ik, e, func(old *entry) bool {
		_, _, live := old.remaining(now)
		// Nor does it replace an expired answer kept for serving stale.
		return old.servfail() || !live && !c.stale(old, now)
	})
}

// packBufs holds the buffers SetMsg and SetRRset pack into before copying
// the result to memory of its own size. Pack would make one per call,
// sized by the uncompressed length: 26 MB of the 450 MB the fake
// internet's 20,000-name cold pass allocated. A message whose uncompressed
// form is larger than the buffer gets one made by PackBuffer.
var packBufs = sync.Pool{New: func() any {
	b := make([]byte, packBufSize)
	return &b
}}

// packBufSize is the size of packBufs' buffers: most answers are a few
// hundred bytes; DNSSEC answers with large keys or many records reach a
// few KiB.
const packBufSize = 8 << 10

// packMsg packs m with ID 0 and compression, its records' TTLs raised to
// floor and lowered to ttl (the OPT record aside), into a slice of its own
// size, and returns it with the offsets of those TTL fields.
func packMsg(m *dns.Msg, ttl, floor uint32) ([]byte, []uint16, error) {
	// A shallow copy is enough: Pack writes only into its own buffer as
	// long as the RCODE fits the header, which every RCODE accepted by
	// SetMsg does.
	mm := *m
	mm.Id = 0
	mm.Compress = true
	buf := packBufs.Get().(*[]byte)
	defer packBufs.Put(buf)
	packed, err := mm.PackBuffer(*buf)
	if err != nil {
		return nil, nil, err
	}
	// Packed in a pooled buffer, copied to one of the exact size: the
	// cache is bounded by what its entries hold.
	wire := make([]byte, len(packed))
	copy(wire, packed)
	offs, err := ttlOffsets(make([]uint16, 0, len(m.Answer)+len(m.Ns)+len(m.Extra)), wire)
	if err != nil {
		return nil, nil, err
	}
	for _, off := range offs {
		t := min(max(wireTTL(binary.BigEndian.Uint32(wire[off:])), floor), ttl)
		binary.BigEndian.PutUint32(wire[off:], t)
	}
	return wire, offs, nil
}

// msgTTL returns the TTL SetMsg gives m, zero if m is not to be cached, and
// the floor its records' TTLs are raised to.
func (c *Cache) msgTTL(qtype uint16, m *dns.Msg, now time.Time) (ttl, floor uint32) {
	switch m.Rcode {
	case dns.RcodeServerFailure:
		return c.servfailTTL, 0
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return 0, 0
	}
	t := newTTLs()
	for _, rr := range m.Answer {
		t.add(rr, now)
	}
	var soa *dns.SOA
	for _, rr := range m.Ns {
		t.add(rr, now)
		if s, ok := rr.(*dns.SOA); ok && soa == nil {
			soa = s
		}
	}
	if m.Rcode == dns.RcodeSuccess && answers(m.Answer, qtype) {
		return t.clamp(c.minTTL, c.maxTTL), c.minTTL
	}
	// RFC 2308 §5: a negative answer lives as long as the lower of the
	// SOA's TTL (already in t) and its MINIMUM field.
	if soa == nil {
		return t.clamp(0, min(noSOANegTTL, c.maxNegTTL)), 0
	}
	return t.clamp(0, min(wireTTL(soa.Minttl), c.maxNegTTL)), 0
}

// NoSOANegativeTTL is how long a negative answer without an SOA is
// cached. RFC 2308 §5 says such answers SHOULD NOT be cached, since
// nothing in them bounds their life and two caches could hand one back
// and forth for ever. Unbound (NORR_TTL) and Knot Resolver keep them a
// few seconds all the same, and so does hush: a fixed, short life bounds
// such a loop by what the upstream cache does, while a server that
// answers so would otherwise get every client query again.
const NoSOANegativeTTL = 5 * time.Second

const noSOANegTTL = uint32(NoSOANegativeTTL / time.Second)

// answers reports whether an answer section holds data of type qtype (any
// data for ANY), as opposed to nothing or only the CNAMEs leading to a name
// without such data (NODATA, RFC 2308 §2.2).
func answers(ans []dns.RR, qtype uint16) bool {
	for _, rr := range ans {
		if t := rr.Header().Rrtype; t == qtype || qtype == dns.TypeANY {
			return true
		}
	}
	return false
}

// lookupMsg returns the live message entry for k and the seconds elapsed
// since it was stored. An expired entry is dropped and reported as a miss.
func (c *Cache) lookupMsg(k Key, now time.Time) (*entry, uint32, bool) {
	ik := msgKey(k)
	e, ok := c.store.Get(ik)
	if !ok {
		return nil, 0, false
	}
	elapsed, _, ok := e.remaining(now)
	if !ok {
		if !c.stale(e, now) {
			c.drop(ik, e)
		}
		return nil, 0, false
	}
	return e, elapsed, true
}

// StaleTTL is the TTL of the records of a stale answer (RFC 8767 §4
// recommends 30 s): short, so that clients ask again soon.
const StaleTTL = 30

// GetStaleMsg returns the answer cached for k once it has expired, while
// Config.StaleFor still keeps it, as a new message with every record's
// TTL StaleTTL; for serving stale data (RFC 8767) when a refresh fails or
// is slow. It reports false for a live entry (GetMsg's business), for a
// SERVFAIL, and for anything expired longer than StaleFor ago.
func (c *Cache) GetStaleMsg(k Key, now time.Time) (*dns.Msg, Meta, bool) {
	e, ok := c.store.Get(msgKey(k))
	if !ok {
		return nil, Meta{}, false
	}
	if _, _, live := e.remaining(now); live || !c.stale(e, now) {
		return nil, Meta{}, false
	}
	m := new(dns.Msg)
	if err := m.Unpack(e.appendTo(make([]byte, 0, len(e.wire)), 0, 0, k.DO)); err != nil {
		return nil, Meta{}, false
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype != dns.TypeOPT {
				rr.Header().Ttl = StaleTTL
			}
		}
	}
	return m, e.meta, true
}

// GetMsg returns the answer cached for k, as a new message the caller owns
// and may modify, with its ID zero and every record's TTL lowered by the
// time since it was stored (never below zero). With k.DO clear it is the
// answer without the DNSSEC records (see SetMsg). The question has the
// case it had when stored, not k's. An expired entry is a miss, and is
// dropped.
//
// GetMsg unpacks the stored wire form: it allocates the message and its
// records. The hot path should use AppendMsg.
func (c *Cache) GetMsg(k Key, now time.Time) (*dns.Msg, Meta, bool) {
	e, elapsed, ok := c.lookupMsg(k, now)
	if !ok {
		return nil, Meta{}, false
	}
	m := new(dns.Msg)
	if err := m.Unpack(e.appendTo(make([]byte, 0, len(e.wire)), 0, elapsed, k.DO)); err != nil {
		// Cannot happen: the wire form came from Pack. Treat it as a
		// miss rather than serve something broken.
		c.drop(msgKey(k), e)
		return nil, Meta{}, false
	}
	return m, e.metaFor(elapsed), true
}

// AppendMsg appends to dst the answer cached for k in wire form, with its ID
// set to id and every record's TTL lowered by the time since it was stored,
// and returns the extended slice. With k.DO clear it is the answer without
// the DNSSEC records (see SetMsg). On a miss it returns dst unchanged and
// false; an expired entry is a miss, and is dropped.
//
// It allocates nothing when dst has room for the message. It does not
// patch anything but the ID and the TTLs: the caller copies the client's
// RD bit and question case (the question name starts at offset 12 of the
// message and is as long as the client's) and fits the OPT record and size
// to the client.
func (c *Cache) AppendMsg(dst []byte, k Key, id uint16, now time.Time) ([]byte, Meta, bool) {
	e, elapsed, ok := c.lookupMsg(k, now)
	if !ok {
		return dst, Meta{}, false
	}
	return e.appendTo(dst, id, elapsed, k.DO), e.metaFor(elapsed), true
}

// PrefetchMinTTL is the shortest TTL an answer must have for Meta.Prefetch:
// refreshing answers that live seconds would only add traffic.
const PrefetchMinTTL = 10

// metaFor is the Meta GetMsg, AppendMsg and AppendWire return for e read
// elapsed seconds after it was stored: e's, with Prefetch set for the first
// reader in the last tenth of a long enough TTL.
func (e *entry) metaFor(elapsed uint32) Meta {
	m := e.meta
	if e.ttl >= PrefetchMinTTL && !e.servfail() && (e.ttl-elapsed)*10 <= e.ttl && e.flags.Or(entryPrefetched)&entryPrefetched == 0 {
		m.Prefetch = true
	}
	return m
}

// appendTo appends e's message, as a client with DO or without it gets it,
// with ID id and its TTLs lowered by elapsed seconds.
func (e *entry) appendTo(dst []byte, id uint16, elapsed uint32, do bool) []byte {
	base := len(dst)
	if do || e.plain.none() {
		dst = appendLowered(dst, e.wire, e.ttlOffs, elapsed)
	} else {
		dst = e.plain.appendPlain(dst, e.wire, e.ttlOffs, elapsed)
	}
	binary.BigEndian.PutUint16(dst[base:], id)
	return dst
}

// ClampMsg returns m with every record's TTL as SetMsg would store it:
// clamped to the entry's TTL (MaxTTL, MaxNegativeTTL, signature validity)
// and, for positive answers, raised to MinTTL. For a message SetMsg would
// not cache it applies at least RFC 2181 §8 (a TTL with the top bit set
// is zero) and MaxTTL. It is for answers that reach a client without
// passing through the cache, so that the first answer says what every
// later one will. It returns m itself when no TTL changes, else a
// shallow copy whose changed records are copies: m and its records may
// be shared and are not modified. The OPT record is left alone.
func (c *Cache) ClampMsg(qtype uint16, m *dns.Msg, now time.Time) *dns.Msg {
	if m == nil {
		return nil
	}
	ttl, floor := c.msgTTL(qtype, m, now)
	if ttl == 0 {
		ttl, floor = c.maxTTL, 0
	}
	want := func(rr dns.RR) uint32 {
		return min(max(wireTTL(rr.Header().Ttl), floor), ttl)
	}
	changed := false
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype != dns.TypeOPT && rr.Header().Ttl != want(rr) {
				changed = true
			}
		}
	}
	if !changed {
		return m
	}
	out := *m
	clamp := func(sec []dns.RR) []dns.RR {
		res := make([]dns.RR, len(sec))
		for i, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT || rr.Header().Ttl == want(rr) {
				res[i] = rr
				continue
			}
			cp := dns.Copy(rr)
			cp.Header().Ttl = want(rr)
			res[i] = cp
		}
		return res
	}
	out.Answer, out.Ns, out.Extra = clamp(m.Answer), clamp(m.Ns), clamp(m.Extra)
	return &out
}
