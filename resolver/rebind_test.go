package resolver_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestRebindingProtection: with PrivateAddresses, a public name's private
// addresses are removed (record by record, EDE 15), from the first answer
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
		{"mixed.example.", dns.TypeA, []string{"192.0.2.1"}, true}, // Unbound keeps the public half
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

// TestRebindingIterated plays rebinding protection on the simulated
// internet, iterating from the root: records are removed one by one as
// Unbound's scrubber does (iter_privaddr.rpl), an emptied answer is
// NODATA, names under a private domain keep their addresses, and the
// cache fast path (AnswerCached) gives the same answer with the same EDE.
func TestRebindingIterated(t *testing.T) {
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
pub. 3600 IN NS ns.pub.
ns.pub. 3600 IN A 127.53.200.2
`, `pub. 3600 IN SOA ns.pub. host.pub. 1 3600 600 86400 300
pub. 3600 IN NS ns.pub.
ns.pub. 3600 IN A 127.53.200.2
www.pub. 300 IN A 192.0.2.80
rfc1918.pub. 300 IN A 10.20.30.40
toss.pub. 300 IN A 10.20.30.40
toss.pub. 300 IN A 192.0.2.4
toss.pub. 300 IN A 10.20.30.41
ula.pub. 300 IN AAAA fd00::53
mapped.pub. 300 IN AAAA ::ffff:192.168.1.1
v6.pub. 300 IN AAAA 2001:db8::53
cname.pub. 300 IN CNAME rfc1918.pub.
svc.pub. 300 IN HTTPS 1 . alpn=h2 ipv4hint=192.168.0.1
svcok.pub. 300 IN HTTPS 1 . alpn=h2 ipv4hint=192.0.2.1
nas.home.pub. 300 IN A 192.168.1.2
`)
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, n, func(c *resolver.Config) {
		c.PrivateAddresses = resolver.PrivateRanges()[:3] // RFC 1918 only: the servers are on 127.53/16
		c.PrivateAddresses = append(c.PrivateAddresses, netip.MustParsePrefix("fd00::/8"))
		c.PrivateDomains = []string{"home.pub"}
	})
	tests := []struct {
		name    string
		qtype   uint16
		want    []string // the answer, records in order as substrings
		blocked bool
	}{
		{"www.pub.", dns.TypeA, []string{"192.0.2.80"}, false},
		{"rfc1918.pub.", dns.TypeA, nil, true},
		{"toss.pub.", dns.TypeA, []string{"192.0.2.4"}, true},
		{"ula.pub.", dns.TypeAAAA, nil, true},
		{"mapped.pub.", dns.TypeAAAA, nil, true},
		{"v6.pub.", dns.TypeAAAA, []string{"2001:db8::53"}, false},
		{"cname.pub.", dns.TypeA, []string{"CNAME"}, true},
		{"svc.pub.", dns.TypeHTTPS, nil, true},
		{"svcok.pub.", dns.TypeHTTPS, []string{"192.0.2.1"}, false},
		{"nas.home.pub.", dns.TypeA, []string{"192.168.1.2"}, false},
	}
	for _, tt := range tests {
		for _, pass := range []string{"miss", "hit", "fast path"} {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, tt.qtype)
			q.SetEdns0(1232, false)
			var m *dns.Msg
			if pass == "fast path" {
				var ok bool
				if m, ok = r.AnswerCached(q); !ok {
					t.Errorf("%s: AnswerCached missed a cached answer", tt.name)
					continue
				}
			} else if m, err = r.ServeDNS(context.Background(), q); err != nil {
				t.Fatalf("%s (%s): %v", tt.name, pass, err)
			}
			if m.Rcode != dns.RcodeSuccess || len(m.Answer) != len(tt.want) {
				t.Errorf("%s (%s): %s %v, want NOERROR with %d records", tt.name, pass, dns.RcodeToString[m.Rcode], m.Answer, len(tt.want))
				continue
			}
			for i, w := range tt.want {
				if !strings.Contains(m.Answer[i].String(), w) {
					t.Errorf("%s (%s): record %d is %v, want %s", tt.name, pass, i, m.Answer[i], w)
				}
			}
			code, text := msgEDE(m)
			if got := code == resolver.EDEBlocked && text == "rebinding protection"; got != tt.blocked {
				t.Errorf("%s (%s): EDE %d %q, want blocked %v", tt.name, pass, code, text, tt.blocked)
			}
		}
	}
}

func msgEDE(m *dns.Msg) (uint16, string) {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.InfoCode, e.ExtraText
			}
		}
	}
	return 0, ""
}

// TestRebindingSigned: a Secure answer that lost records is no longer
// what the zone signed: no AD, and no RRSIG left over the removed RRset.
func TestRebindingSigned(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, plain := newSignedResolver(t)
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchorsOf(t, n)
		c.PrivateAddresses = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}
	})
	m, err := askDO(t, plain, "www.alg13.sec.", dns.TypeA, true, false)
	if err != nil || !m.AuthenticatedData || len(m.Answer) != 2 {
		t.Fatalf("without protection: %v (%v), want the signed A with AD", m, err)
	}
	for _, pass := range []string{"miss", "hit"} {
		m, err := askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false)
		if err != nil {
			t.Fatalf("%s: %v", pass, err)
		}
		code, _ := msgEDE(m)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || m.AuthenticatedData || code != resolver.EDEBlocked {
			t.Errorf("%s: got %s AD %v answer %v EDE %d, want NOERROR, no AD, no records, EDE 15",
				pass, dns.RcodeToString[m.Rcode], m.AuthenticatedData, m.Answer, code)
		}
	}
	// Other names of the zone are untouched and still Secure.
	if m, err := askDO(t, r, "www.alg13.sec.", dns.TypeAAAA, true, false); err != nil || !m.AuthenticatedData {
		t.Errorf("AAAA: %v (%v), want AD", m, err)
	}
}

func anchorsOf(t *testing.T, n *resolvertest.Network) *dnssec.Anchors {
	t.Helper()
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	return anchors
}
