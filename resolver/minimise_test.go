package resolver_test

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
		case strings.EqualFold(q.Name, "example.com.") && q.Qtype == dns.TypeNS:
			return apex()
		case strings.EqualFold(q.Name, "www.example.com.") && q.Qtype == dns.TypeA:
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
		want  string // the address www.example.com. resolves to, "" for an error
		asked string // the server that got the full question
	}{
		{"zone NS without AA", func(t *testing.T) *dns.Msg {
			return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.")
		}, "192.0.2.1", "198.51.100.10"},
		{"empty without AA", func(t *testing.T) *dns.Msg {
			return msg(t, false, 0)
		}, "192.0.2.1", "198.51.100.10"},
		{"empty with RA, without AA: a lame recursive server, never asked in full", func(t *testing.T) *dns.Msg {
			// com is a TLD: it never gets the full name, whatever its
			// servers do with minimised questions (issue 13).
			m := msg(t, false, 0)
			m.RecursionAvailable = true
			return m
		}, "", ""},
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
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error: the only server is lame", m)
				}
				return
			}
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

// TestStaleDelegationAsksParent: foo.com's servers are named in
// example.com, whose delegation gives ns.example.com a 10 s address and
// ns2.example.com an hour-long one; ns2 fails everything. Once the short
// address expires, the cache knows only ns2 for example.com, which
// cannot say where ns is: the resolver asks com's servers for the
// delegation again instead of failing (iter_ns_badip).
func TestStaleDelegationAsksParent(t *testing.T) {
	comAddr, good, bad := netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("198.51.100.21")
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.", "|", "ns.com. 3600 IN A "+comAddr.String())
		},
		comAddr: func(q dns.Question) *dns.Msg {
			if dns.IsSubDomain("foo.com.", q.Name) {
				return msg(t, false, 0, "|", "foo.com. 3600 IN NS ns.example.com.", "foo.com. 3600 IN NS ns2.example.com.")
			}
			return msg(t, false, 0, "|", "example.com. 3600 IN NS ns.example.com.", "example.com. 3600 IN NS ns2.example.com.", "|",
				"ns.example.com. 10 IN A "+good.String(), "ns2.example.com. 3600 IN A "+bad.String())
		},
		good: func(q dns.Question) *dns.Msg {
			switch {
			case strings.EqualFold(q.Name, "ns.example.com.") && q.Qtype == dns.TypeA:
				return msg(t, true, 0, "ns.example.com. 10 IN A "+good.String())
			case strings.EqualFold(q.Name, "www.foo.com.") && q.Qtype == dns.TypeA:
				return msg(t, true, 0, "www.foo.com. 10 IN A 192.0.2.1")
			}
			return msg(t, true, 0, "|", "example.com. 300 IN SOA ns.example.com. host. 1 2 3 4 300")
		},
		bad: func(q dns.Question) *dns.Msg { return msg(t, false, dns.RcodeServerFailure) },
	}}
	var mu sync.Mutex
	now := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r, _ := scriptedResolver(t, s, func(c *resolver.Config) { c.Now = clock })
	for i := range 2 {
		m, err := ask(t, r, "www.foo.com.", dns.TypeA)
		if err != nil || !answerHas(m, "192.0.2.1") {
			t.Fatalf("query %d: got %v, %v; want the answer", i+1, m, err)
		}
		mu.Lock()
		now = now.Add(20 * time.Second)
		mu.Unlock()
	}
}

// TestParentSideGlue: example.com is served by ns.example.net, whose
// parent gives it one address and whose own zone another, which fails.
// The child's address wins in the cache, but when it fails the parent's
// is tried before giving up (iter_pcdiff), as Unbound does.
func TestParentSideGlue(t *testing.T) {
	comAddr, netAddr := netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.11")
	parentSide, childSide := netip.MustParseAddr("198.51.100.44"), netip.MustParseAddr("198.51.100.55")
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			if dns.IsSubDomain("net.", q.Name) {
				return msg(t, false, 0, "|", "net. 3600 IN NS ns.net.", "|", "ns.net. 3600 IN A "+netAddr.String())
			}
			return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.", "|", "ns.com. 3600 IN A "+comAddr.String())
		},
		comAddr: func(q dns.Question) *dns.Msg {
			return msg(t, false, 0, "|", "example.com. 3600 IN NS ns.example.net.")
		},
		netAddr: func(q dns.Question) *dns.Msg {
			return msg(t, false, 0, "|", "example.net. 3600 IN NS ns.example.net.", "|", "ns.example.net. 3600 IN A "+parentSide.String())
		},
		parentSide: func(q dns.Question) *dns.Msg {
			switch {
			case strings.EqualFold(q.Name, "ns.example.net.") && q.Qtype == dns.TypeA:
				return msg(t, true, 0, "ns.example.net. 3600 IN A "+childSide.String())
			case strings.EqualFold(q.Name, "www.example.com.") && q.Qtype == dns.TypeA:
				return msg(t, true, 0, "www.example.com. 3600 IN A 192.0.2.1")
			}
			return msg(t, true, 0, "|", "example.net. 300 IN SOA ns.example.net. host. 1 2 3 4 300")
		},
		childSide: func(q dns.Question) *dns.Msg { return msg(t, false, dns.RcodeServerFailure) },
	}}
	r, _ := scriptedResolver(t, s, nil)
	m, err := ask(t, r, "www.example.com.", dns.TypeA)
	if err != nil || !answerHas(m, "192.0.2.1") {
		t.Fatalf("got %v, %v; want the answer through the parent-side address", m, err)
	}
	var order []string
	for _, a := range s.askedFor("www.example.com.") {
		if addr := strings.Fields(a)[0]; addr == childSide.String() || addr == parentSide.String() {
			order = append(order, addr)
		}
	}
	if want := []string{childSide.String(), parentSide.String()}; !slices.Equal(order, want) {
		t.Errorf("www.example.com. asked of %v, want %v: the child's address first", order, want)
	}
}

// TestAnswerOfAnotherType: a server that answers an AAAA question with
// an A record of the name, AA clear, says there is no AAAA there: the
// client gets NODATA, not the stray record and not SERVFAIL
// (iter_unexpectedrrtype). With RA set it is a recursive server
// answering from its cache, lame for the zone.
func TestAnswerOfAnotherType(t *testing.T) {
	for _, ra := range []bool{false, true} {
		s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
			rootAddr: func(q dns.Question) *dns.Msg {
				m := msg(t, false, 0, "example.com. 0 IN A 192.0.2.2")
				m.RecursionAvailable = ra
				return m
			},
		}}
		r, _ := scriptedResolver(t, s, nil)
		m, err := ask(t, r, "example.com.", dns.TypeAAAA)
		switch {
		case ra && err == nil:
			t.Errorf("RA set: got %v, want an error", m)
		case !ra && (err != nil || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0):
			t.Errorf("got %v, %v; want NODATA", m, err)
		}
	}
}

// TestDNAMEOverflow: a DNAME whose substitution would make a name longer
// than 255 octets gets YXDOMAIN with the DNAME (RFC 6672 §2.2), from the
// server and, once the DNAME is cached, from the cache alone
// (iter_dname_insec).
func TestDNAMEOverflow(t *testing.T) {
	target := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 60) + "."
	dname := "long. 3600 IN DNAME " + target
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			return msg(t, true, dns.RcodeYXDomain, dname)
		},
	}}
	r, _ := scriptedResolver(t, s, nil)
	for _, name := range []string{"too.long.", "also.long."} {
		m, err := ask(t, r, name, dns.TypeA)
		if err != nil || m.Rcode != dns.RcodeYXDomain || !answerHas(m, "DNAME "+target) {
			t.Fatalf("%s: got %v, %v; want YXDOMAIN with the DNAME", name, m, err)
		}
	}
	if got := s.askedFor("also.long."); len(got) != 0 {
		t.Errorf("asked %v; the cached DNAME should have answered", got)
	}
}
