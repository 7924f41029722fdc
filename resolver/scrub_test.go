package resolver

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func mustRRs(t testing.TB, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("NewRR(%q): %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

func TestScrub(t *testing.T) {
	tests := []struct {
		name              string
		zone, qname       string
		qtype             uint16
		answer, ns, extra []string
		wantAnswer        []string
		wantNs            []string
		wantExtra         []string
	}{
		{
			name: "referral keeps in-bailiwick glue only", zone: "com.", qname: "www.example.com.", qtype: dns.TypeA,
			ns:        []string{"example.com. 172800 IN NS ns1.example.com.", "example.com. 172800 IN NS ns.other.net."},
			extra:     []string{"ns1.example.com. 172800 IN A 192.0.2.1", "ns.other.net. 172800 IN A 192.0.2.66", "victim.com. 3600 IN A 192.0.2.99"},
			wantNs:    []string{"example.com. 172800 IN NS ns1.example.com.", "example.com. 172800 IN NS ns.other.net."},
			wantExtra: []string{"ns1.example.com. 172800 IN A 192.0.2.1"},
		},
		{
			name: "out-of-bailiwick answer dropped", zone: "example.com.", qname: "www.example.com.", qtype: dns.TypeA,
			answer:     []string{"www.example.com. 300 IN A 192.0.2.1", "www.google.com. 300 IN A 192.0.2.2"},
			wantAnswer: []string{"www.example.com. 300 IN A 192.0.2.1"},
		},
		{
			name: "upward NS dropped", zone: "example.com.", qname: "www.example.com.", qtype: dns.TypeA,
			ns: []string{"com. 3600 IN NS evil.example.com.", ". 3600 IN NS evil.example.com."},
		},
		{
			name: "sibling NS dropped", zone: "com.", qname: "www.example.com.", qtype: dns.TypeA,
			ns: []string{"other.com. 3600 IN NS ns.other.com."},
		},
		{
			name: "cname chain in zone kept, out of zone target stops", zone: "example.com.", qname: "a.example.com.", qtype: dns.TypeA,
			answer: []string{
				"a.example.com. 300 IN CNAME b.example.com.",
				"b.example.com. 300 IN CNAME c.example.net.",
				"c.example.net. 300 IN A 192.0.2.7",
			},
			wantAnswer: []string{"a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN CNAME c.example.net."},
		},
		{
			name: "unrelated record at other name dropped", zone: "example.com.", qname: "a.example.com.", qtype: dns.TypeA,
			answer:     []string{"a.example.com. 300 IN A 192.0.2.1", "z.example.com. 300 IN A 192.0.2.9"},
			wantAnswer: []string{"a.example.com. 300 IN A 192.0.2.1"},
		},
		{
			name: "dname synthesised", zone: "example.com.", qname: "x.old.example.com.", qtype: dns.TypeA,
			answer: []string{
				"old.example.com. 300 IN DNAME new.example.com.",
				"x.old.example.com. 300 IN CNAME attacker.example.org.",
				"x.new.example.com. 300 IN A 192.0.2.5",
			},
			wantAnswer: []string{
				"old.example.com. 300 IN DNAME new.example.com.",
				"x.old.example.com. 300 IN CNAME x.new.example.com.",
				"x.new.example.com. 300 IN A 192.0.2.5",
			},
		},
		{
			name: "negative keeps SOA of ancestor", zone: "example.com.", qname: "nope.example.com.", qtype: dns.TypeA,
			ns:     []string{"example.com. 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 5", "other.example.com. 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 5"},
			wantNs: []string{"example.com. 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 5"},
		},
		{
			name: "cname loop inside one answer terminates", zone: "example.com.", qname: "a.example.com.", qtype: dns.TypeA,
			answer:     []string{"a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN CNAME a.example.com."},
			wantAnswer: []string{"a.example.com. 300 IN CNAME b.example.com.", "b.example.com. 300 IN CNAME a.example.com."},
		},
		{
			name: "case-insensitive owner match", zone: "Example.COM.", qname: "WWW.example.com.", qtype: dns.TypeA,
			answer:     []string{"www.EXAMPLE.com. 300 IN A 192.0.2.1"},
			wantAnswer: []string{"www.EXAMPLE.com. 300 IN A 192.0.2.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := new(dns.Msg)
			resp.SetQuestion(tc.qname, tc.qtype)
			resp.Response = true
			resp.Answer = mustRRs(t, tc.answer...)
			resp.Ns = mustRRs(t, tc.ns...)
			resp.Extra = mustRRs(t, tc.extra...)
			before := resp.String()
			got := scrub(resp, tc.qname, tc.qtype, tc.zone)
			if resp.String() != before {
				t.Errorf("scrub changed its input")
			}
			want := func(w []string) []string { return rrStrings(mustRRs(t, w...)) }
			if g, w := rrStrings(got.Answer), want(tc.wantAnswer); !slices.Equal(g, w) {
				t.Errorf("answer: got %q, want %q", g, w)
			}
			if g, w := rrStrings(got.Ns), want(tc.wantNs); !slices.Equal(g, w) {
				t.Errorf("authority: got %q, want %q", g, w)
			}
			if g, w := rrStrings(got.Extra), want(tc.wantExtra); !slices.Equal(g, w) {
				t.Errorf("additional: got %q, want %q", g, w)
			}
		})
	}
}

// FuzzScrub feeds arbitrary responses to scrub and checks the bailiwick
// rule holds for whatever comes out.
func FuzzScrub(f *testing.F) {
	seed := new(dns.Msg)
	seed.SetQuestion("www.example.com.", dns.TypeA)
	seed.Answer = mustRRs(f, "www.example.com. 300 IN CNAME x.example.com.", "x.example.com. 300 IN A 192.0.2.1")
	seed.Ns = mustRRs(f, "example.com. 300 IN NS ns.example.com.")
	seed.Extra = mustRRs(f, "ns.example.com. 300 IN A 192.0.2.2", "evil.org. 300 IN A 192.0.2.3")
	wire, _ := seed.Pack()
	f.Add(wire, "example.com.")
	f.Add(wire, ".")
	f.Fuzz(func(t *testing.T, wire []byte, zone string) {
		resp := new(dns.Msg)
		if resp.Unpack(wire) != nil || len(resp.Question) != 1 {
			return
		}
		if _, ok := dns.IsDomainName(zone); !ok {
			return
		}
		zone = dns.Fqdn(zone)
		q := resp.Question[0]
		out := scrub(resp, q.Name, q.Qtype, zone)
		for _, sec := range [][]dns.RR{out.Answer, out.Ns, out.Extra} {
			for _, rr := range sec {
				if rr.Header().Rrtype == dns.TypeOPT {
					continue
				}
				if !dns.IsSubDomain(zone, rr.Header().Name) {
					t.Fatalf("out-of-bailiwick record kept: %v (zone %s)", rr, zone)
				}
			}
		}
		classify(out, zone)
	})
}

func TestUpwardReferral(t *testing.T) {
	tests := []struct {
		name   string
		zone   string
		rcode  int
		answer []string
		ns     []string
		want   bool
	}{
		{name: "root servers from a zone's server", zone: "example.com.", ns: []string{". 3600 IN NS a.root-servers.net."}, want: true},
		{name: "parent NS", zone: "example.com.", ns: []string{"com. 3600 IN NS a.gtld-servers.net."}, want: true},
		{name: "sideways NS", zone: "example.com.", ns: []string{"example.net. 3600 IN NS ns.example.net."}, want: true},
		{name: "downward referral", zone: "com.", ns: []string{"example.com. 3600 IN NS ns.example.com."}},
		{name: "zone's own NS with empty answer", zone: "example.com.", ns: []string{"example.com. 3600 IN NS ns.example.com."}},
		{name: "NODATA with SOA and root NS", zone: "example.com.", ns: []string{"example.com. 3600 IN SOA a. b. 1 2 3 4 5", ". 3600 IN NS a.root-servers.net."}},
		{name: "answer present", zone: "example.com.", answer: []string{"www.example.com. 3600 IN A 192.0.2.1"}, ns: []string{". 3600 IN NS a.root-servers.net."}},
		{name: "NXDOMAIN", zone: "example.com.", rcode: dns.RcodeNameError, ns: []string{". 3600 IN NS a.root-servers.net."}},
		{name: "empty", zone: "example.com."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("www."+tc.zone, dns.TypeA)
			m.Response, m.Rcode = true, tc.rcode
			m.Answer, m.Ns = mustRRs(t, tc.answer...), mustRRs(t, tc.ns...)
			if got := upwardReferral(m, tc.zone); got != tc.want {
				t.Errorf("upwardReferral = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestClassifySignaturesOnly checks that signatures without the records
// they sign are no answer (Deckard's nsec_wildcard_answer_response feeds
// one to replace an existing name with wildcard data), unless signatures
// were the question.
func TestClassifySignaturesOnly(t *testing.T) {
	sig := "www.example. 3600 IN RRSIG A 8 2 3600 20300101000000 20200101000000 1 example. AAAA"
	tests := []struct {
		name  string
		qtype uint16
		aa    bool
		ans   []string
		want  respKind
	}{
		{"data", dns.TypeA, true, []string{"www.example. 3600 IN A 192.0.2.1", sig}, kindAnswer},
		{"signature only, authoritative", dns.TypeA, true, []string{sig}, kindNoData},
		{"signature only, not authoritative", dns.TypeA, false, []string{sig}, kindLame},
		{"RRSIG question", dns.TypeRRSIG, true, []string{sig}, kindAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("www.example.", tt.qtype)
			m.Response, m.Authoritative = true, tt.aa
			for _, s := range tt.ans {
				rr, err := dns.NewRR(s)
				if err != nil {
					t.Fatal(err)
				}
				m.Answer = append(m.Answer, rr)
			}
			if got := classify(m, "example."); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
