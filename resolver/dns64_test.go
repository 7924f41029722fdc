package resolver_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

func TestDNS64(t *testing.T) {
	zone := map[string][]string{
		"v4only.example.": {"v4only.example. 300 IN A 192.0.2.33", "v4only.example. 300 IN A 192.0.2.34"},
		"dual.example.":   {"dual.example. 300 IN A 192.0.2.1", "dual.example. 300 IN AAAA 2001:db8::1"},
		"alias.example.":  {"alias.example. 300 IN CNAME v4only.example."},
		"mapped.example.": {"mapped.example. 300 IN A 192.0.2.9", "mapped.example. 300 IN AAAA ::ffff:192.0.2.9"},
		"flaky.example.":  {"flaky.example. 300 IN A 192.0.2.7"},
	}
	fw := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		name, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
		if name == "flaky.example." && qt == dns.TypeAAAA {
			r.Rcode = dns.RcodeServerFailure
			return r, nil
		}
		rrs, ok := zone[name]
		if !ok {
			r.Rcode = dns.RcodeNameError
		}
		for _, s := range rrs {
			rr, _ := dns.NewRR(s)
			if rr.Header().Rrtype == qt || rr.Header().Rrtype == dns.TypeCNAME {
				r.Answer = append(r.Answer, rr)
			}
		}
		if len(r.Answer) == 0 {
			soa, _ := dns.NewRR("example. 300 IN SOA ns.example. host.example. 1 3600 600 86400 60")
			r.Ns = append(r.Ns, soa)
		}
		return r, nil
	})
	prefix := netip.MustParsePrefix("2001:db8:64::/96")
	r, err := resolver.New(resolver.Config{
		ForwardZones: []resolver.ForwardZone{{Zone: ".", Forwarder: fw}},
		DNS64Prefix:  prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		do, cd bool
		rcode  int
		want   string // the AAAA addresses, sorted by the answer's order
	}{
		{"v4only.example.", false, false, dns.RcodeSuccess, "2001:db8:64::c000:221 2001:db8:64::c000:222"},
		{"alias.example.", false, false, dns.RcodeSuccess, "2001:db8:64::c000:221 2001:db8:64::c000:222"},
		{"dual.example.", false, false, dns.RcodeSuccess, "2001:db8::1"},
		{"mapped.example.", false, false, dns.RcodeSuccess, "2001:db8:64::c000:209"},
		{"nx.example.", false, false, dns.RcodeNameError, ""},
		// A failed AAAA question counts as no AAAA (RFC 6147 §5.1.2).
		{"flaky.example.", false, false, dns.RcodeSuccess, "2001:db8:64::c000:207"},
		{"v4only.example.", true, false, dns.RcodeSuccess, "2001:db8:64::c000:221 2001:db8:64::c000:222"},
		{"v4only.example.", true, true, dns.RcodeSuccess, ""}, // a validating client: no synthesis
	}
	for _, tt := range tests {
		for _, pass := range []string{"miss", "hit"} {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, dns.TypeAAAA)
			q.CheckingDisabled = tt.cd
			q.SetEdns0(1232, tt.do)
			m, err := r.ServeDNS(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []string
			for _, rr := range m.Answer {
				if a, ok := rr.(*dns.AAAA); ok {
					got = append(got, a.AAAA.String())
				}
			}
			if m.Rcode != tt.rcode || strings.Join(got, " ") != tt.want {
				t.Errorf("%s DO %v CD %v (%s): got %s %v, want %s %s", tt.name, tt.do, tt.cd, pass,
					dns.RcodeToString[m.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
			}
			// The cache hit must take the same path: AnswerCached leaves
			// a synthesis to ServeDNS.
			if hit, ok := r.AnswerCached(q); ok && fmt.Sprint(hit.Answer) != fmt.Sprint(m.Answer) {
				t.Errorf("%s (%s): AnswerCached gives %v, ServeDNS %v", tt.name, pass, hit.Answer, m.Answer)
			}
		}
	}
	if _, err := resolver.New(resolver.Config{ForwardZones: []resolver.ForwardZone{{Zone: ".", Forwarder: fw}}, DNS64Prefix: netip.MustParsePrefix("64:ff9b::/64")}); err == nil {
		t.Errorf("New accepted a /64 DNS64 prefix")
	}
}

// TestDNS64Iterated plays DNS64 on the simulated internet: synthesis for
// NODATA only (not NXDOMAIN, not when real AAAA records exist, mapped
// ones aside), through CNAME chains, with the TTL capped by the negative
// answer's SOA (RFC 6147 §5.1.7), non-global IPv4 addresses skipped under
// the well-known prefix (RFC 6052 §3.1), the real answer for DO+CD
// clients, never AD, PTR for the prefix answered from in-addr.arpa, and
// the cache fast path never bypassing any of it.
func TestDNS64Iterated(t *testing.T) {
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
pub. 3600 IN NS ns.pub.
ns.pub. 3600 IN A 127.53.200.2
34.216.184.93.in-addr.arpa. 3600 IN PTR v4only.pub.
`, `pub. 3600 IN SOA ns.pub. host.pub. 1 3600 600 86400 60
pub. 3600 IN NS ns.pub.
ns.pub. 3600 IN A 127.53.200.2
v4only.pub. 300 IN A 93.184.216.34
v4only.pub. 300 IN A 198.51.100.7
dual.pub. 300 IN A 192.0.2.1
dual.pub. 300 IN AAAA 2001:db8::1
mapped.pub. 300 IN A 192.0.2.9
mapped.pub. 300 IN AAAA ::ffff:192.0.2.9
alias.pub. 300 IN CNAME v4only.pub.
lan.pub. 300 IN A 10.1.2.3
lan.pub. 300 IN A 192.0.2.44
txt.pub. 300 IN TXT "no addresses"
`)
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, n, func(c *resolver.Config) { c.DNS64Prefix = resolver.DNS64WellKnown })
	tests := []struct {
		name   string
		qtype  uint16
		do, cd bool
		rcode  int
		want   []string // the answer, as "TYPE TTL DATA"
		cached bool     // AnswerCached may answer a repeat
	}{
		{"v4only.pub.", dns.TypeAAAA, false, false, dns.RcodeSuccess, []string{"AAAA 60 64:ff9b::5db8:d822", "AAAA 60 64:ff9b::c633:6407"}, false},
		{"alias.pub.", dns.TypeAAAA, false, false, dns.RcodeSuccess, []string{"CNAME 300 v4only.pub.", "AAAA 60 64:ff9b::5db8:d822", "AAAA 60 64:ff9b::c633:6407"}, false},
		{"dual.pub.", dns.TypeAAAA, false, false, dns.RcodeSuccess, []string{"AAAA 300 2001:db8::1"}, true},
		{"mapped.pub.", dns.TypeAAAA, false, false, dns.RcodeSuccess, []string{"AAAA 300 64:ff9b::c000:209"}, false},
		{"lan.pub.", dns.TypeAAAA, false, false, dns.RcodeSuccess, []string{"AAAA 60 64:ff9b::c000:22c"}, false},
		{"txt.pub.", dns.TypeAAAA, false, false, dns.RcodeSuccess, nil, false},
		{"nx.pub.", dns.TypeAAAA, false, false, dns.RcodeNameError, nil, true},
		{"v4only.pub.", dns.TypeAAAA, true, false, dns.RcodeSuccess, []string{"AAAA 60 64:ff9b::5db8:d822", "AAAA 60 64:ff9b::c633:6407"}, false},
		{"v4only.pub.", dns.TypeAAAA, true, true, dns.RcodeSuccess, nil, true},
		{"v4only.pub.", dns.TypeA, false, false, dns.RcodeSuccess, []string{"A 300 93.184.216.34", "A 300 198.51.100.7"}, true},
		{"2.2.8.d.8.b.d.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.", dns.TypePTR, false, false, dns.RcodeSuccess,
			[]string{"PTR 3600 v4only.pub."}, false},
		{"2.2.8.d.8.b.d.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa.", dns.TypePTR, true, true, dns.RcodeNameError, nil, true},
		// Outside the prefix: the real (here missing) answer.
		{"2.2.8.d.8.b.d.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.1.ip6.arpa.", dns.TypePTR, false, false, dns.RcodeNameError, nil, true},
	}
	for _, tt := range tests {
		for _, pass := range []string{"miss", "hit"} {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, tt.qtype)
			q.CheckingDisabled = tt.cd
			q.SetEdns0(1232, tt.do)
			q.AuthenticatedData = true
			m, err := r.ServeDNS(context.Background(), q)
			if err != nil {
				t.Fatalf("%s %s DO %v CD %v: %v", tt.name, dns.TypeToString[tt.qtype], tt.do, tt.cd, err)
			}
			var got []string
			for _, rr := range m.Answer {
				h := rr.Header()
				data := strings.TrimPrefix(rr.String(), h.String())
				got = append(got, fmt.Sprintf("%s %d %s", dns.TypeToString[h.Rrtype], h.Ttl, data))
			}
			if m.Rcode != tt.rcode || fmt.Sprint(got) != fmt.Sprint(tt.want) || m.AuthenticatedData {
				t.Errorf("%s %s DO %v CD %v (%s): got %s AD %v %q, want %s %q", tt.name, dns.TypeToString[tt.qtype], tt.do, tt.cd, pass,
					dns.RcodeToString[m.Rcode], m.AuthenticatedData, got, dns.RcodeToString[tt.rcode], tt.want)
			}
			if m.Id != q.Id || len(m.Question) != 1 || m.Question[0] != q.Question[0] {
				t.Errorf("%s (%s): reply ID %d question %v, want %d %v", tt.name, pass, m.Id, m.Question, q.Id, q.Question)
			}
			if pass == "hit" {
				hit, ok := r.AnswerCached(q)
				if ok != tt.cached || ok && fmt.Sprint(hit.Answer) != fmt.Sprint(m.Answer) {
					t.Errorf("%s %s (fast path): answered %v %v, want %v with %v", tt.name, dns.TypeToString[tt.qtype], ok, hit, tt.cached, m.Answer)
				}
			}
		}
	}
}
