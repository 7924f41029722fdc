package resolver_test

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// signedZoneKey is a zone's ECDSA P-256 key, made for one test.
type signedZoneKey struct {
	key  *dns.DNSKEY
	priv crypto.Signer
}

func newZoneKey(t *testing.T, zone string) signedZoneKey {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	return signedZoneKey{k, priv.(crypto.Signer)}
}

// signedText returns the zone's records, each RRset followed by its
// signature by k, as a master file.
func signedText(t *testing.T, k signedZoneKey, now time.Time, records ...string) string {
	return signedTextExpired(t, k, now, 0, records...)
}

// signedTextExpired is signedText with the signature over RRsets of type
// expired (if not 0) out of date.
func signedTextExpired(t *testing.T, k signedZoneKey, now time.Time, expired uint16, records ...string) string {
	t.Helper()
	var rrs []dns.RR
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	var b strings.Builder
	done := map[[2]string]bool{}
	for _, rr := range rrs {
		h := rr.Header()
		id := [2]string{strings.ToLower(h.Name), dns.TypeToString[h.Rrtype]}
		if done[id] {
			continue
		}
		done[id] = true
		var set []dns.RR
		for _, o := range rrs {
			if strings.EqualFold(o.Header().Name, h.Name) && o.Header().Rrtype == h.Rrtype {
				set = append(set, o)
				b.WriteString(o.String() + "\n")
			}
		}
		// Glue and delegations are not signed by the zone.
		if h.Rrtype == dns.TypeNS && !strings.EqualFold(h.Name, k.key.Hdr.Name) || !dns.IsSubDomain(k.key.Hdr.Name, h.Name) {
			continue
		}
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Ttl: h.Ttl}, KeyTag: k.key.KeyTag(), SignerName: k.key.Hdr.Name, Algorithm: k.key.Algorithm,
			Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(24 * time.Hour).Unix())}
		if h.Rrtype == expired {
			sig.Inception, sig.Expiration = uint32(now.Add(-48*time.Hour).Unix()), uint32(now.Add(-24*time.Hour).Unix())
		}
		if err := sig.Sign(k.priv, set); err != nil {
			t.Fatal(err)
		}
		b.WriteString(sig.String() + "\n")
	}
	return b.String()
}

// TestChildZoneOnParentServers checks a signed child zone served by its
// parent's own servers: no referral ever shows the cut, so the child's
// DNSKEY set comes from a server the iterator knows as the parent's, and
// must be judged by the child's chain of trust, not validated with the
// parent's keys (which asked for the child's keys again: a loop).
// Deckard's iter_validate_nsec_nxdomain (nic.cz. under cz.) has this.
func TestChildZoneOnParentServers(t *testing.T) {
	now := time.Now()
	par, kid := newZoneKey(t, "par."), newZoneKey(t, "kid.par.")
	kidDS := kid.key.ToDS(dns.SHA256)
	root := `. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
par. 3600 IN NS ns.par.
ns.par. 3600 IN A 127.53.200.2
`
	parText := signedText(t, par, now,
		"par. 3600 IN SOA ns.par. host.par. 1 3600 600 86400 300",
		"par. 3600 IN NS ns.par.",
		"ns.par. 3600 IN A 127.53.200.2",
		par.key.String(),
		"kid.par. 3600 IN NS ns.par.",
		kidDS.String(),
	)
	kidText := signedText(t, kid, now,
		"kid.par. 3600 IN SOA ns.par. host.par. 1 3600 600 86400 300",
		"kid.par. 3600 IN NS ns.par.",
		kid.key.String(),
		"www.kid.par. 3600 IN A 192.0.2.1",
	)
	n, err := resolvertest.New(root, parText, kidText)
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	if err := anchors.Add(par.key.ToDS(dns.SHA256)); err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC, c.TrustAnchors = true, anchors
	})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.kid.par.", dns.TypeA}, {"kid.par.", dns.TypeDNSKEY}} {
		m, err := askDO(t, r, q.name, q.qtype, true, false)
		if err != nil {
			t.Fatalf("%s %s: %v", q.name, dns.TypeToString[q.qtype], err)
		}
		if !m.AuthenticatedData || len(m.Answer) == 0 {
			t.Errorf("%s %s: got %v, want a Secure answer", q.name, dns.TypeToString[q.qtype], m)
		}
	}
}

// TestNegativeAnswerSOAVerified checks that the SOA of a NODATA answer
// must verify like its NSEC records (Unbound alike; Deckard's
// val_bogus_nodata): an expired signature over it makes the answer Bogus.
func TestNegativeAnswerSOAVerified(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name    string
		expired uint16
		bogus   bool
	}{{"good", 0, false}, {"SOA signature expired", dns.TypeSOA, true}} {
		t.Run(tt.name, func(t *testing.T) {
			par := newZoneKey(t, "par.")
			root := `. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
par. 3600 IN NS ns.par.
ns.par. 3600 IN A 127.53.200.2
`
			parText := signedTextExpired(t, par, now, tt.expired,
				"par. 3600 IN SOA ns.par. host.par. 1 3600 600 86400 300",
				"par. 3600 IN NS ns.par.",
				"ns.par. 3600 IN A 127.53.200.2",
				par.key.String(),
				"www.par. 3600 IN A 192.0.2.1",
				"par. 300 IN NSEC ns.par. NS SOA RRSIG NSEC DNSKEY",
				"ns.par. 300 IN NSEC www.par. A RRSIG NSEC",
				"www.par. 300 IN NSEC par. A RRSIG NSEC",
			)
			n, err := resolvertest.New(root, parText)
			if err != nil {
				t.Fatal(err)
			}
			anchors := dnssec.NewAnchors()
			if err := anchors.Add(par.key.ToDS(dns.SHA256)); err != nil {
				t.Fatal(err)
			}
			r := newResolver(t, n, func(c *resolver.Config) {
				c.DNSSEC, c.TrustAnchors = true, anchors
			})
			m, err := askDO(t, r, "www.par.", dns.TypeTXT, true, false)
			if tt.bogus {
				if err == nil {
					t.Errorf("got %v, want SERVFAIL", m)
				}
				return
			}
			if err != nil || !m.AuthenticatedData || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
				t.Errorf("got %v (%v), want a Secure NODATA", m, err)
			}
		})
	}
}
