package resolver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

func aggrResolver(t *testing.T) *Resolver {
	t.Helper()
	return aggrResolverWith(t, SideCaches{})
}

// aggrResolverWith is aggrResolver with the side caches bounded at side.
func aggrResolverWith(t *testing.T, side SideCaches) *Resolver {
	t.Helper()
	r, err := New(Config{DNSSEC: true, SideCaches: side, RootHints: []dns.RR{glueRR(t, ". 3600 IN NS a.root."), glueRR(t, "a.root. 3600 IN A 127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRememberWildcardsSigner: rememberWildcards keeps a wildcard RRset
// for synthesis only when every signature over it is by the zone whose
// NSEC records proved the expansion, and the records' TTL is sane; only
// what it kept expands to another name.
func TestRememberWildcardsSigner(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	sig := func(signer string) string {
		return "x.example. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 1 " + signer + " AAAA"
	}
	for _, tc := range []struct {
		name   string
		answer []string
		want   bool
	}{
		{"signed by the proof's zone", []string{"x.example. 300 IN A 192.0.2.1", sig("example.")}, true},
		{"signer's name in another case", []string{"x.example. 300 IN A 192.0.2.1", sig("EXAMPLE.")}, true},
		{"signed by a zone below", []string{"x.example. 300 IN A 192.0.2.1", sig("kid.example.")}, false},
		{"signed by the parent", []string{"x.example. 300 IN A 192.0.2.1", sig(".")}, false},
		{"one of two signatures by another zone", []string{"x.example. 300 IN A 192.0.2.1", sig("example."), sig("other.")}, false},
		{"no signature", []string{"x.example. 300 IN A 192.0.2.1"}, false},
		{"TTL with the top bit set", []string{"x.example. 2147483648 IN A 192.0.2.1", sig("example.")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := aggrResolver(t)
			m := new(dns.Msg)
			for _, s := range tc.answer {
				m.Answer = append(m.Answer, glueRR(t, s))
			}
			// The NSEC that proves x.example. absent, and so y.example.
			m.Ns = []dns.RR{
				glueRR(t, "a.example. 300 IN NSEC z.example. A RRSIG NSEC"),
				glueRR(t, "a.example. 300 IN RRSIG NSEC 13 2 300 20300101000000 20200101000000 1 example. AAAA"),
			}
			r.rememberWildcards("example.", m, []wildcardAnswer{{owner: "x.example.", wildcard: "*.example.", rrtype: dns.TypeA}}, now)
			z, ok := r.nsec.Get("example.")
			if !ok {
				t.Fatal("no store for example.")
			}
			b := dnssec.NewBudget(dnssec.DefaultLimits(), dnssec.Policy{})
			out, _, got := r.synthesiseWildcard(z, "example.", "y.example.", dns.TypeA, now.Add(time.Second), b)
			if got != tc.want {
				t.Fatalf("synthesised %v (%v), want %v", got, out, tc.want)
			}
			if !got {
				return
			}
			if len(out.Answer) != len(tc.answer) || out.Answer[0].Header().Name != "y.example." || out.Answer[0].Header().Ttl > 300 {
				t.Errorf("answer %v, want y.example.'s A and RRSIG, TTL at most 300", out.Answer)
			}
			if len(out.Ns) != 2 || out.Ns[0].Header().Rrtype != dns.TypeNSEC {
				t.Errorf("authority %v, want the NSEC and its RRSIG", out.Ns)
			}
		})
	}
}

// TestWildcardProofNSEC3Delegation: an NSEC3 proof of a wildcard's
// expansion is refused when the wildcard's owner (the closest encloser)
// is a delegation point or a DNAME owner in the zone's chain: the names
// below it are another zone's, or are not there at all.
func TestWildcardProofNSEC3Delegation(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	hash := func(name string) string { return strings.ToLower(dns.HashName(name, dns.SHA1, 0, "")) }
	for _, tc := range []struct {
		name   string
		bitmap string
		want   bool
	}{
		{"ordinary name", "A RRSIG", true},
		{"empty non-terminal", "", true},
		{"delegation", "NS", false},
		{"signed delegation", "NS DS RRSIG", false},
		{"DNAME owner", "DNAME RRSIG", false},
		{"apex of a zone (NS and SOA)", "NS SOA RRSIG DNSKEY NSEC3PARAM", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := &zoneNSEC{}
			add := func(s string) {
				n3 := glueRR(t, s).(*dns.NSEC3)
				z.addNSEC3Locked(nsec3Entry{nsec3: n3, expires: now.Add(time.Hour)}, now)
			}
			// A chain of two: the wildcard's owner, with tc.bitmap, and a
			// record whose span and the wrap cover every other hash, the
			// next closer name's included.
			ce := hash("sub.example.")
			add(ce + ".example. 300 IN NSEC3 1 0 0 - 00000000000000000000000000000000 " + tc.bitmap)
			add("00000000000000000000000000000000.example. 300 IN NSEC3 1 0 0 - " + strings.ToUpper(ce) + " A")
			b := dnssec.NewBudget(dnssec.DefaultLimits(), dnssec.Policy{})
			z.mu.Lock()
			_, _, got := z.wildcardProofLocked("example.", "x.sub.example.", "*.sub.example.", now, b)
			z.mu.Unlock()
			if got != tc.want {
				t.Errorf("proof accepted: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestClosestEncloserNoCommonLabel: an NSEC whose next name shares no
// label with the name (the root zone's last NSEC points at ".") gives
// the root as the closest encloser; it crashed the resolver before
// (found by Unbound's scenarios).
func TestClosestEncloserNoCommonLabel(t *testing.T) {
	tests := []struct{ name, owner, next, want string }{
		{"zzzz.", "zw.", ".", "."},
		{"a.zzzz.", "zw.", ".", "."},
		{"b.example.", "a.example.", "c.example.", "example."},
		{"x.", ".", "aaa.", "."},
	}
	for _, tt := range tests {
		n := &dns.NSEC{Hdr: dns.RR_Header{Name: tt.owner, Rrtype: dns.TypeNSEC}, NextDomain: tt.next}
		if got := closestEncloser(tt.name, n); got != tt.want {
			t.Errorf("closestEncloser(%s, %s NSEC %s) = %s, want %s", tt.name, tt.owner, tt.next, got, tt.want)
		}
	}
	if got := suffix("a.b.", 0); got != "." {
		t.Errorf("suffix(a.b., 0) = %q, want .", got)
	}
}

// nsecDenial is a denial from zone of n NSEC records and their
// signatures, owners n0000.zone. on.
func nsecDenial(zone string, n int) *dns.Msg {
	m := new(dns.Msg)
	for i := range n {
		owner := fmt.Sprintf("n%04d.%s", i, zone)
		m.Ns = append(m.Ns,
			&dns.NSEC{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
				NextDomain: fmt.Sprintf("n%04d.%s", i+1, zone), TypeBitMap: []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}},
			&dns.RRSIG{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
				TypeCovered: dns.TypeNSEC, Algorithm: dns.ECDSAP256SHA256, Labels: 2, OrigTtl: 300,
				Expiration: 1_900_000_000, Inception: 1_600_000_000, SignerName: zone, Signature: "AAAA"})
	}
	return m
}

// TestNSECStoreBound: the records kept for aggressive use are counted in
// bytes over all zones and stop at the configured bound (the default
// when none is), however many zones send fresh NSEC records; a zone that
// leaves the store (evicted past maxNSECZones, or flushed) gives its
// count back, so the count is always what the zones hold.
func TestNSECStoreBound(t *testing.T) {
	tests := []struct {
		name  string
		side  SideCaches
		bound int64
	}{
		{"default", SideCaches{}, 24 << 20},
		{"router", SideCaches{NSECBytes: 1 << 20}, 1 << 20},
		{"odd size", SideCaches{NSECBytes: 3<<20 + 12345}, 3<<20 + 12345},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			r := aggrResolverWith(t, tt.side)
			if got := r.SideCaches().NSECBytes; got != tt.bound {
				t.Fatalf("SideCaches().NSECBytes = %d, want %d", got, tt.bound)
			}
			recount := func() int64 {
				var n int64
				r.nsec.Range(func(_ string, z *zoneNSEC) bool {
					z.mu.Lock()
					n += int64(z.bytesLocked())
					z.mu.Unlock()
					return true
				})
				return n
			}
			// Zones of 256 records and their signatures until the
			// store is full, then as many again: each zone keeps at
			// most its share, so 2 × 16 zones more than fill it.
			zones := 0
			for ; zones < maxNSECZones && r.nsecBound.held.Load() < tt.bound; zones++ {
				r.rememberNSEC(fmt.Sprintf("z%d.", zones), nsecDenial(fmt.Sprintf("z%d.", zones), maxNSECPerZone), now)
			}
			for i := range max(zones, 2*nsecZoneShare) {
				r.rememberNSEC(fmt.Sprintf("more%d.", i), nsecDenial(fmt.Sprintf("more%d.", i), maxNSECPerZone), now)
			}
			if got := r.nsecBound.held.Load(); got >= tt.bound+maxNSECEntryBytes || got < tt.bound {
				t.Errorf("held %d bytes, want %d (one entry more at most)", got, tt.bound)
			}
			if got, want := r.nsecBound.held.Load(), recount(); got != want {
				t.Errorf("count %d, zones hold %d", got, want)
			}
			// Once expired, records make room for new ones.
			later := now.Add(time.Hour)
			r.rememberNSEC("fresh.", nsecDenial("fresh.", 10), later)
			if z, ok := r.nsec.Get("fresh."); !ok || len(z.entries) != 10 {
				t.Errorf("a new zone kept nothing while the others' records had expired")
			}
			// Evictions (more zones than maxNSECZones) and a flush give back.
			for i := range maxNSECZones {
				r.rememberNSEC(fmt.Sprintf("small%d.", i), nsecDenial(fmt.Sprintf("small%d.", i), 1), later)
			}
			if got, want := r.nsecBound.held.Load(), recount(); got != want {
				t.Errorf("after evictions: count %d, zones hold %d", got, want)
			}
			r.nsec.Purge()
			if got := r.nsecBound.held.Load(); got != 0 {
				t.Errorf("after a purge: count %d, want 0", got)
			}
		})
	}
}

// TestKeysByteBound: the validated keys kept are bounded in bytes as well
// as in zones, so that large key sets cannot make them hundreds of MB;
// the bound is the configured one, and even the smallest cache keeps the
// largest key sets.
func TestKeysByteBound(t *testing.T) {
	tests := []struct {
		name  string
		side  SideCaches
		bound int64
	}{
		{"default", SideCaches{}, 16 << 20},
		{"router", SideCaches{KeyBytes: 2 << 20}, 2 << 20},
		{"smallest derived", SideCaches{KeyBytes: 1 << 20}, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := aggrResolverWith(t, tt.side)
			if got := r.SideCaches().KeyBytes; got != tt.bound {
				t.Fatalf("SideCaches().KeyBytes = %d, want %d", got, tt.bound)
			}
			big := make([]*dns.DNSKEY, 32)
			for i := range big {
				big[i] = &dns.DNSKEY{Hdr: dns.RR_Header{Name: "z.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
					Flags: 257, Protocol: 3, Algorithm: dns.RSASHA256, PublicKey: strings.Repeat("A", 700)}
			}
			e := keyEntry{ks: dnssec.KeySet{Keys: big}, expires: time.Unix(1_800_000_000, 0)}
			for i := range maxKeyEntries {
				r.keys.Add(fmt.Sprintf("z%d.", i), e)
			}
			if got := r.keys.Weight(); got > tt.bound || got < tt.bound/2 {
				t.Errorf("keys hold %d bytes, want at most %d and about that", got, tt.bound)
			}
			if n := r.keys.Len(); n >= maxKeyEntries {
				t.Errorf("keys hold %d sets of 32 large keys: the byte bound did not apply", n)
			}
			// The last set added is kept: no shard is smaller than the
			// heaviest set.
			if _, ok := r.keys.Peek(fmt.Sprintf("z%d.", maxKeyEntries-1)); !ok {
				t.Errorf("a set of %d bytes was not kept", keyEntryBytes("z.", e))
			}
		})
	}
}

// TestSigCacheBound: the signature cache is made with the configured
// number of entries, the default when none is.
func TestSigCacheBound(t *testing.T) {
	for _, tt := range []struct {
		side SideCaches
		want int
	}{
		{SideCaches{}, dnssec.DefaultSigCacheEntries},
		{SideCaches{SigEntries: 1024}, 1024},
	} {
		if got := aggrResolverWith(t, tt.side).SideCaches().SigEntries; got != tt.want {
			t.Errorf("SideCaches(%+v).SigEntries = %d, want %d", tt.side, got, tt.want)
		}
	}
}

// TestNSECStoreEntryAndZoneBounds: an NSEC listing every type (8 KB on
// the wire, 128 KiB unpacked) is not kept, and one zone keeps no more
// than its share of the store (a sixteenth of the configured bound),
// however many fresh records it sends.
func TestNSECStoreEntryAndZoneBounds(t *testing.T) {
	all := make([]uint16, 0, 65535)
	for t := 1; t <= 65535; t++ {
		all = append(all, uint16(t))
	}
	tests := []struct {
		name  string
		side  SideCaches
		share int
	}{
		{"default", SideCaches{}, 24 << 20 / 16},
		{"router", SideCaches{NSECBytes: 1 << 20}, 1 << 20 / 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			r := aggrResolverWith(t, tt.side)
			if got := r.nsecBound.zoneMax(); got != tt.share {
				t.Fatalf("zone share %d bytes, want %d", got, tt.share)
			}
			big := new(dns.Msg)
			big.Ns = []dns.RR{&dns.NSEC{Hdr: dns.RR_Header{Name: "a.big.", Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
				NextDomain: "b.big.", TypeBitMap: all}}
			r.rememberNSEC("big.", big, now)
			if z, ok := r.nsec.Get("big."); ok && len(z.entries) != 0 {
				t.Errorf("an NSEC of %d bytes was kept", rrBytes(big.Ns[0]))
			}
			// One zone offers maxNSECPerZone records of about 9 KB each
			// (4,000 types), under the entry bound but together above
			// the zone's share.
			m := new(dns.Msg)
			for i := range maxNSECPerZone {
				owner := fmt.Sprintf("n%04d.greedy.", i)
				m.Ns = append(m.Ns, &dns.NSEC{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
					NextDomain: owner, TypeBitMap: all[:4000]})
			}
			if n := rrBytes(m.Ns[0]); n > maxNSECEntryBytes || n*maxNSECPerZone <= tt.share {
				t.Fatalf("test records of %d bytes do not test the zone's share", n)
			}
			r.rememberNSEC("greedy.", m, now)
			z, ok := r.nsec.Get("greedy.")
			if !ok {
				t.Fatal("greedy. kept nothing")
			}
			z.mu.Lock()
			defer z.mu.Unlock()
			if got := z.bytesLocked(); got > tt.share || got < tt.share-maxNSECEntryBytes || got != z.bytes {
				t.Errorf("greedy. holds %d bytes (counted %d), want at most its share %d and about that", got, z.bytes, tt.share)
			}
		})
	}
}

// TestNSECStoreFullOfLive: once the store is full of records that have
// not expired, new zones still get room, the zones asked about least
// recently giving way, and the count stays true.
func TestNSECStoreFullOfLive(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := aggrResolverWith(t, SideCaches{NSECBytes: 1 << 20})
	for i := 0; !r.nsecBound.full(); i++ {
		r.rememberNSEC(fmt.Sprintf("z%d.", i), nsecDenial(fmt.Sprintf("z%d.", i), maxNSECPerZone), now)
	}
	kept := 0
	const fresh = 64
	for i := range fresh {
		name := fmt.Sprintf("fresh%d.", i)
		r.rememberNSEC(name, nsecDenial(name, 10), now)
		if z, ok := r.nsec.Get(name); ok && len(z.entries) == 10 {
			kept++
		}
	}
	// Without eviction none is kept: every record in the store is live.
	// With it, a zone misses out only when the shards tried hold nothing
	// but zones that kept nothing themselves.
	if kept < fresh/2 {
		t.Errorf("%d of %d new zones kept their records in a store full of live ones", kept, fresh)
	}
	var n int64
	r.nsec.Range(func(_ string, z *zoneNSEC) bool {
		z.mu.Lock()
		n += int64(z.bytesLocked())
		z.mu.Unlock()
		return true
	})
	if got := r.nsecBound.held.Load(); got != n || got >= r.nsecBound.max+maxNSECEntryBytes {
		t.Errorf("count %d, zones hold %d, bound %d", got, n, r.nsecBound.max)
	}
}

// TestNSECStoreCountsSOA: the SOA kept with a zone's records, and its
// signatures, count in the store's bytes; a set larger than an entry may
// be (a zone signing its SOA with many keys) is not kept, and the one
// kept before stays.
func TestNSECStoreCountsSOA(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := aggrResolverWith(t, SideCaches{NSECBytes: 1 << 20})
	withSOA := func(sigs int) *dns.Msg {
		m := nsecDenial("soa.example.", 1)
		m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: "soa.example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
			Ns: "ns.soa.example.", Mbox: "host.soa.example.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 300})
		for i := range sigs {
			m.Ns = append(m.Ns, &dns.RRSIG{Hdr: dns.RR_Header{Name: "soa.example.", Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
				TypeCovered: dns.TypeSOA, Algorithm: dns.RSASHA256, Labels: 2, OrigTtl: 300, KeyTag: uint16(i),
				Expiration: 1_900_000_000, Inception: 1_600_000_000, SignerName: "soa.example.",
				Signature: strings.Repeat("A", 684)}) // 512 bytes: RSA 4096
		}
		return m
	}
	recount := func() int64 {
		z, _ := r.nsec.Get("soa.example.")
		z.mu.Lock()
		defer z.mu.Unlock()
		return int64(z.bytesLocked())
	}
	r.rememberNSEC("soa.example.", withSOA(1), now)
	z, ok := r.nsec.Get("soa.example.")
	if !ok || len(z.soa) != 2 {
		t.Fatalf("SOA not kept: %v", z)
	}
	small := r.nsecBound.held.Load()
	if small != recount() || small < int64(rrsBytes(z.soa)) {
		t.Fatalf("held %d, zone holds %d, its SOA set alone %d", small, recount(), rrsBytes(z.soa))
	}
	// 64 signatures of 512 bytes: over an entry's 16 KiB.
	r.rememberNSEC("soa.example.", withSOA(64), now)
	if len(z.soa) != 2 {
		t.Errorf("an SOA set of %d records was kept", len(z.soa))
	}
	if got := r.nsecBound.held.Load(); got != small || got != recount() {
		t.Errorf("held %d after the large set, want %d (zone holds %d)", got, small, recount())
	}
	r.nsec.Purge()
	if got := r.nsecBound.held.Load(); got != 0 {
		t.Errorf("after a purge: held %d", got)
	}
}
