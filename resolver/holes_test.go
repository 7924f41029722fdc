package resolver_test

import (
	"fmt"
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
			// Any upstream query counts: minimisation may learn from
			// an ancestor's denial without the DS question itself.
			asked := len(n.Log()) > before
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

// TestNegativeSOABailiwick (issue 13, item 8): the SOA of a negative
// answer must be the answering zone's own (or a zone's between it and
// the name); a server of example.com. that denies a name with the SOA of
// another zone is not believed, and the next server is asked.
func TestNegativeSOABailiwick(t *testing.T) {
	good := netip.MustParseAddr("198.51.100.20")
	bad := netip.MustParseAddr("198.51.100.10")
	for _, tc := range []struct {
		name    string
		servers []netip.Addr // the delegation's addresses, in order of glue
		rcode   int
		soa     string // the SOA line the bad server sends
		wantErr bool
	}{
		{"NXDOMAIN with a foreign SOA: the other server's answer", []netip.Addr{bad, good}, dns.RcodeNameError, "other.test. 300 IN SOA ns.other.test. h.other.test. 1 2 3 4 300", false},
		{"NXDOMAIN with a foreign SOA from the only server: no answer", []netip.Addr{bad}, dns.RcodeNameError, "other.test. 300 IN SOA ns.other.test. h.other.test. 1 2 3 4 300", true},
		{"NODATA with a foreign SOA from the only server: no answer", []netip.Addr{bad}, dns.RcodeSuccess, "other.test. 300 IN SOA ns.other.test. h.other.test. 1 2 3 4 300", true},
		{"NXDOMAIN with the parent's SOA from the only server: no answer", []netip.Addr{bad}, dns.RcodeNameError, "com. 300 IN SOA ns.com. h.com. 1 2 3 4 300", true},
		{"NXDOMAIN with its own SOA is believed", []netip.Addr{bad}, dns.RcodeNameError, "example.com. 300 IN SOA ns.example.com. h.example.com. 1 2 3 4 300", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var glue []string
			for i, a := range tc.servers {
				glue = append(glue, fmt.Sprintf("ns%d.example.com. 3600 IN A %s", i, a))
			}
			s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
				rootAddr: func(q dns.Question) *dns.Msg {
					lines := []string{"|"}
					for i := range tc.servers {
						lines = append(lines, fmt.Sprintf("example.com. 3600 IN NS ns%d.example.com.", i))
					}
					return msg(t, false, 0, append(append(lines, "|"), glue...)...)
				},
				bad: func(q dns.Question) *dns.Msg {
					return msg(t, true, tc.rcode, "|", tc.soa)
				},
				good: func(q dns.Question) *dns.Msg {
					return msg(t, true, dns.RcodeNameError, "|", "example.com. 300 IN SOA ns.example.com. h.example.com. 1 2 3 4 300")
				},
			}}
			r, _ := scriptedResolver(t, s, nil)
			m, err := ask(t, r, "nx.example.com.", dns.TypeA)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %v; want no answer: the only server's denial names another zone", m)
				}
				return
			}
			if err != nil || m.Rcode != dns.RcodeNameError || len(m.Ns) == 0 || !strings.HasPrefix(m.Ns[0].String(), "example.com.") {
				t.Fatalf("got %v, %v; want NXDOMAIN with example.com.'s SOA", m, err)
			}
		})
	}
}

// TestTrustAnchorByName (issue 13, item 8): a name at or below a
// configured trust anchor is never Insecure without a validated proof,
// even when the walk never sees the anchored zone's cut (one server for
// parent and child, no minimisation): a forged unsigned answer from the
// unsigned parent's servers is Bogus, not Insecure.
func TestTrustAnchorByName(t *testing.T) {
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			if q.Qtype == dns.TypeA && q.Name == "www.child.example." {
				return msg(t, true, 0, "www.child.example. 300 IN A 192.0.2.66")
			}
			return msg(t, true, 0, "|", ". 300 IN SOA ns. host. 1 2 3 4 300")
		},
	}}
	ds, err := dns.NewRR("child.example. 3600 IN DS 12345 13 2 " + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	if err := anchors.Add(ds); err != nil {
		t.Fatal(err)
	}
	r, _ := scriptedResolver(t, s, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
	})
	m, err := askDO(t, r, "www.child.example.", dns.TypeA, true, false)
	if err == nil {
		t.Fatalf("got %v; want SERVFAIL: an unsigned answer under a trust anchor is Bogus", m)
	}
	// Outside the anchor the same server's unsigned answers stand.
	if _, err := askDO(t, r, "child.example.", dns.TypeSOA, true, false); err == nil {
		// child.example. itself is under the anchor too: also Bogus.
		t.Errorf("an unsigned denial at the anchor's own name was accepted")
	}
	if m, err := askDO(t, r, "other.example.", dns.TypeA, true, false); err != nil || m.AuthenticatedData {
		t.Errorf("other.example.: got %v, %v; want an Insecure answer", m, err)
	}
}

// TestParentDelegationFallback (issue 13, item 8): when a zone's own NS
// set names servers that cannot be resolved while the parent's
// delegation works, every query falls back to the parent's delegation,
// not only the first one in each hold-down period.
func TestParentDelegationFallback(t *testing.T) {
	child := netip.MustParseAddr("198.51.100.10")
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			if dns.IsSubDomain("example.com.", q.Name) {
				return msg(t, false, 0, "|", "example.com. 3600 IN NS ns1.example.com.", "|", "ns1.example.com. 3600 IN A 198.51.100.10")
			}
			// broken.test. does not exist: the child's NS name is dead.
			return msg(t, true, dns.RcodeNameError, "|", ". 300 IN SOA ns. host. 1 2 3 4 300")
		},
		child: func(q dns.Question) *dns.Msg {
			// The child's own NS set names a server nobody can find.
			if q.Qtype == dns.TypeNS {
				return msg(t, true, 0, "example.com. 3600 IN NS ns.broken.test.")
			}
			return msg(t, true, 0, q.Name+" 300 IN A 192.0.2.10")
		},
	}}
	r, _ := scriptedResolver(t, s, nil)
	// A client asks for the zone's NS set: the child's answer, of higher
	// rank than the referral, replaces the parent's in the cache.
	if _, err := ask(t, r, "example.com.", dns.TypeNS); err != nil {
		t.Fatalf("example.com. NS: %v", err)
	}
	for _, name := range []string{"a.example.com.", "b.example.com.", "c.example.com.", "d.example.com."} {
		if m, err := ask(t, r, name, dns.TypeA); err != nil || !answerHas(m, "192.0.2.10") {
			t.Errorf("%s: got %v, %v; want the answer through the parent's delegation", name, m, err)
		}
	}
}

// TestMinimisationRelaxation (issue 13, item 8): QNAME minimisation is
// relaxed to the full question only when a zone's servers answer the
// minimised question with an error (RFC 9156 §2.3's broken servers),
// never because of timeouts, never for the root or a TLD, and for that
// one query: the next question to the same zone is minimised again.
func TestMinimisationRelaxation(t *testing.T) {
	comAddr := netip.MustParseAddr("198.51.100.10")
	zoneAddr := netip.MustParseAddr("198.51.100.20")
	newNet := func(minimisedRcode int) *scripted {
		return &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
			rootAddr: func(q dns.Question) *dns.Msg {
				return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.", "|", "ns.com. 3600 IN A "+comAddr.String())
			},
			comAddr: func(q dns.Question) *dns.Msg {
				if q.Name != "example.com." && q.Name != "com." {
					// Silent to minimised questions below example.com.
					if dns.CountLabel(q.Name) == 2 {
						return nil
					}
				}
				if q.Name == "example.com." && q.Qtype == dns.TypeNS || dns.IsSubDomain("example.com.", q.Name) && q.Name != "timeout.com." {
					return msg(t, false, 0, "|", "example.com. 3600 IN NS ns.example.com.", "|", "ns.example.com. 3600 IN A "+zoneAddr.String())
				}
				return nil
			},
			zoneAddr: func(q dns.Question) *dns.Msg {
				if dns.CountLabel(q.Name) == 3 && q.Qtype != dns.TypeA || q.Qtype == dns.TypeA && dns.CountLabel(q.Name) == 3 && !strings.HasPrefix(q.Name, "www") {
					// Broken: errors for minimised questions.
					return msg(t, true, minimisedRcode)
				}
				return msg(t, true, 0, q.Name+" 300 IN A 192.0.2.5")
			},
		}}
	}
	t.Run("errors relax one query", func(t *testing.T) {
		s := newNet(dns.RcodeRefused)
		r, _ := scriptedResolver(t, s, func(c *resolver.Config) { c.NoQNameMinimisation = false })
		for _, name := range []string{"www.a.sub.example.com.", "www.b.sub.example.com."} {
			if m, err := ask(t, r, name, dns.TypeA); err != nil || !answerHas(m, "192.0.2.5") {
				t.Fatalf("%s: got %v, %v; want the answer after relaxing", name, m, err)
			}
		}
		// The second question was minimised first again: between the
		// two full questions the zone's server got a minimised one.
		minimised, first := false, false
		for _, a := range s.asked {
			switch {
			case strings.Contains(a, " www.a.sub.example.com. "):
				first = true
			case strings.Contains(a, " www.b.sub.example.com. "):
				first = false
			case first && strings.HasPrefix(a, zoneAddr.String()+" sub.example.com. "):
				minimised = true
			}
		}
		if !minimised {
			t.Errorf("the second question went out in full at once: %v", s.asked)
		}
	})
	t.Run("a TLD that times out never gets the full name", func(t *testing.T) {
		s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
			rootAddr: func(q dns.Question) *dns.Msg {
				return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.", "|", "ns.com. 3600 IN A "+comAddr.String())
			},
			comAddr: func(q dns.Question) *dns.Msg {
				if q.Name == "www.slow.com." {
					return msg(t, true, 0, "www.slow.com. 300 IN A 192.0.2.6")
				}
				return nil // minimised questions time out
			},
		}}
		r, _ := scriptedResolver(t, s, func(c *resolver.Config) { c.NoQNameMinimisation = false })
		ask(t, r, "www.slow.com.", dns.TypeA)
		ask(t, r, "www.slow.com.", dns.TypeAAAA)
		if got := s.askedFor("www.slow.com."); len(got) != 0 {
			t.Errorf("the full name went to the TLD's server after timeouts: %v", got)
		}
	})
}
