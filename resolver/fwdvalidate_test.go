package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// resolverForwarder is a validating recursive resolver (hush's own,
// iterating the simulated internet) answering as an upstream would: the
// Exchanger of a forwarding resolver whose one forwarder is addr.
type resolverForwarder struct {
	addr  netip.AddrPort
	inner *resolver.Resolver
}

func (f *resolverForwarder) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	if server != f.addr {
		return nil, errors.New("not the forwarder")
	}
	r, err := f.inner.ServeDNS(ctx, q.Copy())
	if err != nil {
		r = new(dns.Msg)
		r.SetRcode(q, dns.RcodeServerFailure)
		var re *resolver.Error
		if errors.As(err, &re) && re.EDE != 0 {
			r.SetEdns0(1232, true)
			r.IsEdns0().Option = append(r.IsEdns0().Option, &dns.EDNS0_EDE{InfoCode: re.EDE})
		}
	}
	r.Id, r.Response, r.RecursionAvailable = q.Id, true, true
	r.Question = q.Question
	return r, nil
}

func signedAnchors(t *testing.T, n *resolvertest.Network) *dnssec.Anchors {
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	return anchors
}

// TestForwardedValidation plays the signed internet's table through a
// validating forwarder: a forwarding hush validates on its own and comes
// to the same verdicts, Insecure zones included.
func TestForwardedValidation(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	fwd := netip.MustParseAddrPort("127.0.0.99:53")
	outer, err := resolver.New(resolver.Config{
		Forwarders:   []netip.AddrPort{fwd},
		Exchanger:    &resolverForwarder{addr: fwd, inner: inner},
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resolvertest.SignedExpectations() {
		t.Run(e.Name+"/"+dns.TypeToString[e.Type], func(t *testing.T) {
			m, err := askDO(t, outer, e.Name, e.Type, true, false)
			if e.Security == resolvertest.Bogus {
				var re *resolver.Error
				if !errors.As(err, &re) {
					t.Fatalf("got %v (%v), want Bogus: SERVFAIL with EDE %d (%s)", m, err, e.EDE, e.Why)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want %v", err, e.Security)
			}
			if m.Rcode != e.Rcode {
				t.Errorf("rcode %d, want %d", m.Rcode, e.Rcode)
			}
			if ad := e.Security == resolvertest.Secure; m.AuthenticatedData != ad {
				t.Errorf("AD %v, want %v (%s)", m.AuthenticatedData, ad, e.Why)
			}
			checkInfoEDE(t, m, e)
		})
	}
}

// forwarderFunc adapts a function to resolver.Forwarder.
type forwarderFunc func(ctx context.Context, q *dns.Msg) (*dns.Msg, error)

func (f forwarderFunc) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) { return f(ctx, q) }

// viaResolver is a Forwarder that is a validating resolver; strip takes
// every RRSIG out of its replies, as a broken middlebox would.
func viaResolver(inner *resolver.Resolver, strip bool) resolver.Forwarder {
	rf := &resolverForwarder{inner: inner}
	return forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r, err := rf.Exchange(ctx, "udp", rf.addr, q)
		if err == nil && strip {
			for _, sec := range []*[]dns.RR{&r.Answer, &r.Ns} {
				kept := (*sec)[:0]
				for _, rr := range *sec {
					if rr.Header().Rrtype != dns.TypeRRSIG {
						kept = append(kept, rr)
					}
				}
				*sec = kept
			}
		}
		return r, err
	})
}

func edeOf(err error) uint16 {
	var re *resolver.Error
	if errors.As(err, &re) {
		return re.EDE
	}
	return 0
}

// TestForwardZoneValidation: forwarding everything to a validating
// upstream through a Forwarder (as --forward tls://... does) gives the
// signed internet's verdicts; a Bogus zone's SERVFAIL keeps the EDE the
// upstream gave; an upstream that strips signatures makes signed answers
// Bogus (EDE 10), not Insecure.
func TestForwardZoneValidation(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	newOuter := func(strip bool) *resolver.Resolver {
		r, err := resolver.New(resolver.Config{
			ForwardZones: []resolver.ForwardZone{{Zone: ".", Forwarder: viaResolver(inner, strip)}},
			DNSSEC:       true,
			TrustAnchors: signedAnchors(t, n),
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	outer := newOuter(false)
	for _, e := range resolvertest.SignedExpectations() {
		t.Run(e.Name+"/"+dns.TypeToString[e.Type], func(t *testing.T) {
			m, err := askDO(t, outer, e.Name, e.Type, true, false)
			if e.Security == resolvertest.Bogus {
				_, want := askDO(t, inner, e.Name, e.Type, true, false)
				if got := edeOf(err); got == 0 || got != edeOf(want) {
					t.Fatalf("got %v (%v), want SERVFAIL with the upstream's EDE %d", m, err, edeOf(want))
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want %v", err, e.Security)
			}
			if ad := e.Security == resolvertest.Secure; m.Rcode != e.Rcode || m.AuthenticatedData != ad {
				t.Errorf("rcode %d AD %v, want %d %v (%s)", m.Rcode, m.AuthenticatedData, e.Rcode, ad, e.Why)
			}
			checkInfoEDE(t, m, e)
		})
	}
	stripped := newOuter(true)
	for _, name := range []string{"www.alg13.sec.", "www.nsec3.sec.", "www.signed.optout."} {
		m, err := askDO(t, stripped, name, dns.TypeA, true, false)
		if got := edeOf(err); got != 10 && got != 9 {
			t.Errorf("%s through a stripping forwarder: got %v, %v; want Bogus, EDE 10 (or 9)", name, m, err)
		}
	}
	// Without the signed denial of its DS, an unsigned zone cannot be
	// told from a stripped one either: Bogus too.
	if _, err := askDO(t, stripped, "www.insecure.sec.", dns.TypeA, true, false); edeOf(err) == 0 {
		t.Errorf("www.insecure.sec. through a stripping forwarder: got %v, want Bogus", err)
	}
}

// rdLog wraps an Exchanger and records the RD bit of each query by server.
type rdLog struct {
	resolver.Exchanger
	mu sync.Mutex
	rd map[netip.AddrPort][]bool
}

func (l *rdLog) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	l.mu.Lock()
	l.rd[server] = append(l.rd[server], q.RecursionDesired)
	l.mu.Unlock()
	return l.Exchanger.Exchange(ctx, network, server, q)
}

// TestZoneRoutes: the longest forward or stub zone wins; a stub zone is
// iterated from its own servers with RD clear; a private forward zone
// the signed root proves absent is Insecure, not Bogus.
func TestZoneRoutes(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	var lanAsked []string
	lan := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		lanAsked = append(lanAsked, q.Question[0].Name)
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		if q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.168.1.10")
			r.Answer = append(r.Answer, rr)
		}
		return r, nil
	})
	log := &rdLog{Exchanger: n.Exchanger(t), rd: map[netip.AddrPort][]bool{}}
	stubServer := netip.MustParseAddrPort("127.53.110.3:53") // alg13.sec.'s server
	r, err := resolver.New(resolver.Config{
		ForwardZones: []resolver.ForwardZone{
			{Zone: ".", Forwarder: viaResolver(inner, false)},
			{Zone: "lan.", Forwarder: lan},
			{Zone: "router.alg8.sec.", Forwarder: lan},
		},
		StubZones:    []resolver.StubZone{{Zone: "alg13.sec.", Servers: []netip.AddrPort{stubServer}}},
		Exchanger:    log,
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ad   bool
		want string
	}{
		{"printer.lan.", false, "192.168.1.10"},       // private: the root proves lan. absent
		{"www.alg13.sec.", true, "192.0.2.1"},         // stub zone, validated
		{"www.alg8.sec.", true, ""},                   // forwarded to the validating upstream
		{"x.router.alg8.sec.", false, "192.168.1.10"}, // longest match; unsigned in a signed zone
	}
	for _, tt := range tests {
		m, err := askDO(t, r, tt.name, dns.TypeA, true, false)
		if tt.name == "x.router.alg8.sec." {
			// The public tree proves router.alg8.sec. is no delegation
			// yet the operator routes it: a private zone, Insecure.
			if err != nil || m.AuthenticatedData {
				t.Errorf("%s: got %v, %v; want an Insecure answer", tt.name, m, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if m.AuthenticatedData != tt.ad || tt.want != "" && !answerHas(m, tt.want) {
			t.Errorf("%s: got AD %v %v, want AD %v and %s", tt.name, m.AuthenticatedData, m.Answer, tt.ad, tt.want)
		}
	}
	if len(lanAsked) != 2 {
		t.Errorf("the lan forwarder was asked %q, want printer.lan. and x.router.alg8.sec.", lanAsked)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.rd[stubServer]) == 0 {
		t.Errorf("the stub server was never asked")
	}
	for s, rds := range log.rd {
		for _, rd := range rds {
			if rd {
				t.Errorf("query to %s with RD set", s)
			}
		}
	}
}

// TestForwardedChainForgery: through a forwarder, an alias chain that
// starts in an unsigned zone and runs on through a signed one must have
// every RRset of the signed zone signed. A forwarder (or whoever sits on
// a dns:// path) that hangs an unsigned CNAME for a name of a signed zone
// behind an unsigned zone's alias makes the answer Bogus, and the forged
// alias never answers a later question for the signed name.
func TestForwardedChainForgery(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	honest := viaResolver(inner, false)
	forger := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		if q.Question[0].Name != "www.insecure.sec." || q.Question[0].Qtype != dns.TypeA {
			return honest.Exchange(ctx, q)
		}
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		for _, s := range []string{
			"www.insecure.sec. 300 IN CNAME www.alg8.sec.",
			"www.alg8.sec. 300 IN CNAME evil.insecure.sec.",
			"evil.insecure.sec. 300 IN A 198.51.100.66",
		} {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			r.Answer = append(r.Answer, rr)
		}
		return r, nil
	})
	r, err := resolver.New(resolver.Config{
		ForwardZones: []resolver.ForwardZone{{Zone: ".", Forwarder: forger}},
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := askDO(t, r, "www.insecure.sec.", dns.TypeA, true, false)
	if err == nil {
		t.Errorf("forged chain through www.alg8.sec.: got %v, want Bogus", m.Answer)
	}
	m, err = askDO(t, r, "www.alg8.sec.", dns.TypeA, true, false)
	if err != nil {
		t.Fatalf("www.alg8.sec. after the forgery: %v", err)
	}
	if !m.AuthenticatedData || answerHas(m, "198.51.100.66") || answerHas(m, "evil.insecure.sec.") {
		t.Errorf("www.alg8.sec. after the forgery: AD %v %v, want the signed answer", m.AuthenticatedData, m.Answer)
	}
}

// TestForwardZoneBailiwick: a forward zone's upstream speaks for its zone
// only (Unbound scrubs a forward zone's answers against the zone's name
// alike). Records it adds for names outside the zone, an alias of an
// unsigned public name here, are not believed: hush follows the chain
// out of the zone itself, and the public name keeps its own answer.
func TestForwardZoneBailiwick(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	lan := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		var rrs []string
		switch q.Question[0].Name {
		case "printer.lan.":
			rrs = []string{
				"printer.lan. 300 IN CNAME www.insecure.sec.",
				"www.insecure.sec. 300 IN CNAME evil.lan.",
				"evil.lan. 300 IN A 198.51.100.66",
			}
		case "evil.lan.":
			rrs = []string{"evil.lan. 300 IN A 198.51.100.66"}
		default:
			r.Rcode = dns.RcodeNameError
		}
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			r.Answer = append(r.Answer, rr)
		}
		return r, nil
	})
	r, err := resolver.New(resolver.Config{
		ForwardZones: []resolver.ForwardZone{
			{Zone: ".", Forwarder: viaResolver(inner, false)},
			{Zone: "lan.", Forwarder: lan},
		},
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := askDO(t, inner, "www.insecure.sec.", dns.TypeA, true, false)
	if err != nil || len(want.Answer) == 0 {
		t.Fatalf("www.insecure.sec. from the upstream: %v, %v", want, err)
	}
	m, err := askDO(t, r, "printer.lan.", dns.TypeA, true, false)
	if err != nil {
		t.Fatalf("printer.lan.: %v", err)
	}
	if answerHas(m, "evil.lan.") {
		t.Errorf("printer.lan.: %v, want the lan forwarder's records for www.insecure.sec. ignored", m.Answer)
	}
	m, err = askDO(t, r, "www.insecure.sec.", dns.TypeA, true, false)
	if err != nil {
		t.Fatalf("www.insecure.sec.: %v", err)
	}
	if answerHas(m, "evil.lan.") || answerHas(m, "198.51.100.66") {
		t.Errorf("www.insecure.sec. after printer.lan.: %v, want %v", m.Answer, want.Answer)
	}
}

// TestForwardZoneNoDataWithoutSOA: a forwarder that has a name but not
// the type asked answers NOERROR with nothing in it, often without an
// SOA (dnsmasq does so for names from /etc/hosts and DHCP leases). From a
// forwarder, whose RA says it recursed, that is NODATA, not a lame
// server: printer.lan. AAAA must not be SERVFAIL.
func TestForwardZoneNoDataWithoutSOA(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	lan := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		if q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.168.1.10")
			r.Answer = append(r.Answer, rr)
		}
		return r, nil
	})
	honest := viaResolver(inner, false)
	// The same empty reply for a signed name proves nothing: Bogus.
	forger := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		if q.Question[0].Name == "www.alg8.sec." {
			r := new(dns.Msg)
			r.SetReply(q)
			r.RecursionAvailable = true
			return r, nil
		}
		return honest.Exchange(ctx, q)
	})
	for _, validate := range []bool{true, false} {
		cfg := resolver.Config{
			ForwardZones: []resolver.ForwardZone{
				{Zone: ".", Forwarder: forger},
				{Zone: "lan.", Forwarder: lan},
			},
			DNSSEC: validate,
		}
		if validate {
			cfg.TrustAnchors = signedAnchors(t, n)
		}
		r, err := resolver.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, err := askDO(t, r, "printer.lan.", dns.TypeAAAA, true, false)
		if err != nil || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || m.AuthenticatedData {
			t.Errorf("validate %v: printer.lan. AAAA: got %v, %v; want an Insecure NODATA", validate, m, err)
		}
		if m, err := askDO(t, r, "www.alg8.sec.", dns.TypeA, true, false); validate && err == nil {
			t.Errorf("an empty reply for www.alg8.sec. A: got %v, want Bogus", m)
		}
	}
}

// TestForwardZoneBelowAbsentName: a private forward zone need not be a
// top-level name. For office.corp., the public tree proves corp. absent
// (a signed NXDOMAIN from the root): office.corp. cannot be delegated
// from the trust anchor, and its answers are Insecure, as lan.'s are.
func TestForwardZoneBelowAbsentName(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	office := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		if q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 10.1.2.3")
			r.Answer = append(r.Answer, rr)
		}
		return r, nil
	})
	r, err := resolver.New(resolver.Config{
		ForwardZones: []resolver.ForwardZone{
			{Zone: ".", Forwarder: viaResolver(inner, false)},
			{Zone: "office.corp.", Forwarder: office},
			{Zone: "lan.", Forwarder: office},
		},
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The proofs that corp. and lan. are absent, learnt on the way, do
	// not answer for the names the operator routes to their own servers
	// (neither RFC 8198 synthesis nor RFC 8020's NXDOMAIN cut).
	for _, name := range []string{"printer.office.corp.", "office.corp.", "scanner.office.corp.", "printer.lan.", "scanner.lan.", "lan."} {
		m, err := askDO(t, r, name, dns.TypeA, true, false)
		if err != nil || m.AuthenticatedData || !answerHas(m, "10.1.2.3") {
			t.Errorf("%s: got %v, %v; want an Insecure answer", name, m, err)
		}
	}
	// A name outside the forward zone under the same absent one stays
	// NXDOMAIN, proven.
	m, err := askDO(t, r, "other.corp.", dns.TypeA, true, false)
	if err != nil || m.Rcode != dns.RcodeNameError || !m.AuthenticatedData {
		t.Errorf("other.corp.: got %v, %v; want a Secure NXDOMAIN", m, err)
	}
}

// TestForwardZoneChainOut: an alias in a forward zone whose target lies
// outside it is followed through the target's own route, whatever the
// zone's forwarder said of the target (an answer, or NXDOMAIN).
func TestForwardZoneChainOut(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	lan := forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		var rrs []string
		switch q.Question[0].Name {
		case "www.lan.":
			rrs = []string{"www.lan. 300 IN CNAME www.alg8.sec.", "www.alg8.sec. 300 IN A 198.51.100.66"}
		case "gone.lan.":
			rrs = []string{"gone.lan. 300 IN CNAME nothere.alg8.sec."}
			r.Rcode = dns.RcodeNameError
		}
		for _, s := range rrs {
			rr, _ := dns.NewRR(s)
			r.Answer = append(r.Answer, rr)
		}
		return r, nil
	})
	r, err := resolver.New(resolver.Config{
		ForwardZones: []resolver.ForwardZone{
			{Zone: ".", Forwarder: viaResolver(inner, false)},
			{Zone: "lan.", Forwarder: lan},
		},
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := askDO(t, inner, "www.alg8.sec.", dns.TypeA, true, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := askDO(t, r, "www.lan.", dns.TypeA, true, false)
	if err != nil || m.Rcode != dns.RcodeSuccess || answerHas(m, "198.51.100.66") || !answerHas(m, want.Answer[0].(*dns.A).A.String()) {
		t.Errorf("www.lan.: got %v, %v; want the CNAME and %v", m, err, want.Answer)
	}
	m, err = askDO(t, r, "gone.lan.", dns.TypeA, true, false)
	if err != nil || m.Rcode != dns.RcodeNameError || !answerHas(m, "nothere.alg8.sec.") {
		t.Errorf("gone.lan.: got %v, %v; want the CNAME and NXDOMAIN", m, err)
	}
}
