package resolver_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

func TestDNS64(t *testing.T) {
	zone := map[string][]string{
		"v4only.example.": {"v4only.example. 300 IN A 192.0.2.33", "v4only.example. 300 IN A 192.0.2.34"},
		"dual.example.":   {"dual.example. 300 IN A 192.0.2.1", "dual.example. 300 IN AAAA 2001:db8::1"},
		"alias.example.":  {"alias.example. 300 IN CNAME v4only.example."},
		"mapped.example.": {"mapped.example. 300 IN A 192.0.2.9", "mapped.example. 300 IN AAAA ::ffff:192.0.2.9"},
	}
	fw := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		name, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
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
