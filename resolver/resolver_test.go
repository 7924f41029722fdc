package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
)

var _ transport.Handler = (*resolver.Resolver)(nil)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func newNet(t *testing.T) *resolvertest.Network {
	t.Helper()
	n, err := resolvertest.Default()
	if err != nil {
		t.Fatalf("resolvertest.Default: %v", err)
	}
	return n
}

func newResolver(t *testing.T, n *resolvertest.Network, mod ...func(*resolver.Config)) *resolver.Resolver {
	t.Helper()
	cfg := resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n.Exchanger(t),
		AllowUpstream: loopback,
		Limits:        resolver.Limits{QueryTimeout: 300 * time.Millisecond, Timeout: 5 * time.Second},
	}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := resolver.New(cfg)
	if err != nil {
		t.Fatalf("resolver.New: %v", err)
	}
	return r
}

func ask(t *testing.T, r *resolver.Resolver, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	return r.ServeDNS(context.Background(), q)
}

// answerHas reports whether every wanted string is a substring of some
// answer record.
func answerHas(m *dns.Msg, want ...string) bool {
	for _, w := range want {
		found := false
		for _, rr := range m.Answer {
			if strings.Contains(strings.ReplaceAll(rr.String(), "\t", " "), w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestResolve(t *testing.T) {
	n := newNet(t)
	tests := []struct {
		name       string
		qname      string
		qtype      uint16
		rcode      int
		answer     []string // substrings that must appear in the answer
		noAnswer   bool
		wantSOA    bool
		noMinimise bool
	}{
		{name: "A", qname: "www.plain.example.", qtype: dns.TypeA, answer: []string{"192.0.2.1"}},
		{name: "AAAA", qname: "www.plain.example.", qtype: dns.TypeAAAA, answer: []string{"2001:db8::1"}},
		{name: "MX", qname: "plain.example.", qtype: dns.TypeMX, answer: []string{"MX 10 mail.plain.example."}},
		{name: "TXT", qname: "txt.plain.example.", qtype: dns.TypeTXT, answer: []string{`"hello" "world"`, `"second string"`}},
		{name: "case-insensitive", qname: "WwW.PlAiN.ExAmPlE.", qtype: dns.TypeA, answer: []string{"192.0.2.1"}},
		{name: "in-zone CNAME chain", qname: "alias.plain.example.", qtype: dns.TypeA, answer: []string{"CNAME alias2.plain.example.", "CNAME www.plain.example.", "192.0.2.1"}},
		{name: "CNAME chain across three zones", qname: "a.chain.example.", qtype: dns.TypeA, answer: []string{"CNAME b.other.test.", "CNAME c.third.example.", "A"}},
		{name: "CNAME query returns the CNAME only", qname: "a.chain.example.", qtype: dns.TypeCNAME, answer: []string{"CNAME b.other.test."}},
		{name: "dangling CNAME", qname: "dangling.plain.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, answer: []string{"CNAME missing.plain.example."}, wantSOA: true},
		{name: "NXDOMAIN", qname: "nope.plain.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, noAnswer: true, wantSOA: true},
		{name: "NXDOMAIN no minimisation", qname: "nope2.plain.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, noAnswer: true, wantSOA: true, noMinimise: true},
		{name: "NXDOMAIN TLD", qname: "www.nosuchtld.", qtype: dns.TypeA, rcode: dns.RcodeNameError, noAnswer: true, wantSOA: true},
		{name: "NODATA", qname: "www.plain.example.", qtype: dns.TypeMX, noAnswer: true, wantSOA: true},
		{name: "empty non-terminal", qname: "b.c.plain.example.", qtype: dns.TypeA, noAnswer: true, wantSOA: true},
		{name: "below empty non-terminal", qname: "a.b.c.plain.example.", qtype: dns.TypeA, answer: []string{"192.0.2.3"}},
		{name: "wildcard", qname: "anything.wild.example.", qtype: dns.TypeA, answer: []string{"anything.wild.example.", "192.0.2.80"}},
		{name: "wildcard CNAME out of zone", qname: "x.out.wild.example.", qtype: dns.TypeA, answer: []string{"CNAME www.plain.example.", "192.0.2.1"}},
		{name: "DNAME across zones", qname: "b.sub.dname.example.", qtype: dns.TypeA, answer: []string{"DNAME other.test.", "CNAME b.other.test."}},
		{name: "DNAME in zone", qname: "www.local.dname.example.", qtype: dns.TypeA, answer: []string{"192.0.2.14"}},
		{name: "glueless delegation", qname: "www.glueless.example.", qtype: dns.TypeA, answer: []string{"A"}},
		{name: "doubly glueless", qname: "www.deep.example.", qtype: dns.TypeA, answer: []string{"A"}},
		{name: "large answer over TCP", qname: "txt.big.example.", qtype: dns.TypeTXT, answer: []string{"00-abc", "09-jkl"}},
		{name: "one dead server", qname: "www.half.example.", qtype: dns.TypeA, answer: []string{"A"}},
		{name: "one lame server", qname: "www.partlame.example.", qtype: dns.TypeA, answer: []string{"A"}},
		{name: "mixed glue", qname: "www.mixed.example.", qtype: dns.TypeA, answer: []string{"A"}},
		{name: "localhost", qname: "localhost.", qtype: dns.TypeA, answer: []string{"127.0.0.1"}},
		{name: "private reverse", qname: "1.1.168.192.in-addr.arpa.", qtype: dns.TypePTR, rcode: dns.RcodeNameError, wantSOA: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(t, n, func(c *resolver.Config) { c.NoQNameMinimisation = tc.noMinimise })
			m, err := ask(t, r, tc.qname, tc.qtype)
			if err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode: got %s, want %s\n%v", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode], m)
			}
			if !answerHas(m, tc.answer...) {
				t.Errorf("answer: got %v, want records with %q", m.Answer, tc.answer)
			}
			if tc.noAnswer && len(m.Answer) != 0 {
				t.Errorf("answer: got %v, want none", m.Answer)
			}
			hasSOA := len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeSOA
			if hasSOA != tc.wantSOA {
				t.Errorf("authority: got %v, want SOA %v", m.Ns, tc.wantSOA)
			}
			// Locally served zones answer authoritatively (RFC 6303 §3).
			local := tc.name == "localhost" || tc.name == "private reverse"
			if m.Authoritative != local || !m.RecursionAvailable {
				t.Errorf("flags: got aa=%v ra=%v, want aa=%v ra=true", m.Authoritative, m.RecursionAvailable, local)
			}
			// A second ask is a cache hit: no upstream query.
			before := len(n.Log())
			m2, err := ask(t, r, tc.qname, tc.qtype)
			if err != nil || m2.Rcode != m.Rcode || len(m2.Answer) != len(m.Answer) {
				t.Errorf("repeat: got %v (%v), want the same answer", m2, err)
			}
			if after := len(n.Log()); after != before {
				t.Errorf("repeat sent %d upstream queries, want 0", after-before)
			}
		})
	}
}

func TestResolveFailures(t *testing.T) {
	n := newNet(t)
	tests := []struct {
		name  string
		qname string
		ede   uint16
		err   error
	}{
		{name: "lame delegation", qname: "www.lame.example.", ede: resolver.EDENoReachableAuth, err: resolver.ErrNoReachable},
		{name: "glueless cycle", qname: "www.cycle1.example.", ede: resolver.EDENoReachableAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(t, n)
			_, err := ask(t, r, tc.qname, dns.TypeA)
			var re *resolver.Error
			if !errors.As(err, &re) {
				t.Fatalf("ServeDNS: got %v, want a *resolver.Error", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("error: got %v, want %v", err, tc.err)
			}
			if tc.ede != 0 && re.EDE != tc.ede {
				t.Errorf("EDE: got %d, want %d", re.EDE, tc.ede)
			}
		})
	}
}

// TestCNAMELoops: a CNAME chain that goes round, within a zone or across
// two, is a SERVFAIL (RFC 1034 §3.6.2) that shows the chain up to the
// loop, as Knot Resolver's does, with an EDE saying why. Asked again, the
// answer is the same: the links the resolver cached on the way are not a
// client's answer.
func TestCNAMELoops(t *testing.T) {
	n := newNet(t)
	tests := []struct {
		name, qname string
		chain       []string
	}{
		{"cross-zone", "loop.chain.example.", []string{"loop.chain.example. 3600 IN CNAME loop.other.test.", "loop.other.test. 3600 IN CNAME loop.chain.example."}},
		{"in-zone", "loop1.plain.example.", []string{"loop1.plain.example. 3600 IN CNAME loop2.plain.example.", "loop2.plain.example. 3600 IN CNAME loop1.plain.example."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(t, n)
			m, err := ask(t, r, tc.qname, dns.TypeA)
			checkLoopAnswer(t, m, err, tc.chain...)
			// Again, from what the first query cached (TTLs aside).
			m, err = ask(t, r, tc.qname, dns.TypeA)
			for i := range len(answerOf(m)) {
				m.Answer[i].Header().Ttl = 3600
			}
			checkLoopAnswer(t, m, err, tc.chain...)
		})
	}
}

// answerOf returns m's answer section, nil for no message.
func answerOf(m *dns.Msg) []dns.RR {
	if m == nil {
		return nil
	}
	return m.Answer
}

// checkLoopAnswer fails t unless m is the SERVFAIL of a CNAME loop with
// the records chain in its answer section and EDE 0 (Other).
func checkLoopAnswer(t *testing.T, m *dns.Msg, err error, chain ...string) {
	t.Helper()
	if err != nil || m == nil || m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("got %v, %v; want SERVFAIL with the chain", m, err)
	}
	if !answerHas(m, chain...) || len(m.Answer) != len(chain) {
		t.Errorf("answer: got %v, want %q", m.Answer, chain)
	}
	var ede *dns.EDNS0_EDE
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede = e
			}
		}
	}
	if ede == nil || ede.InfoCode != resolver.EDEOther || ede.ExtraText == "" {
		t.Errorf("EDE: got %v, want code %d with a reason", ede, resolver.EDEOther)
	}
}

// TestCNAMESelfLoop checks a CNAME that names its own owner, which one
// answer holds whole (Deckard's val_cname_loop1): a loop, not an answer.
func TestCNAMESelfLoop(t *testing.T) {
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
loop. 3600 IN NS ns.loop.
ns.loop. 3600 IN A 127.53.200.2
`, `loop. 3600 IN SOA ns.loop. host.loop. 1 3600 600 86400 300
loop. 3600 IN NS ns.loop.
ns.loop. 3600 IN A 127.53.200.2
self.loop. 3600 IN CNAME self.loop.
`)
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, n)
	m, err := ask(t, r, "self.loop.", dns.TypeA)
	checkLoopAnswer(t, m, err, "self.loop. 3600 IN CNAME self.loop.")
	// Asked again, from the cache: the same SERVFAIL, not the first link
	// stored as if it were a whole answer (which it was once).
	m, err = ask(t, r, "self.loop.", dns.TypeA)
	checkLoopAnswer(t, m, err, "self.loop. 3600 IN CNAME self.loop.")
	// Asked for the CNAME itself, it is the answer.
	if m, err := ask(t, r, "self.loop.", dns.TypeCNAME); err != nil || len(m.Answer) != 1 {
		t.Errorf("CNAME: got %v (%v), want the record", m, err)
	}
}

// TestDNAMEAppliedTwice checks that a DNAME the chain passes twice
// (shortloop.x.x. → shortloop.x. → shortloop. under x. DNAME .) is in the
// answer once (Deckard's val_dname).
func TestDNAMEAppliedTwice(t *testing.T) {
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.200.1
x. 3600 IN DNAME .
shortloop. 3600 IN TXT "end"
`)
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, n)
	m, err := ask(t, r, "shortloop.x.x.", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	dnames := 0
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == dns.TypeDNAME {
			dnames++
		}
	}
	if dnames != 1 || !answerHas(m, "end") {
		t.Errorf("got %v, want one DNAME and the TXT", m)
	}
}

func TestRootUnreachable(t *testing.T) {
	n := newNet(t)
	for _, rr := range n.RootHints() {
		if a, ok := rr.(*dns.A); ok {
			addr, _ := netip.AddrFromSlice(a.A.To4())
			n.SetFault(addr, resolvertest.Fault{Drop: true})
		}
	}
	r := newResolver(t, n)
	_, err := ask(t, r, "www.plain.example.", dns.TypeA)
	var re *resolver.Error
	if !errors.As(err, &re) || re.EDE != resolver.EDENoReachableAuth {
		t.Fatalf("got %v, want EDE 22", err)
	}
}

func TestUpstreamPolicy(t *testing.T) {
	n := newNet(t)
	// Without 127.0.0.0/8 allowed, nothing may be sent at all.
	r := newResolver(t, n, func(c *resolver.Config) { c.AllowUpstream = nil })
	_, err := ask(t, r, "www.plain.example.", dns.TypeA)
	if !errors.Is(err, resolver.ErrNotAllowed) {
		t.Errorf("got %v, want ErrNotAllowed", err)
	}
	if got := len(n.Log()); got != 0 {
		t.Errorf("sent %d queries to disallowed servers, want 0", got)
	}
}

func TestFaults(t *testing.T) {
	plain1 := netip.MustParseAddr("127.53.10.1")
	plain2 := netip.MustParseAddr("127.53.10.2")
	tests := []struct {
		name  string
		fault resolvertest.Fault
		both  bool // fault on both servers of plain.example.
		want  int  // rcode, or -1 for an error
	}{
		{name: "drop one", fault: resolvertest.Fault{Drop: true}, want: dns.RcodeSuccess},
		{name: "refuse one", fault: resolvertest.Fault{Refuse: true}, want: dns.RcodeSuccess},
		{name: "servfail one", fault: resolvertest.Fault{ServFail: true}, want: dns.RcodeSuccess},
		{name: "lame one", fault: resolvertest.Fault{Lame: true}, want: dns.RcodeSuccess},
		{name: "wrong ID one", fault: resolvertest.Fault{WrongID: true}, want: dns.RcodeSuccess},
		{name: "wrong question one", fault: resolvertest.Fault{WrongQuestion: true}, want: dns.RcodeSuccess},
		{name: "truncate both", fault: resolvertest.Fault{Truncate: true}, both: true, want: dns.RcodeSuccess},
		{name: "no EDNS both", fault: resolvertest.Fault{NoEDNS: true}, both: true, want: dns.RcodeSuccess},
		{name: "NS queries dropped both", fault: resolvertest.Fault{DropType: dns.TypeNS}, both: true, want: dns.RcodeSuccess},
		{name: "broken minimisation both", fault: resolvertest.Fault{MinimisationBroken: true}, both: true, want: dns.RcodeSuccess},
		{name: "spoofed glue both", fault: resolvertest.Fault{SpoofGlue: true}, both: true, want: dns.RcodeSuccess},
		{name: "wrong ID both", fault: resolvertest.Fault{WrongID: true}, both: true, want: -1},
		{name: "drop both", fault: resolvertest.Fault{Drop: true}, both: true, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t)
			n.SetFault(plain1, tc.fault)
			if tc.both {
				n.SetFault(plain2, tc.fault)
			}
			r := newResolver(t, n)
			for _, qname := range []string{"www.plain.example.", "a.b.c.plain.example."} {
				m, err := ask(t, r, qname, dns.TypeA)
				if tc.want == -1 {
					if err == nil {
						t.Errorf("%s: got %v, want an error", qname, m)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: ServeDNS: %v", qname, err)
				}
				if m.Rcode != tc.want || len(m.Answer) == 0 {
					t.Errorf("%s: got %v, want an answer", qname, m)
				}
				for _, rr := range m.Answer {
					if a, ok := rr.(*dns.A); ok && a.A.String() == resolvertest.SpoofAddr().String() {
						t.Errorf("%s: spoofed record in the answer: %v", qname, rr)
					}
				}
			}
			if got := n.Queries(resolvertest.SpoofAddr()); got != 0 {
				t.Errorf("sent %d queries to the spoofed address, want 0", got)
			}
		})
	}
}

func TestMinimisation(t *testing.T) {
	n := newNet(t)
	r := newResolver(t, n)
	if _, err := ask(t, r, "a.b.c.plain.example.", dns.TypeAAAA); err != nil {
		t.Fatal(err)
	}
	// The root must never see more than the TLD label, nor the real qtype.
	for _, q := range n.Log() {
		if q.Server.Addr() == netip.MustParseAddr("127.53.0.1") || q.Server.Addr() == netip.MustParseAddr("127.53.0.2") {
			if dns.CountLabel(q.Name) > 1 || q.Type == dns.TypeAAAA {
				t.Errorf("root saw %s %s, want one label and not AAAA", q.Name, dns.TypeToString[q.Type])
			}
		}
	}
}

func TestBudgetQueries(t *testing.T) {
	n := newNet(t)
	r := newResolver(t, n, func(c *resolver.Config) { c.Limits.MaxQueries = 2 })
	_, err := ask(t, r, "www.deep.example.", dns.TypeA)
	if !errors.Is(err, resolver.ErrBudget) {
		t.Errorf("got %v, want ErrBudget", err)
	}
	if got := len(n.Log()); got > 2 {
		t.Errorf("sent %d queries, want at most 2", got)
	}
}

func TestCoalescing(t *testing.T) {
	n := newNet(t)
	n.SetFault(netip.MustParseAddr("127.53.10.1"), resolvertest.Fault{Delay: 20 * time.Millisecond})
	n.SetFault(netip.MustParseAddr("127.53.10.2"), resolvertest.Fault{Delay: 20 * time.Millisecond})
	r := newResolver(t, n, func(c *resolver.Config) { c.Cache = cache.New(cache.Config{MaxEntries: 1000}) })
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ask(t, r, "www.plain.example.", dns.TypeA); err != nil {
				t.Errorf("ServeDNS: %v", err)
			}
		}()
	}
	wg.Wait()
	count := 0
	for _, q := range n.Log() {
		if strings.EqualFold(q.Name, "www.plain.example.") {
			count++
		}
	}
	if count > 2 {
		t.Errorf("%d upstream queries for one name asked 20 times at once, want 1 (2 with a retry)", count)
	}
}

// TestCoalescedCancel: when the client whose query does the shared work
// goes away, the others asking the same question still get the answer.
func TestCoalescedCancel(t *testing.T) {
	n := newNet(t)
	n.SetFault(netip.MustParseAddr("127.53.10.1"), resolvertest.Fault{Delay: 100 * time.Millisecond})
	n.SetFault(netip.MustParseAddr("127.53.10.2"), resolvertest.Fault{Delay: 100 * time.Millisecond})
	r := newResolver(t, n)
	q := new(dns.Msg)
	q.SetQuestion("www.plain.example.", dns.TypeA)
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		r.ServeDNS(leaderCtx, q.Copy())
	}()
	// Wait until the leader's work has reached the delayed servers.
	for !slicesContainsName(n.Log(), "www.plain.example.") {
		runtime.Gosched()
	}
	followerDone := make(chan error, 1)
	go func() {
		_, err := r.ServeDNS(context.Background(), q.Copy())
		followerDone <- err
	}()
	cancel()
	if err := <-followerDone; err != nil {
		t.Errorf("follower: %v, want the answer although the leader left", err)
	}
	<-leaderDone
}

func slicesContainsName(log []resolvertest.Query, name string) bool {
	for _, q := range log {
		if strings.EqualFold(q.Name, name) {
			return true
		}
	}
	return false
}

func TestLocalZones(t *testing.T) {
	n := newNet(t)
	r := newResolver(t, n)
	for _, name := range []string{"1.0.64.100.in-addr.arpa.", "5.5.127.100.in-addr.arpa.", "x.home.arpa.", "foo.onion.", "a.invalid."} {
		m, err := ask(t, r, name, dns.TypePTR)
		if err != nil || m.Rcode != dns.RcodeNameError {
			t.Errorf("%s: got %v (%v), want NXDOMAIN", name, m, err)
		}
	}
	if got := len(n.Log()); got != 0 {
		t.Errorf("%d queries sent for locally served names, want 0", got)
	}
}

// TestDesignatedResolvers checks the DDR answers (RFC 9462): the
// configured SVCB records for _dns.resolver.arpa SVCB, NODATA for its
// other types, NXDOMAIN elsewhere in resolver.arpa, and nothing upstream.
func TestDesignatedResolvers(t *testing.T) {
	svcb, err := dns.NewRR(`_dns.resolver.arpa. 300 IN SVCB 1 dns.example. alpn="dot" port=8853`)
	if err != nil {
		t.Fatal(err)
	}
	n := newNet(t)
	with := newResolver(t, n, func(c *resolver.Config) { c.Designated = []*dns.SVCB{svcb.(*dns.SVCB)} })
	without := newResolver(t, n)
	tests := []struct {
		r      *resolver.Resolver
		name   string
		qtype  uint16
		rcode  int
		answer int
	}{
		{with, "_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeSuccess, 1},
		{with, "_DNS.Resolver.ARPA.", dns.TypeSVCB, dns.RcodeSuccess, 1},
		{with, "_dns.resolver.arpa.", dns.TypeA, dns.RcodeSuccess, 0},
		{with, "other.resolver.arpa.", dns.TypeSVCB, dns.RcodeNameError, 0},
		{with, "resolver.arpa.", dns.TypeSOA, dns.RcodeSuccess, 1},
		{without, "_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeNameError, 0},
	}
	for _, tt := range tests {
		m, err := ask(t, tt.r, tt.name, tt.qtype)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.name, dns.TypeToString[tt.qtype], err)
		}
		if m.Rcode != tt.rcode || len(m.Answer) != tt.answer {
			t.Errorf("%s %s (DDR %v): rcode %s with %d answers, want %s with %d", tt.name, dns.TypeToString[tt.qtype], tt.r == with,
				dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[tt.rcode], tt.answer)
		}
		if tt.answer == 1 && tt.qtype == dns.TypeSVCB && m.Answer[0].String() != svcb.String() {
			t.Errorf("answer %s, want %s", m.Answer[0], svcb)
		}
	}
	if got := len(n.Log()); got != 0 {
		t.Errorf("%d queries sent for resolver.arpa, want 0", got)
	}
}
