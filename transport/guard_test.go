package transport

import (
	"context"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

var guardSecret = cookie.Secret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// guardOutcome runs one UDP query through the pipeline's UDP path as
// client: what was sent back (nil: dropped) and the action.
func guardOutcome(t *testing.T, pl *pipeline, client netip.Addr, q *dns.Msg) *dns.Msg {
	t.Helper()
	sc := newScratch()
	var msg dns.Msg
	var req request
	out, act := pl.prepareFrom(sc, pack(t, q), &msg, &req, protoUDP, client, pl.allowed(client))
	switch act {
	case actDrop:
		return nil
	case actHandle:
		out = pl.finish(context.Background(), sc, &msg, &req, protoUDP)
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("unpack response: %v", err)
	}
	return r
}

func withCookie(q *dns.Msg, hexCookie string) *dns.Msg {
	if q.IsEdns0() == nil {
		q.SetEdns0(1232, false)
	}
	o := q.IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexCookie})
	return q
}

func respCookie(m *dns.Msg) []byte {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if c, ok := e.(*dns.EDNS0_COOKIE); ok {
				b, _ := hex.DecodeString(c.Cookie)
				return b
			}
		}
	}
	return nil
}

func TestGuardCookies(t *testing.T) {
	client := netip.MustParseAddr("127.0.0.7")
	srv := cookie.NewServer(guardSecret)
	pl := newPipeline(Config{Handler: testHandler(t), Cookies: cookie.NewKeeper(srv)})
	for _, tc := range []struct {
		name   string
		cookie string // "" for none
		rcode  int
		reply  bool // a cookie in the answer
	}{
		{"no cookie: answered without one", "", dns.RcodeSuccess, false},
		{"client cookie: answered with a server cookie", "0102030405060708", dns.RcodeSuccess, true},
		{"7 octets: FORMERR", "01020304050607", dns.RcodeFormatError, false},
		{"41 octets: FORMERR", hex.EncodeToString(make([]byte, 41)), dns.RcodeFormatError, false},
		{"foreign server cookie: answered with ours", "0102030405060708" + hex.EncodeToString(make([]byte, 16)), dns.RcodeSuccess, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := query("example.com.", dns.TypeA, true, 1232, false)
			if tc.cookie != "" {
				q = withCookie(q, tc.cookie)
			}
			r := guardOutcome(t, pl, client, q)
			if r == nil || r.Rcode != tc.rcode {
				t.Fatalf("got %v; want rcode %s", r, dns.RcodeToString[tc.rcode])
			}
			got := respCookie(r)
			if (got != nil) != tc.reply {
				t.Fatalf("response cookie %x; want one: %t", got, tc.reply)
			}
			if got == nil {
				return
			}
			if hex.EncodeToString(got[:8]) != tc.cookie[:16] {
				t.Errorf("client cookie echoed as %x; want %s", got[:8], tc.cookie[:16])
			}
			if res := srv.Check(client, got, time.Now(), true); res.Kind != cookie.Valid {
				t.Errorf("the server cookie handed out is judged %v", res.Kind)
			}
		})
	}
}

// TestGuardRateLimit: over the limit, queries are dropped or slip (TC=1,
// or BADCOOKIE with a fresh cookie for a client that sent one); a client
// with a valid server cookie is not limited; other networks are not
// affected.
func TestGuardRateLimit(t *testing.T) {
	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 0.001, Burst: 1, Slip: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := cookie.NewServer(guardSecret)
	pl := newPipeline(Config{Handler: testHandler(t), Cookies: cookie.NewKeeper(srv), RateLimit: limiter})
	attacker := netip.MustParseAddr("127.0.0.7")
	plain := func() *dns.Msg { return query("example.com.", dns.TypeA, true, 1232, false) }

	if r := guardOutcome(t, pl, attacker, plain()); r == nil || len(r.Answer) == 0 {
		t.Fatalf("first query: %v; want an answer", r)
	}
	// Over the limit: drop, slip, drop, slip.
	var slips, drops int
	for range 4 {
		r := guardOutcome(t, pl, attacker, plain())
		switch {
		case r == nil:
			drops++
		case r.Truncated && len(r.Answer) == 0 && r.Rcode == dns.RcodeSuccess:
			slips++
		default:
			t.Fatalf("over the limit: %v; want nothing or TC=1 without records", r)
		}
	}
	if slips != 2 || drops != 2 {
		t.Errorf("over the limit: %d slips, %d drops; want 2 and 2", slips, drops)
	}
	// A client that sends a cookie slips into BADCOOKIE with one.
	var bad *dns.Msg
	for range 2 {
		if r := guardOutcome(t, pl, attacker, withCookie(plain(), "0102030405060708")); r != nil {
			bad = r
		}
	}
	if bad == nil || bad.Rcode != dns.RcodeBadCookie || len(bad.Answer) != 0 || respCookie(bad) == nil {
		t.Fatalf("slip with a client cookie: %v; want BADCOOKIE with a cookie", bad)
	}
	// With the cookie it was given, the client is exempt.
	valid := hex.EncodeToString(respCookie(bad))
	for i := range 3 {
		r := guardOutcome(t, pl, attacker, withCookie(plain(), valid))
		if r == nil || len(r.Answer) == 0 || r.Truncated {
			t.Fatalf("query %d with a valid cookie: %v; want the answer", i, r)
		}
	}
	// Another network is not affected.
	if r := guardOutcome(t, pl, netip.MustParseAddr("127.0.1.1"), plain()); r == nil || len(r.Answer) == 0 {
		t.Errorf("another /24: %v; want an answer", r)
	}
}

// TestGuardStreamsUntouched: the stream listeners neither limit nor speak
// cookies (their handshake proves the address).
func TestGuardStreamsUntouched(t *testing.T) {
	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 0.001, Burst: 1, Slip: -1})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startTCP(t, Config{Handler: testHandler(t), Cookies: cookie.NewKeeper(cookie.NewServer(guardSecret)), RateLimit: limiter})
	for i := range 3 {
		r := exchange(t, "tcp", addr, withCookie(query("example.com.", dns.TypeA, true, 1232, false), "0102030405060708"))
		if len(r.Answer) != 1 || respCookie(r) != nil {
			t.Fatalf("TCP query %d: %v; want the answer, without a cookie", i, r)
		}
	}
}

// TestGuardUDPServer: the same through a real socket.
func TestGuardUDPServer(t *testing.T) {
	srv := cookie.NewServer(guardSecret)
	addr, _ := startUDP(t, Config{Handler: testHandler(t), Cookies: cookie.NewKeeper(srv)})
	r := exchange(t, "udp", addr, withCookie(query("example.com.", dns.TypeA, true, 1232, false), "0102030405060708"))
	if got := respCookie(r); got == nil || srv.Check(netip.MustParseAddr("127.0.0.1"), got, time.Now(), true).Kind != cookie.Valid {
		t.Errorf("cookie over a real socket: %x; want a valid one", got)
	}
}

// TestGuardedHitAllocs: the guard (rate limit on, cookies on) adds no
// allocation to a cache hit without a cookie, and only the packing of
// the answer's COOKIE option to one with. (A query with any EDNS option
// costs miekg/dns's unpacking of it, with or without the guard.)
func TestGuardedHitAllocs(t *testing.T) {
	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	plain := newPipeline(Config{Handler: newCacheHandler(t)})
	guarded := newPipeline(Config{Handler: newCacheHandler(t), Cookies: cookie.NewKeeper(cookie.NewServer(guardSecret)), RateLimit: limiter})
	client := netip.MustParseAddr("127.0.0.1")
	allocs := func(pl *pipeline, m *dns.Msg) float64 {
		raw := pack(t, m)
		sc := newScratch()
		q := new(dns.Msg)
		var req request
		return testing.AllocsPerRun(1000, func() {
			if _, act := pl.prepareFrom(sc, raw, q, &req, protoUDP, client, true); act != actReply {
				t.Fatalf("got action %d, want actReply", act)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		q     func() *dns.Msg
		extra float64 // allocations the guard may add
	}{
		{"no cookie", func() *dns.Msg { return query("www.example.com.", dns.TypeA, true, 1232, false) }, 0},
		// The answer's COOKIE option: miekg/dns copies option data
		// when it packs an OPT record.
		{"client cookie", func() *dns.Msg {
			return withCookie(query("www.example.com.", dns.TypeA, true, 1232, false), "0102030405060708")
		}, 3},
	} {
		p, g := allocs(plain, tc.q()), allocs(guarded, tc.q())
		t.Logf("%s: allocations per hit %.1f, guarded %.1f", tc.name, p, g)
		if g > p+tc.extra {
			t.Errorf("%s: the guard adds %.1f allocations per hit; want at most %.0f", tc.name, g-p, tc.extra)
		}
	}
}

// BenchmarkGuardedHit compares a UDP cache hit through the pipeline with
// and without the guard (rate limit on but never reached; cookies on).
func BenchmarkGuardedHit(b *testing.B) {
	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 1e9})
	if err != nil {
		b.Fatal(err)
	}
	plain := newPipeline(Config{Handler: newCacheHandler(b)})
	guarded := newPipeline(Config{Handler: newCacheHandler(b), Cookies: cookie.NewKeeper(cookie.NewServer(guardSecret)), RateLimit: limiter})
	client := netip.MustParseAddr("127.0.0.1")
	for _, bc := range []struct {
		name string
		pl   *pipeline
		q    *dns.Msg
	}{
		{"plain", plain, query("www.example.com.", dns.TypeA, true, 1232, false)},
		{"guarded", guarded, query("www.example.com.", dns.TypeA, true, 1232, false)},
		{"guarded-cookie", guarded, withCookie(query("www.example.com.", dns.TypeA, true, 1232, false), "0102030405060708")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			raw := pack(b, bc.q)
			sc := newScratch()
			q := new(dns.Msg)
			var req request
			b.ReportAllocs()
			for b.Loop() {
				bc.pl.prepareFrom(sc, raw, q, &req, protoUDP, client, true)
			}
		})
	}
}
