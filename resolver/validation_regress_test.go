package resolver_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// Regression tests for forged replies that once got past validation: an
// answer to an RRSIG question, never checked, whose aliases then answered
// for a whole signed zone; and a zone's DNSKEY answer, not looked at once
// the zone's keys were in the key cache.

// replyForger wraps an Exchanger and rewrites the replies to matching
// questions, as an on-path attacker (or one who won a spoofing race)
// would.
type replyForger struct {
	inner resolver.Exchanger
	mu    sync.Mutex // guards match, edit and hits
	match func(q dns.Question) bool
	edit  func(m *dns.Msg)
	hits  int
}

func (f *replyForger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	m, err := f.inner.Exchange(ctx, network, server, q)
	if err != nil || m == nil {
		return m, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.match != nil && len(q.Question) == 1 && f.match(q.Question[0]) {
		f.hits++
		f.edit(m)
	}
	return m, nil
}

// forge makes f rewrite, with edit, the replies to qtype questions for
// name; a nil edit stops the forging.
func (f *replyForger) forge(name string, qtype uint16, edit func(m *dns.Msg)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.edit, f.hits = edit, 0
	f.match = nil
	if edit != nil {
		f.match = func(q dns.Question) bool { return q.Qtype == qtype && strings.EqualFold(q.Name, name) }
	}
}

func (f *replyForger) forged() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

// forgedSignedResolver is a validating resolver of the signed simulated
// internet whose upstream replies pass through a forger, with c as its
// cache (nil: its own).
func forgedSignedResolver(t *testing.T, c *cache.Cache) (*replyForger, *resolver.Resolver) {
	t.Helper()
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
	f := &replyForger{inner: n.Exchanger(t)}
	r := newResolver(t, n, func(cfg *resolver.Config) {
		cfg.DNSSEC = true
		cfg.TrustAnchors = anchors
		cfg.Exchanger = f
		cfg.Cache = c
	})
	return f, r
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestForgedRRSIGAnswerPlantsNoAlias: signatures cannot be validated, so
// an answer of nothing but them is passed on unjudged; but a CNAME or
// DNAME slipped in beside them must verify like any other record, and is
// never kept to answer other questions of the signed zone.
func TestForgedRRSIGAnswerPlantsNoAlias(t *testing.T) {
	for _, tc := range []struct {
		name  string
		qname string
		edit  func(t *testing.T, m *dns.Msg)
	}{{
		name:  "CNAME beside the real signatures",
		qname: "www.alg13.sec.",
		edit: func(t *testing.T, m *dns.Msg) {
			m.Answer = append(m.Answer, mustRR(t, "www.alg13.sec. 300 IN CNAME www.insecure.sec."))
		},
	}, {
		name:  "DNAME at the apex beside a made-up signature",
		qname: "zzz.alg13.sec.",
		edit: func(t *testing.T, m *dns.Msg) {
			m.Rcode = dns.RcodeSuccess
			m.Ns = nil
			m.Answer = []dns.RR{
				mustRR(t, "zzz.alg13.sec. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 1 alg13.sec. AAAA"),
				mustRR(t, "alg13.sec. 86400 IN DNAME insecure.sec."),
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f, r := forgedSignedResolver(t, nil)
			f.forge(tc.qname, dns.TypeRRSIG, func(m *dns.Msg) { tc.edit(t, m) })
			m, err := askDO(t, r, tc.qname, dns.TypeRRSIG, true, false)
			if f.forged() == 0 {
				t.Fatal("no reply was forged")
			}
			if err == nil {
				t.Errorf("forged RRSIG answer: got %v, want SERVFAIL (Bogus)", m)
			}
			f.forge("", 0, nil)
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{"www.alg13.sec.", dns.TypeA}, {"txt.alg13.sec.", dns.TypeA}, {"www.alg13.sec.", dns.TypeTXT}} {
				m, err := askDO(t, r, q.name, q.qtype, true, false)
				if err != nil {
					t.Fatalf("%s %s: %v", q.name, dns.TypeToString[q.qtype], err)
				}
				if hasType(m.Answer, dns.TypeCNAME) || hasType(m.Answer, dns.TypeDNAME) {
					t.Errorf("%s %s answered through a forged alias: %v", q.name, dns.TypeToString[q.qtype], m.Answer)
				}
				if !m.AuthenticatedData {
					t.Errorf("%s %s: AD clear, want the zone's own Secure answer", q.name, dns.TypeToString[q.qtype])
				}
			}
		})
	}
}

// TestRRSIGAnswerStillServed: a genuine answer of signatures is passed on
// as it is, without AD, as Unbound does.
func TestRRSIGAnswerStillServed(t *testing.T) {
	_, r := forgedSignedResolver(t, nil)
	m, err := askDO(t, r, "www.alg13.sec.", dns.TypeRRSIG, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rcode != dns.RcodeSuccess || !hasType(m.Answer, dns.TypeRRSIG) || m.AuthenticatedData {
		t.Errorf("got rcode %s AD %v answer %v, want the RRSIGs without AD", dns.RcodeToString[m.Rcode], m.AuthenticatedData, m.Answer)
	}
}

// TestForgedDNSKEYWithKeysCached: a zone's DNSKEY answer is judged by its
// chain of trust even when the key cache already holds the zone's proven
// keys, which a forged copy neither replaces nor borrows AD from.
func TestForgedDNSKEYWithKeysCached(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, m *dns.Msg)
	}{{
		name: "unsigned key set",
		edit: func(t *testing.T, m *dns.Msg) {
			k := mustRR(t, "alg13.sec. 300 IN DNSKEY 257 3 13 5weHv85vgZuDujl5UmDGgfJn6WS73QN1i5dCBO7Sp1io4DEfl1iO41Y/8OAOBPcMSLr5uKDNjPHVitzCwONtzQ==").(*dns.DNSKEY)
			k.PublicKey = "AAAA" + k.PublicKey[4:]
			m.Answer = []dns.RR{k}
		},
	}, {
		name: "CNAME instead of the key set",
		edit: func(t *testing.T, m *dns.Msg) {
			m.Answer = []dns.RR{mustRR(t, "alg13.sec. 300 IN CNAME www.insecure.sec.")}
		},
	}, {
		name: "real key set with a CNAME beside it",
		edit: func(t *testing.T, m *dns.Msg) {
			m.Answer = append(m.Answer, mustRR(t, "alg13.sec. 300 IN CNAME www.insecure.sec."))
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := cache.New(cache.Config{})
			f, r := forgedSignedResolver(t, c)
			if _, err := askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false); err != nil {
				t.Fatal(err)
			}
			// The messages go, as under LRU eviction; the key cache
			// keeps the zone's keys.
			c.Purge()
			f.forge("alg13.sec.", dns.TypeDNSKEY, func(m *dns.Msg) { tc.edit(t, m) })
			m, err := askDO(t, r, "alg13.sec.", dns.TypeDNSKEY, true, false)
			if f.forged() == 0 {
				t.Fatal("no reply was forged")
			}
			if err == nil && m.AuthenticatedData {
				t.Errorf("forged DNSKEY answer served with AD: %v", m.Answer)
			}
			f.forge("", 0, nil)
			// (The DNSKEY question itself stays SERVFAIL while its Bogus
			// answer is cached, bogusTTL.)
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{"alg13.sec.", dns.TypeSOA}, {"www.alg13.sec.", dns.TypeTXT}, {"www.alg13.sec.", dns.TypeA}} {
				m, err := askDO(t, r, q.name, q.qtype, true, false)
				if err != nil {
					t.Fatalf("%s %s after the forgery: %v", q.name, dns.TypeToString[q.qtype], err)
				}
				if hasType(m.Answer, dns.TypeCNAME) {
					t.Errorf("%s %s answered through a forged CNAME: %v", q.name, dns.TypeToString[q.qtype], m.Answer)
				}
				if !m.AuthenticatedData {
					t.Errorf("%s %s: AD clear, want Secure: the zone's proven keys stand", q.name, dns.TypeToString[q.qtype])
				}
			}
		})
	}
}

// TestDNSKEYQuestionAtAlias: a DNSKEY question for a name that is a CNAME
// in a signed zone gets the zone's signed CNAME, validated Secure, not a
// key set judged (Bogus) for a name that is no zone.
func TestDNSKEYQuestionAtAlias(t *testing.T) {
	_, r := forgedSignedResolver(t, nil)
	for range 2 { // the second from the cache
		m, err := askDO(t, r, "to-www.cname.sec.", dns.TypeDNSKEY, true, false)
		if err != nil {
			t.Fatalf("DNSKEY at an alias: %v", err)
		}
		if !hasType(m.Answer, dns.TypeCNAME) || !m.AuthenticatedData {
			t.Errorf("got AD %v answer %v, want the Secure CNAME", m.AuthenticatedData, m.Answer)
		}
	}
	m, err := askDO(t, r, "www.cname.sec.", dns.TypeA, true, false)
	if err != nil || !m.AuthenticatedData {
		t.Errorf("the alias's zone afterwards: %v (%v), want Secure", m, err)
	}
}
