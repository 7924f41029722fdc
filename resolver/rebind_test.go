package resolver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// TestRebindingProtection: with PrivateAddresses, a public name's private
// addresses are removed (the whole RRset, EDE 15), from the first answer
// and from the cached one; names under PrivateDomains and forward zones
// keep theirs; public addresses stay.
func TestRebindingProtection(t *testing.T) {
	data := map[string]string{
		"evil.example.":     "evil.example. 60 IN A 192.168.1.1",
		"mixed.example.":    "mixed.example. 60 IN A 10.0.0.1\nmixed.example. 60 IN A 192.0.2.1",
		"good.example.":     "good.example. 60 IN A 192.0.2.2",
		"alias.example.":    "alias.example. 60 IN CNAME nas.corp.example.\nnas.corp.example. 60 IN A 10.1.1.1",
		"to-lan.example.":   "to-lan.example. 60 IN CNAME evil6.example.\nevil6.example. 60 IN AAAA fd00::1",
		"nas.corp.example.": "nas.corp.example. 60 IN A 10.1.1.1",
		"printer.lan.":      "printer.lan. 60 IN A 192.168.1.10",
		"loop.example.":     "loop.example. 60 IN A 127.0.0.1",
		"mapped.example.":   "mapped.example. 60 IN AAAA ::ffff:192.168.0.1",
		"public6.example.":  "public6.example. 60 IN AAAA 2001:db8::1",
		"shared.example.":   "shared.example. 60 IN A 100.64.1.1",
		"link.example.":     "link.example. 60 IN A 169.254.1.1",
		"evil6.example.":    "evil6.example. 60 IN AAAA fd00::1",
	}
	fw := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		for _, line := range strings.Split(data[strings.ToLower(q.Question[0].Name)], "\n") {
			if line == "" {
				continue
			}
			rr, err := dns.NewRR(line)
			if err != nil {
				return nil, err
			}
			if rr.Header().Rrtype == q.Question[0].Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				r.Answer = append(r.Answer, rr)
			}
		}
		return r, nil
	})
	r, err := resolver.New(resolver.Config{
		ForwardZones:     []resolver.ForwardZone{{Zone: ".", Forwarder: fw}, {Zone: "lan", Forwarder: fw}},
		PrivateAddresses: resolver.PrivateRanges(),
		PrivateDomains:   []string{"Corp.Example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		qtype   uint16
		want    []string // substrings of the answer, in order
		blocked bool
	}{
		{"evil.example.", dns.TypeA, nil, true},
		{"mixed.example.", dns.TypeA, nil, true},
		{"good.example.", dns.TypeA, []string{"192.0.2.2"}, false},
		{"alias.example.", dns.TypeA, []string{"CNAME", "10.1.1.1"}, false},
		{"to-lan.example.", dns.TypeAAAA, []string{"CNAME"}, true},
		{"printer.lan.", dns.TypeA, []string{"192.168.1.10"}, false},
		{"loop.example.", dns.TypeA, nil, true},
		{"mapped.example.", dns.TypeAAAA, nil, true},
		{"public6.example.", dns.TypeAAAA, []string{"2001:db8::1"}, false},
		{"shared.example.", dns.TypeA, nil, true},
		{"link.example.", dns.TypeA, nil, true},
	}
	for _, tt := range tests {
		for _, pass := range []string{"miss", "hit"} {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, tt.qtype)
			q.SetEdns0(1232, false)
			m, err := r.ServeDNS(context.Background(), q)
			if err != nil {
				t.Fatalf("%s (%s): %v", tt.name, pass, err)
			}
			if len(m.Answer) != len(tt.want) {
				t.Errorf("%s (%s): answer %v, want %d records", tt.name, pass, m.Answer, len(tt.want))
				continue
			}
			for i, w := range tt.want {
				if !strings.Contains(m.Answer[i].String(), w) {
					t.Errorf("%s (%s): record %d is %v, want %s", tt.name, pass, i, m.Answer[i], w)
				}
			}
			if got := edeOfMsg(m) == resolver.EDEBlocked; got != tt.blocked {
				t.Errorf("%s (%s): EDE 15 %v, want %v", tt.name, pass, got, tt.blocked)
			}
		}
	}
}

func edeOfMsg(m *dns.Msg) uint16 {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.InfoCode
			}
		}
	}
	return 0
}
