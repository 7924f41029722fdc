package resolver_test

import (
	"context"
	"crypto"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// rollKey is a root key with its private half.
type rollKey struct {
	key  *dns.DNSKEY
	priv crypto.Signer
}

func newRollKey(t *testing.T, flags uint16) rollKey {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: flags, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	return rollKey{k, priv.(crypto.Signer)}
}

// revoked returns k with the REVOKE bit, signing as itself.
func (k rollKey) revoked() rollKey {
	c := dns.Copy(k.key).(*dns.DNSKEY)
	c.Flags |= dns.REVOKE
	return rollKey{c, k.priv}
}

// rootZone is a signed root zone, signed at at: its DNSKEY RRset holds
// keys and is signed by ksks, the rest by zsk, with an NSEC chain.
func rootZone(t *testing.T, at time.Time, zsk rollKey, keys []rollKey, ksks []rollKey) string {
	t.Helper()
	var rrs []dns.RR
	for _, s := range []string{
		". 3600 IN SOA a.root. host.root. 1 3600 600 86400 300",
		". 3600 IN NS a.root.",
		"a.root. 3600 IN A 127.53.210.1",
		"ta. 3600 IN TXT \"rolled\"",
		". 300 IN NSEC a.root. NS SOA RRSIG NSEC DNSKEY",
		"a.root. 300 IN NSEC ta. A RRSIG NSEC",
		"ta. 300 IN NSEC . TXT RRSIG NSEC",
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	sign := func(set []dns.RR, k rollKey) dns.RR {
		h := set[0].Header()
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
			TypeCovered: h.Rrtype, Algorithm: k.key.Algorithm, Labels: uint8(dns.CountLabel(h.Name)), OrigTtl: h.Ttl,
			Inception: uint32(at.Add(-time.Hour).Unix()), Expiration: uint32(at.Add(20 * 24 * time.Hour).Unix()),
			KeyTag: k.key.KeyTag(), SignerName: "."}
		if err := sig.Sign(k.priv, set); err != nil {
			t.Fatal(err)
		}
		return sig
	}
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String(), sign([]dns.RR{rr}, zsk).String())
	}
	var keyset []dns.RR
	for _, k := range keys {
		keyset = append(keyset, k.key)
		out = append(out, k.key.String())
	}
	for _, k := range ksks {
		out = append(out, sign(keyset, k).String())
	}
	return strings.Join(out, "\n") + "\n"
}

// swapExchanger sends queries to whichever network is current, so that a
// test can re-sign the root between queries.
type swapExchanger struct {
	mu sync.Mutex
	n  *resolvertest.Network
}

func (s *swapExchanger) set(n *resolvertest.Network) {
	s.mu.Lock()
	s.n = n
	s.mu.Unlock()
}

func (s *swapExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	return n.Exchange(ctx, network, server, q)
}

// TestRFC5011Rollover: a root KSK rollover seen by a resolver that tracks
// its anchor (dnssec.Tracker through Config.OnAnchorKeys): the new key,
// published signed by the old, is trusted after the 30-day hold-down;
// the old key's revocation drops it; the root then signed by the new key
// alone still validates, where a resolver with the old anchor fails.
func TestRFC5011Rollover(t *testing.T) {
	zsk := newRollKey(t, 256)
	kskA := newRollKey(t, 257)
	kskB := newRollKey(t, 257)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := newFakeClock(start)
	ex := &swapExchanger{}
	publish := func(keys, ksks []rollKey) {
		t.Helper()
		n, err := resolvertest.New(rootZone(t, clk.Now(), zsk, keys, ksks))
		if err != nil {
			t.Fatal(err)
		}
		ex.set(n)
	}
	publish([]rollKey{kskA, zsk}, []rollKey{kskA})
	hints := ex.n.RootHints()

	bootstrap := &dnssec.Anchor{Zone: ".", DS: []*dns.DS{kskA.key.ToDS(dns.SHA256)}}
	anchorsA := dnssec.NewAnchors().With(bootstrap)
	tr := dnssec.NewTracker(bootstrap)
	var r *resolver.Resolver
	newR := func(anchors *dnssec.Anchors, hook func(string, []dns.RR, time.Time)) *resolver.Resolver {
		r, err := resolver.New(resolver.Config{
			RootHints: hints, Exchanger: ex, AllowUpstream: loopback,
			DNSSEC: true, TrustAnchors: anchors, Now: clk.Now, OnAnchorKeys: hook,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r = newR(anchorsA, func(zone string, answer []dns.RR, now time.Time) {
		if zone == "." && tr.Update(answer, now) {
			r.SetTrustAnchors(dnssec.NewAnchors().With(tr.Anchor()))
		}
	})
	stale := newR(anchorsA, nil) // never learns

	states := func() string {
		var parts []string
		for _, k := range tr.Keys() {
			name := "A"
			if k.Key.KeyTag() == kskB.key.KeyTag() {
				name = "B"
			}
			parts = append(parts, fmt.Sprintf("%s=%v", name, k.State))
		}
		return strings.Join(parts, " ")
	}
	secure := func(step string, r *resolver.Resolver) error {
		t.Helper()
		m, err := askDO(t, r, "ta.", dns.TypeTXT, true, false)
		if err != nil {
			return err
		}
		if !m.AuthenticatedData {
			return fmt.Errorf("no AD: %v", m)
		}
		return nil
	}
	day := 24 * time.Hour
	steps := []struct {
		name   string
		after  time.Duration
		keys   []rollKey // published
		ksks   []rollKey // signing the DNSKEY RRset
		states string
	}{
		{"bootstrap", 0, []rollKey{kskA, zsk}, []rollKey{kskA}, "A=VALID"},
		{"B published", day, []rollKey{kskA, kskB, zsk}, []rollKey{kskA}, "A=VALID B=ADDPEND"},
		{"in hold-down", 20 * day, []rollKey{kskA, kskB, zsk}, []rollKey{kskA}, "A=VALID B=ADDPEND"},
		{"hold-down over", 11 * day, []rollKey{kskA, kskB, zsk}, []rollKey{kskA}, "A=VALID B=VALID"},
		{"A revoked", day, []rollKey{kskA.revoked(), kskB, zsk}, []rollKey{kskA.revoked(), kskB}, "A=REVOKED B=VALID"},
		{"A gone", day, []rollKey{kskB, zsk}, []rollKey{kskB}, "A=REVOKED B=VALID"},
	}
	for _, s := range steps {
		clk.Add(s.after)
		publish(s.keys, s.ksks)
		if err := secure(s.name, r); err != nil {
			t.Fatalf("%s: tracking resolver: %v", s.name, err)
		}
		if got := states(); got != s.states {
			t.Errorf("%s: states %s, want %s", s.name, got, s.states)
		}
	}
	if err := secure("stale", stale); err == nil {
		t.Errorf("a resolver still anchored to the revoked key validated the new root")
	}
	var trusted []uint16
	for _, k := range tr.Anchor().DNSKEY {
		trusted = append(trusted, k.KeyTag())
	}
	if len(trusted) != 1 || trusted[0] != kskB.key.KeyTag() {
		t.Errorf("trusted %v, want only B (%d)", trusted, kskB.key.KeyTag())
	}
}
