package resolver_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest/rpl"
	"github.com/miekg/dns"
)

// scripted is a tiny simulated internet for iterator corner cases: each
// server address answers from a function of the question. Unknown servers
// and nil answers stay silent. It counts the queries each server got.
type scripted struct {
	mu      sync.Mutex
	servers map[netip.Addr]func(q dns.Question) *dns.Msg
	asked   []string // "addr name type"
}

func (s *scripted) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	// The scripts and the log see the name in lower case, as a zone
	// holds it; the reply echoes the question as sent (0x20).
	qq := q.Question[0]
	qq.Name = dns.CanonicalName(qq.Name)
	s.mu.Lock()
	s.asked = append(s.asked, server.Addr().String()+" "+qq.Name+" "+dns.TypeToString[qq.Qtype])
	f := s.servers[server.Addr()]
	s.mu.Unlock()
	if f == nil {
		return nil, rpl.ErrNoAnswer
	}
	m := f(qq)
	if m == nil {
		return nil, rpl.ErrNoAnswer
	}
	m.Id, m.Response, m.Question = q.Id, true, q.Question
	return m, nil
}

// askedFor reports the queries that were sent for name (any type).
func (s *scripted) askedFor(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.asked {
		if strings.Contains(a, " "+name+" ") {
			out = append(out, a)
		}
	}
	return out
}

// msg builds a reply from zone-file lines: answer, authority and
// additional sections separated by "|" entries.
func msg(t *testing.T, aa bool, rcode int, lines ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.Authoritative, m.Rcode = aa, rcode
	sec := 0
	for _, l := range lines {
		if l == "|" {
			sec++
			continue
		}
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("NewRR(%q): %v", l, err)
		}
		switch sec {
		case 0:
			m.Answer = append(m.Answer, rr)
		case 1:
			m.Ns = append(m.Ns, rr)
		default:
			m.Extra = append(m.Extra, rr)
		}
	}
	return m
}

var (
	rootAddr = netip.MustParseAddr("198.51.100.1")
	allowAll = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
)

func scriptedResolver(t *testing.T, s *scripted, mod func(*resolver.Config)) (*resolver.Resolver, *cache.Cache) {
	t.Helper()
	c := cache.New(cache.Config{MaxEntries: 1000})
	hints := []dns.RR{
		&dns.NS{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600000}, Ns: "k.root-servers.net."},
		&dns.A{Hdr: dns.RR_Header{Name: "k.root-servers.net.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600000}, A: rootAddr.AsSlice()},
	}
	cfg := resolver.Config{RootHints: hints, Exchanger: s, AllowUpstream: allowAll, Cache: c, NoQNameMinimisation: true}
	if mod != nil {
		mod(&cfg)
	}
	r, err := resolver.New(cfg)
	if err != nil {
		t.Fatalf("resolver.New: %v", err)
	}
	return r, c
}

// TestOutOfZoneGlue: example.com's servers are named in example.net and
// example.net's in example.com, each referral carrying the other's
// address as glue from outside the referring zone. Hardened (the
// default), that glue is dropped and the cycle has no way in; with
// OutOfZoneGlue the glue serves the walk, and still is not cached.
func TestOutOfZoneGlue(t *testing.T) {
	newNet := func() *scripted {
		return &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
			rootAddr: func(q dns.Question) *dns.Msg {
				if dns.IsSubDomain("net.", q.Name) {
					return msg(t, false, 0, "|", "net. 3600 IN NS ns.net.", "|", "ns.net. 3600 IN A 198.51.100.11")
				}
				return msg(t, false, 0, "|", "com. 3600 IN NS ns.com.", "|", "ns.com. 3600 IN A 198.51.100.10")
			},
			netip.MustParseAddr("198.51.100.10"): func(q dns.Question) *dns.Msg {
				return msg(t, false, 0, "|", "example.com. 3600 IN NS ns.example.net.", "|", "ns.example.net. 3600 IN A 198.51.100.2")
			},
			netip.MustParseAddr("198.51.100.11"): func(q dns.Question) *dns.Msg {
				return msg(t, false, 0, "|", "example.net. 3600 IN NS ns.example.com.", "|", "ns.example.com. 3600 IN A 198.51.100.3")
			},
			netip.MustParseAddr("198.51.100.2"): func(q dns.Question) *dns.Msg {
				return msg(t, true, 0, "www.example.com. 3600 IN A 192.0.2.7")
			},
		}}
	}
	t.Run("hardened", func(t *testing.T) {
		r, _ := scriptedResolver(t, newNet(), nil)
		if m, err := ask(t, r, "www.example.com.", dns.TypeA); err == nil {
			t.Fatalf("got %v, want an error: the only way in is out-of-zone glue", m)
		}
	})
	t.Run("lax", func(t *testing.T) {
		r, c := scriptedResolver(t, newNet(), func(c *resolver.Config) { c.OutOfZoneGlue = true })
		m, err := ask(t, r, "www.example.com.", dns.TypeA)
		if err != nil || !answerHas(m, "192.0.2.7") {
			t.Fatalf("got %v, %v; want the answer", m, err)
		}
		if rrs, _, ok := c.GetRRset("ns.example.net.", dns.TypeA, dns.ClassINET, time.Now()); ok {
			t.Errorf("out-of-zone glue was cached: %v", rrs)
		}
	})
}

// TestAddressFamilies: with IPv6 off, a server reachable only over IPv6
// is not queried, and hints with no usable address are refused.
func TestAddressFamilies(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::53")
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			return msg(t, false, 0, "|", "example.com. 3600 IN NS ns.example.com.", "|",
				"ns.example.com. 3600 IN AAAA 2001:db8::53", "ns.example.com. 3600 IN A 198.51.100.2")
		},
		v6: func(q dns.Question) *dns.Msg { return msg(t, true, 0, "www.example.com. 3600 IN A 192.0.2.6") },
		netip.MustParseAddr("198.51.100.2"): func(q dns.Question) *dns.Msg {
			return msg(t, true, 0, "www.example.com. 3600 IN A 192.0.2.4")
		},
	}}
	r, _ := scriptedResolver(t, s, func(c *resolver.Config) {
		c.NoIPv6 = true
		c.AllowUpstream = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	})
	m, err := ask(t, r, "www.example.com.", dns.TypeA)
	if err != nil || !answerHas(m, "192.0.2.4") {
		t.Fatalf("got %v, %v; want the answer from the IPv4 server", m, err)
	}
	for _, a := range s.askedFor("www.example.com.") {
		if strings.HasPrefix(a, "2001:db8::53 ") {
			t.Errorf("queried an IPv6 server with IPv6 off: %s", a)
		}
	}

	hints := []dns.RR{
		&dns.NS{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: "k.root-servers.net."},
		&dns.AAAA{Hdr: dns.RR_Header{Name: "k.root-servers.net.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 3600}, AAAA: v6.AsSlice()},
	}
	if _, err := resolver.New(resolver.Config{RootHints: hints, NoIPv6: true}); err == nil {
		t.Error("New accepted IPv6-only root hints with IPv6 off")
	}
	if _, err := resolver.New(resolver.Config{RootHints: hints, NoIPv4: true, NoIPv6: true}); err == nil {
		t.Error("New accepted both families off")
	}
}

// aliasNet serves example.com (a CNAME at www, a DNAME at sub, a DNAME
// at loop onto itself) and example.net (addresses for everything), from
// the root's own address for brevity: the root is authoritative for all.
func aliasNet(t *testing.T) *scripted {
	return &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			name := strings.ToLower(q.Name)
			switch {
			case name == "www.example.com.":
				m := msg(t, true, 0, "www.example.com. 300 IN CNAME host.example.net.")
				return m
			case dns.IsSubDomain("sub.example.com.", name) && name != "sub.example.com.":
				prefix := strings.TrimSuffix(name, "sub.example.com.")
				return msg(t, true, 0, "sub.example.com. 300 IN DNAME example.net.", prefix+"sub.example.com. 300 IN CNAME "+prefix+"example.net.")
			case dns.IsSubDomain("loop.example.com.", name) && name != "loop.example.com.":
				return msg(t, true, 0, "loop.example.com. 300 IN DNAME loop.example.com.", name+" 300 IN CNAME "+name)
			case dns.IsSubDomain("example.net.", name) && q.Qtype == dns.TypeA:
				return msg(t, true, 0, name+" 300 IN A 192.0.2.9")
			}
			// The root serves every name here, so its SOA denies them
			// (example.com.'s could not deny names in example.net.).
			return msg(t, true, 0, "|", ". 300 IN SOA ns. host. 1 2 3 4 300")
		},
	}}
}

// TestCachedAliases: a CNAME learned for one type serves the next type
// asked of the same name, and a DNAME learned once serves every name
// below it, without asking the alias's zone again (as Unbound does).
func TestCachedAliases(t *testing.T) {
	s := aliasNet(t)
	r, _ := scriptedResolver(t, s, nil)
	if m, err := ask(t, r, "www.example.com.", dns.TypeAAAA); err != nil || !answerHas(m, "CNAME host.example.net.") {
		t.Fatalf("AAAA: got %v, %v; want the CNAME", m, err)
	}
	m, err := ask(t, r, "www.example.com.", dns.TypeA)
	if err != nil || !answerHas(m, "CNAME host.example.net.", "192.0.2.9") {
		t.Fatalf("A: got %v, %v; want the CNAME and the address", m, err)
	}
	if got := s.askedFor("www.example.com."); len(got) != 1 {
		t.Errorf("queries for www.example.com.: %v, want only the first (AAAA)", got)
	}

	if m, err := ask(t, r, "a.sub.example.com.", dns.TypeA); err != nil || !answerHas(m, "DNAME example.net.", "192.0.2.9") {
		t.Fatalf("a.sub: got %v, %v; want the DNAME and the address", m, err)
	}
	m, err = ask(t, r, "b.c.sub.example.com.", dns.TypeA)
	if err != nil || !answerHas(m, "DNAME example.net.", "b.c.sub.example.com. 300 IN CNAME b.c.example.net.", "192.0.2.9") {
		t.Fatalf("b.c.sub: got %v, %v; want the DNAME, the CNAME made from it and the address", m, err)
	}
	if got := s.askedFor("b.c.sub.example.com."); len(got) != 0 {
		t.Errorf("asked %v; the cached DNAME should have answered", got)
	}
}

// TestAliasLoopInOneAnswer: a DNAME that maps a name onto itself makes a
// CNAME to itself; the chain never ends, which is an error (RFC 1034
// §3.6.2), not an answer: SERVFAIL showing the loop (iter_dname_insec).
func TestAliasLoopInOneAnswer(t *testing.T) {
	r, _ := scriptedResolver(t, aliasNet(t), nil)
	m, err := ask(t, r, "x.loop.example.com.", dns.TypeA)
	checkLoopAnswer(t, m, err, "loop.example.com. 300 IN DNAME loop.example.com.", "x.loop.example.com. 300 IN CNAME x.loop.example.com.")
}

// TestNegativeAnswerKeepsNS: the zone's NS set a server sends beside the
// SOA of a negative answer reaches the client, as from Unbound and Knot
// Resolver; an answer with data carries no authority section.
func TestNegativeAnswerKeepsNS(t *testing.T) {
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			if strings.EqualFold(q.Name, "www.example.") {
				return msg(t, true, 0, "www.example. 300 IN A 192.0.2.1", "|", "example. 300 IN NS ns.example.")
			}
			return msg(t, true, dns.RcodeNameError, "|", "example. 300 IN SOA ns.example. host. 1 2 3 4 300", "example. 300 IN NS ns.example.")
		},
	}}
	r, _ := scriptedResolver(t, s, nil)
	m, err := ask(t, r, "nx.example.", dns.TypeA)
	if err != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("got %v, %v; want NXDOMAIN", m, err)
	}
	var soa, ns bool
	for _, rr := range m.Ns {
		soa = soa || rr.Header().Rrtype == dns.TypeSOA
		ns = ns || rr.Header().Rrtype == dns.TypeNS
	}
	if !soa || !ns {
		t.Errorf("NXDOMAIN authority: %v; want the SOA and the NS set", m.Ns)
	}
	m, err = ask(t, r, "www.example.", dns.TypeA)
	if err != nil || len(m.Ns) != 0 {
		t.Errorf("positive answer: got %v, %v; want no authority section", m, err)
	}
}

// rdRecorder answers every question from a forwarder's point of view and
// remembers the server and RD bit of each query.
type rdRecorder struct {
	mu     sync.Mutex
	silent netip.Addr
	seen   []string // "addrport rd"
}

func (f *rdRecorder) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	f.mu.Lock()
	f.seen = append(f.seen, fmt.Sprintf("%s %v", server, q.RecursionDesired))
	f.mu.Unlock()
	if server.Addr() == f.silent {
		return nil, rpl.ErrNoAnswer
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	rr, _ := dns.NewRR(q.Question[0].Name + " 300 IN A 192.0.2.44")
	m.Answer = []dns.RR{rr}
	return m, nil
}

// TestForwarders: with forwarders set, no root hints are needed, every
// question goes whole to a forwarder on its own port with RD set, private
// forwarder addresses are allowed although AllowUpstream is empty, a
// silent forwarder is passed over for the next one, and one that stays
// silent alone is an error.
func TestForwarders(t *testing.T) {
	dead := netip.MustParseAddrPort("192.168.1.1:53")
	live := netip.MustParseAddrPort("127.0.0.1:5353")
	ex := &rdRecorder{silent: dead.Addr()}
	r, err := resolver.New(resolver.Config{Forwarders: []netip.AddrPort{dead, live}, Exchanger: ex})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m, err := ask(t, r, "www.example.org.", dns.TypeA)
	if err != nil || !answerHas(m, "192.0.2.44") {
		t.Fatalf("got %v, %v; want the forwarder's answer", m, err)
	}
	ex.mu.Lock()
	seen := ex.seen
	ex.mu.Unlock()
	want := map[string]bool{dead.String() + " true": true, live.String() + " true": true}
	for _, s := range seen {
		if !want[s] {
			t.Errorf("query %q: want only RD queries to the forwarders", s)
		}
	}
	if len(seen) == 0 || len(seen) > 2 {
		t.Errorf("queries: %v; want one to each forwarder at most", seen)
	}
	deadOnly, err := resolver.New(resolver.Config{Forwarders: []netip.AddrPort{dead}, Exchanger: ex})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if m, err := ask(t, deadOnly, "www.example.org.", dns.TypeA); err == nil {
		t.Errorf("silent forwarder: got %v, want an error", m)
	}
	for _, bad := range [][]netip.AddrPort{{netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 0)}, {live, live}} {
		if _, err := resolver.New(resolver.Config{Forwarders: bad}); err == nil {
			t.Errorf("New accepted forwarders %v", bad)
		}
	}
}

// TestMinimisedNSAnswerIsCut: a server of example. that serves
// sub.example. too answers the minimised NS query for sub.example. with
// the child's apex NS set instead of a referral. That is a zone cut all
// the same (RFC 9156 §3): the rest of the walk asks sub.example.'s
// servers, not the parent's, whose copy here is stale.
func TestMinimisedNSAnswerIsCut(t *testing.T) {
	parentAddr, childAddr := netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("198.51.100.21")
	s := &scripted{servers: map[netip.Addr]func(dns.Question) *dns.Msg{
		rootAddr: func(q dns.Question) *dns.Msg {
			return msg(t, false, 0, "|", "example. 3600 IN NS ns.example.", "|", "ns.example. 3600 IN A "+parentAddr.String())
		},
		parentAddr: func(q dns.Question) *dns.Msg {
			if strings.EqualFold(q.Name, "sub.example.") && q.Qtype == dns.TypeNS {
				return msg(t, true, 0, "sub.example. 3600 IN NS ns2.example.", "|", "|", "ns2.example. 3600 IN A "+childAddr.String())
			}
			return msg(t, true, 0, q.Name+" 3600 IN A 192.0.2.66")
		},
		childAddr: func(q dns.Question) *dns.Msg {
			return msg(t, true, 0, q.Name+" 3600 IN A 192.0.2.7")
		},
	}}
	r, _ := scriptedResolver(t, s, func(c *resolver.Config) { c.NoQNameMinimisation = false })
	m, err := ask(t, r, "www.sub.example.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
		t.Errorf("got %v, want the child server's 192.0.2.7; queries: %v", m.Answer, s.askedFor("www.sub.example."))
	}
}
