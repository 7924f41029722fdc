package transport

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// slowOnly hides a handler's WireAnswerer: the dns.Msg path alone.
type slowOnly struct{ r *resolver.Resolver }

func (s slowOnly) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	return s.r.ServeDNS(ctx, q)
}
func (s slowOnly) AnswerCached(q *dns.Msg) (*dns.Msg, bool) { return s.r.AnswerCached(q) }

// countingWire counts the wire hits of a resolver.
type countingWire struct {
	*resolver.Resolver
	hits *atomic.Int64
}

func (c countingWire) AppendCached(dst, qname []byte, qtype uint16, do, cd, ad bool) ([]byte, bool) {
	out, ok := c.Resolver.AppendCached(dst, qname, qtype, do, cd, ad)
	if ok {
		c.hits.Add(1)
	}
	return out, ok
}

// signedResolver returns a validating resolver on the signed simulated
// internet, its clocks stopped so that two paths see the same TTLs.
func signedResolver(tb testing.TB) *resolver.Resolver {
	tb.Helper()
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		tb.Fatalf("resolvertest.Signed: %v", err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			tb.Fatal(err)
		}
	}
	now := time.Now()
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n.Exchanger(tb),
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		DNSSEC:        true,
		TrustAnchors:  anchors,
		Now:           func() time.Time { return now },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// mixCase writes name in alternating case, as a DNS 0x20 client would.
func mixCase(name string) string {
	b := []byte(name)
	for i := range b {
		if i%2 == 0 && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// normalised prints m with owner and target names lowercased: the wire
// path's compressed names may point into the question, which carries the
// client's case, where the dns.Msg path prints the cached case.
func normalised(m *dns.Msg) string {
	q := m.Question
	m.Question = nil
	s := strings.ToLower(m.String())
	m.Question = q
	return fmt.Sprintf("%v\n%s", q, s)
}

// TestWireHitDifferential asks every question of the signed simulated
// internet's table, and a CNAME chain, in every client shape (EDNS or not,
// DO, CD, AD, RD, mixed case, a small buffer, padding, TCP), once through
// the wire hit path and once through the dns.Msg path, and wants the same
// response from both.
func TestWireHitDifferential(t *testing.T) {
	r := signedResolver(t)
	type question struct {
		name  string
		qtype uint16
	}
	var qs []question
	for _, e := range resolvertest.SignedExpectations() {
		qs = append(qs, question{e.Name, e.Type})
	}
	qs = append(qs, question{"www.cname.sec.", dns.TypeA}, question{"sec.", dns.TypeDNSKEY}, question{"sec.", dns.TypeNS})
	// Warm the cache, both ways a client can ask.
	for _, q := range qs {
		for _, do := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.SetEdns0(1232, do)
			r.ServeDNS(context.Background(), m)
		}
	}
	var hits atomic.Int64
	fast := newPipeline(Config{Handler: countingWire{r, &hits}})
	slow := newPipeline(Config{Handler: slowOnly{r}})
	type shape struct {
		name                 string
		edns, do, cd, ad, rd bool
		size                 uint16
		padding, mixed       bool
		p                    proto
	}
	shapes := []shape{
		{name: "plain", rd: true},
		{name: "edns", edns: true, size: 1232, rd: true},
		{name: "do", edns: true, do: true, size: 1232, rd: true},
		{name: "do cd", edns: true, do: true, cd: true, size: 4096},
		{name: "ad", ad: true, rd: true},
		{name: "small buffer", edns: true, do: true, size: 512},
		{name: "mixed case", edns: true, size: 1232, mixed: true, rd: true},
		{name: "padding over udp", edns: true, size: 1232, padding: true},
		{name: "tcp do", edns: true, do: true, size: 1232, p: protoTCP},
		{name: "tls padding", edns: true, size: 1232, padding: true, p: protoTLS},
	}
	for _, q := range qs {
		for _, sh := range shapes {
			name := q.name
			if sh.mixed {
				name = mixCase(name)
			}
			m := new(dns.Msg)
			m.SetQuestion(name, q.qtype)
			m.Id = 0x4242
			m.RecursionDesired = sh.rd
			m.CheckingDisabled = sh.cd
			m.AuthenticatedData = sh.ad
			if sh.edns {
				m.SetEdns0(sh.size, sh.do)
				if sh.padding {
					opt := m.IsEdns0()
					opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, 8)})
				}
			}
			raw, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			got, gok := fast.respond(context.Background(), newScratch(), raw, sh.p, true)
			gotCopy := append([]byte(nil), got...)
			want, wok := slow.respond(context.Background(), newScratch(), raw, sh.p, true)
			if gok != wok {
				t.Errorf("%s %s %s: answered %v by the wire path, %v by the dns.Msg path", q.name, dns.TypeToString[q.qtype], sh.name, gok, wok)
				continue
			}
			if sh.p.framed() {
				gotCopy, want = gotCopy[2:], want[2:]
			}
			var gm, wm dns.Msg
			if err := gm.Unpack(gotCopy); err != nil {
				t.Fatalf("%s %s %s: wire path response does not unpack: %v", q.name, dns.TypeToString[q.qtype], sh.name, err)
			}
			if err := wm.Unpack(want); err != nil {
				t.Fatalf("%s %s %s: dns.Msg path response does not unpack: %v", q.name, dns.TypeToString[q.qtype], sh.name, err)
			}
			if wm.Truncated && !gm.Truncated {
				// The dns.Msg path truncates by miekg/dns's estimate
				// of the compressed size; the wire path sends the
				// whole answer when its compressed form fits.
				limit := (&request{edns: sh.edns, udpSize: sh.size}).limit(sh.p)
				if len(gotCopy) > limit || len(gm.Answer) < len(wm.Answer) || len(gm.Ns) < len(wm.Ns) {
					t.Errorf("%s %s %s: wire path sent %d bytes for a limit of %d, or fewer records than the truncated answer", q.name, dns.TypeToString[q.qtype], sh.name, len(gotCopy), limit)
				}
				continue
			}
			if g, w := normalised(&gm), normalised(&wm); g != w {
				t.Errorf("%s %s %s: wire path\n%s\ndns.Msg path\n%s", q.name, dns.TypeToString[q.qtype], sh.name, g, w)
			}
			if gm.Question[0].Name != name {
				t.Errorf("%s %s %s: question %q, want the client's %q", q.name, dns.TypeToString[q.qtype], sh.name, gm.Question[0].Name, name)
			}
		}
	}
	// The wire path must have answered most of them: Bogus answers, EDEs
	// and what needs truncation or padding go the other way.
	total := int64(len(qs) * len(shapes))
	if h := hits.Load(); h < total/2 {
		t.Errorf("wire path answered %d of %d queries, want most", h, total)
	}
	t.Logf("wire path answered %d of %d queries", hits.Load(), total)
}

// wireHitSetup returns a pipeline whose handler has www.alg13.sec. A
// cached, and a query for it as a client with EDNS sends it.
func wireHitSetup(tb testing.TB) (*pipeline, []byte) {
	tb.Helper()
	r := signedResolver(tb)
	q := new(dns.Msg)
	q.SetQuestion("www.alg13.sec.", dns.TypeA)
	q.SetEdns0(1232, false)
	if _, err := r.ServeDNS(context.Background(), q); err != nil {
		tb.Fatal(err)
	}
	q.Id = 0x1234
	raw, err := q.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return newPipeline(Config{Handler: r}), raw
}

// TestWireHitAllocs: a cache hit, from the query's bytes to the response's
// in the reader's scratch buffer, allocates nothing.
func TestWireHitAllocs(t *testing.T) {
	pl, raw := wireHitSetup(t)
	sc := newScratch()
	q := new(dns.Msg)
	var req request
	allocs := testing.AllocsPerRun(1000, func() {
		if _, act := pl.prepare(sc, raw, q, &req, protoUDP, true); act != actReply {
			t.Fatalf("prepare: action %d, want a reply", act)
		}
	})
	if allocs != 0 {
		t.Errorf("wire hit allocs = %v, want 0", allocs)
	}
}

// BenchmarkWireHit is the listener's work for a cache hit over UDP,
// sockets aside: the wire path, and the dns.Msg path it replaces.
func BenchmarkWireHit(b *testing.B) {
	pl, raw := wireHitSetup(b)
	slow := newPipeline(Config{Handler: slowOnly{pl.handler.(*resolver.Resolver)}})
	// guarded: a rate limit (never reached) and server cookies on, as a
	// public resolver runs; the query carries no cookie.
	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 1e9})
	if err != nil {
		b.Fatal(err)
	}
	guarded := newPipeline(Config{Handler: pl.handler, Cookies: cookie.NewKeeper(cookie.NewServer(guardSecret)), RateLimit: limiter})
	client := netip.MustParseAddr("192.0.2.7")
	for _, bc := range []struct {
		name string
		pl   *pipeline
	}{{"wire", pl}, {"wire-guarded", guarded}, {"msg", slow}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				sc := newScratch()
				q := new(dns.Msg)
				var req request
				for pb.Next() {
					if _, act := bc.pl.prepareFrom(sc, raw, q, &req, protoUDP, client, true); act != actReply {
						b.Error("miss")
						return
					}
				}
			})
		})
	}
}

// TestWireHitGuard: with DNS cookies on, the wire path answers queries
// without a COOKIE option and leaves the others to the guard, whose
// answer carries a server cookie; with a rate limit on it answers the
// queries within the limit, and the limit sees every query once.
func TestWireHitGuard(t *testing.T) {
	r := signedResolver(t)
	q := query("www.alg13.sec.", dns.TypeA, true, 1232, false)
	if _, err := r.ServeDNS(context.Background(), q.Copy()); err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("127.0.0.7")
	var hits atomic.Int64
	pl := newPipeline(Config{Handler: countingWire{r, &hits}, Cookies: cookie.NewKeeper(cookie.NewServer(guardSecret))})
	if got := guardOutcome(t, pl, client, q.Copy()); got == nil || got.Rcode != dns.RcodeSuccess || len(got.Answer) == 0 || hits.Load() != 1 {
		t.Errorf("no cookie: %v, wire hits %d; want an answer from the wire path", got, hits.Load())
	}
	got := guardOutcome(t, pl, client, withCookie(q.Copy(), "0102030405060708"))
	if got == nil || respCookie(got) == nil || len(got.Answer) == 0 || hits.Load() != 1 {
		t.Errorf("client cookie: %v, wire hits %d; want the guard's answer with a server cookie", got, hits.Load())
	}
	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	limited := newPipeline(Config{Handler: countingWire{r, &hits}, RateLimit: limiter})
	if got := guardOutcome(t, limited, client, q.Copy()); got == nil || len(got.Answer) == 0 || hits.Load() != 2 {
		t.Errorf("rate limit, within it: %v, wire hits %d; want an answer from the wire path", got, hits.Load())
	}
	// Over the limit, the wire path answers nothing: the query is
	// dropped or slips, and the limit counts it once (drop, slip, drop,
	// slip with Slip 2, as for the dns.Msg path).
	tight, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 0.001, Burst: 1, Slip: 2})
	if err != nil {
		t.Fatal(err)
	}
	over := newPipeline(Config{Handler: countingWire{r, &hits}, RateLimit: tight})
	if got := guardOutcome(t, over, client, q.Copy()); got == nil || len(got.Answer) == 0 || hits.Load() != 3 {
		t.Fatalf("rate limit, first query: %v, wire hits %d; want an answer from the wire path", got, hits.Load())
	}
	var slips, drops int
	for range 4 {
		switch got := guardOutcome(t, over, client, q.Copy()); {
		case got == nil:
			drops++
		case got.Truncated && len(got.Answer) == 0:
			slips++
		default:
			t.Fatalf("over the limit: %v; want nothing or TC=1 without records", got)
		}
	}
	if slips != 2 || drops != 2 || hits.Load() != 3 {
		t.Errorf("over the limit: %d slips, %d drops, wire hits %d; want 2, 2 and 3", slips, drops, hits.Load())
	}
}
