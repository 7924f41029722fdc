package resolver_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestTTLClamp (issue 13, item 8): every answer a client gets respects
// the cache's MaxTTL (24 h by default), the first, uncached one
// included, and a TTL with its top bit set counts as zero (RFC 2181 §8)
// rather than passing through raw.
func TestTTLClamp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ttl     uint32
		wantMax uint32
	}{
		{"2^31-1 is clamped to a day", 1<<31 - 1, 86400},
		{"2^32-1 counts as zero", 1<<32 - 1, 0},
		{"2^31 counts as zero", 1 << 31, 0},
		{"an ordinary TTL passes", 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
				rootAddr: func(q dns.Question) *dns.Msg {
					a := &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: tc.ttl}, A: []byte{192, 0, 2, 1}}
					m := msg(t, true, 0)
					m.Answer = []dns.RR{a}
					return m
				},
			}}
			r, _ := scriptedResolver(t, s, nil)
			for i := range 2 {
				m, err := ask(t, r, "big.example.", dns.TypeA)
				if err != nil || len(m.Answer) != 1 {
					t.Fatalf("query %d: got %v, %v; want one record", i, m, err)
				}
				if got := m.Answer[0].Header().Ttl; got > tc.wantMax {
					t.Errorf("query %d: TTL %d; want at most %d", i, got, tc.wantMax)
				}
			}
		})
	}
}

// TestLocalZoneAnswers (issue 13, item 8): the locally served zones of
// RFC 6303 answer with AA set (§3), and a DS query for such a zone's own
// name goes to the parent, where the DS lives, instead of getting an
// unsigned local NODATA that no validator behind hush can trust.
func TestLocalZoneAnswers(t *testing.T) {
	n := newNet(t)
	r := newResolver(t, n)
	for _, tc := range []struct {
		name   string
		qtype  uint16
		rcode  int
		upward bool // asked upstream
	}{
		{"1.1.168.192.in-addr.arpa.", dns.TypePTR, dns.RcodeNameError, false},
		{"168.192.in-addr.arpa.", dns.TypeSOA, dns.RcodeSuccess, false},
		{"168.192.in-addr.arpa.", dns.TypeNS, dns.RcodeSuccess, false},
		{"x.home.arpa.", dns.TypeA, dns.RcodeNameError, false},
		{"localhost.", dns.TypeA, dns.RcodeSuccess, false},
		{"168.192.in-addr.arpa.", dns.TypeDS, -1, true},
		{"home.arpa.", dns.TypeDS, -1, true},
	} {
		t.Run(tc.name+" "+dns.TypeToString[tc.qtype], func(t *testing.T) {
			before := len(n.Log())
			m, err := ask(t, r, tc.name, tc.qtype)
			asked := false
			for _, q := range n.Log()[before:] {
				if strings.EqualFold(q.Name, tc.name) && q.Type == tc.qtype {
					asked = true
				}
			}
			if asked != tc.upward {
				t.Errorf("asked upstream: %t; want %t", asked, tc.upward)
			}
			if tc.upward {
				if err == nil && len(m.Ns) == 1 && strings.Contains(m.Ns[0].String(), "nobody.invalid.") {
					t.Errorf("got hush's own NODATA for the DS: %v", m)
				}
				return
			}
			if err != nil || m.Rcode != tc.rcode {
				t.Fatalf("got %v, %v; want rcode %s", m, err, dns.RcodeToString[tc.rcode])
			}
			if !m.Authoritative {
				t.Errorf("AA not set on a locally served zone's answer")
			}
		})
	}
}

// TestNTAAggressiveNSEC (issue 13, item 8): a negative trust anchor set
// below a zone cut, inside a signed zone, makes the names under it
// Insecure (RFC 7646 §2): no AD, whether the NXDOMAIN came from the
// zone's servers or was synthesised from cached NSEC records (RFC 8198).
func TestNTAAggressiveNSEC(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
		c.NegativeAnchors = []dnssec.NTA{{Name: "sub.alg13.sec."}}
	})
	// Outside the anchor: validated, and its NSEC records are kept.
	if m, err := askDO(t, r, "nx.alg13.sec.", dns.TypeA, true, false); err != nil || m.Rcode != dns.RcodeNameError || !m.AuthenticatedData {
		t.Fatalf("nx.alg13.sec.: got %v (%v); want a validated NXDOMAIN", m, err)
	}
	for _, name := range []string{"a.sub.alg13.sec.", "b.sub.alg13.sec.", "sub.alg13.sec."} {
		m, err := askDO(t, r, name, dns.TypeA, true, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.AuthenticatedData {
			t.Errorf("%s: AD set under a negative trust anchor:\n%v", name, m)
		}
	}
}
