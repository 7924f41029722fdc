package resolver_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// minimiseNet is a root that delegates com to comAddr, whose server
// answers the minimised query example.com NS with apex (given), and the
// full question www.example.com A itself; childAddr serves it too.
func minimiseNet(t *testing.T, apex func() *dns.Msg) *scripted {
	comAddr, childAddr := netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.20")
	answer := func(q dns.Question, addr string) *dns.Msg {
		switch {
		case q.Name == "example.com." && q.Qtype == dns.TypeNS:
			return apex()
		case q.Name == "www.example.com." && q.Qtype == dns.TypeA:
			return msg(t, true, 0, "www.example.com. 300 IN A "+addr)
		}
		return nil
	}
	return &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.", "|", "ns.com. 3600 IN A "+comAddr.String())
		},
		comAddr:   func(q dns.Question) *dns.Msg { return answer(q, "192.0.2.1") },
		childAddr: func(q dns.Question) *dns.Msg { return answer(q, "192.0.2.2") },
	}}
}

// TestMinimisedQueryZoneCuts: what the answer to a minimised NS query
// says about a zone cut at the minimised name. The zone's own NS set in
// place of a referral, without AA or SOA (iter_minim_ns), means no cut:
// the walk goes on with the same servers rather than calling them lame.
// An authoritative NS set of the name itself (one server for parent and
// child, world_mx_nic_www) starts a zone there, whose servers then get
// the question; the same set without AA is the parent's copy and moves
// nothing.
func TestMinimisedQueryZoneCuts(t *testing.T) {
	childNS := []string{"example.com. 300 IN NS ns.example.com.", "|", "|", "ns.example.com. 300 IN A 198.51.100.20"}
	tests := []struct {
		name  string
		apex  func(t *testing.T) *dns.Msg
		want  string // the address www.example.com. resolves to
		asked string // the server that got the full question
	}{
		{"zone NS without AA", func(t *testing.T) *dns.Msg {
			return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.")
		}, "192.0.2.1", "198.51.100.10"},
		{"apex NS with AA", func(t *testing.T) *dns.Msg {
			return msg(t, true, 0, childNS...)
		}, "192.0.2.2", "198.51.100.20"},
		{"apex NS without AA", func(t *testing.T) *dns.Msg {
			return msg(t, false, 0, childNS...)
		}, "192.0.2.1", "198.51.100.10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := minimiseNet(t, func() *dns.Msg { return tt.apex(t) })
			r, _ := scriptedResolver(t, s, func(c *resolver.Config) { c.NoQNameMinimisation = false })
			m, err := ask(t, r, "www.example.com.", dns.TypeA)
			if err != nil || !answerHas(m, tt.want) {
				t.Fatalf("got %v, %v; want the answer %s", m, err, tt.want)
			}
			var full []string
			for _, a := range s.askedFor("www.example.com.") {
				if strings.HasSuffix(a, " A") {
					full = append(full, a)
				}
			}
			if len(full) != 1 || !strings.HasPrefix(full[0], tt.asked+" ") {
				t.Errorf("full questions sent: %v; want one, to %s", full, tt.asked)
			}
		})
	}
}
