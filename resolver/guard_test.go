package resolver

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

// guardServer is an authority for the guard's tests: it answers every
// query with an A record owned by the question name, echoing the question
// as told by its knobs, over both networks.
type guardServer struct {
	fold       bool // lowercases the question
	spoofUDP   bool // UDP answers come from an off-path forger: case and cookie guessed
	cookies    bool // echoes the client cookie with a server cookie
	badCookie  int  // answers BADCOOKIE this many times first
	dropCookie bool // stops sending cookies (after the first answer)
	log        []string
	sentNames  []string
}

func (s *guardServer) Exchange(_ context.Context, network string, _ netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	s.log = append(s.log, network)
	s.sentNames = append(s.sentNames, q.Question[0].Name)
	r := new(dns.Msg)
	r.SetReply(q)
	if s.fold || (s.spoofUDP && network == "udp") {
		r.Question[0].Name = strings.ToLower(r.Question[0].Name)
		if s.spoofUDP {
			r.Question[0].Name = strings.ToUpper(r.Question[0].Name)
		}
	}
	rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A 192.0.2.1")
	r.Answer = []dns.RR{rr}
	if qopt := q.IsEdns0(); qopt != nil {
		r.SetEdns0(1232, false)
		var cc string
		for _, o := range qopt.Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				cc = c.Cookie[:16]
			}
		}
		if s.spoofUDP && network == "udp" {
			cc = "0000000000000000"
		}
		switch {
		case cc == "" || !s.cookies:
		case s.dropCookie && len(s.log) > 1:
		default:
			r.IsEdns0().Option = append(r.IsEdns0().Option,
				&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cc + "0100000011223344aabbccddeeff0011"})
			if s.badCookie > 0 {
				s.badCookie--
				r.Rcode = dns.RcodeBadCookie
				r.Answer = nil
			}
		}
	}
	return r, nil
}

func TestUpstreamGuard(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.53:53")
	const name = "www.example.com."
	for _, tc := range []struct {
		name     string
		srv      guardServer
		noEDNS   bool
		rounds   int      // queries in a row (default 1)
		wantLog  []string // networks used, over all rounds
		wantErr  error
		wantFold bool
	}{
		{name: "honest server", srv: guardServer{cookies: true}, wantLog: []string{"udp"}},
		{name: "honest server without cookies", srv: guardServer{}, rounds: 2, wantLog: []string{"udp", "udp"}},
		{name: "spoofed UDP answer: TCP gets the real one", srv: guardServer{spoofUDP: true}, wantLog: []string{"udp", "tcp"}},
		{name: "spoofed with cookies", srv: guardServer{spoofUDP: true, cookies: true}, wantLog: []string{"udp", "tcp"}},
		{
			name: "case-folding server: TCP proves it, then no 0x20", srv: guardServer{fold: true}, rounds: 2,
			wantLog: []string{"udp", "tcp", "udp"}, wantFold: true,
		},
		{name: "BADCOOKIE retried once", srv: guardServer{cookies: true, badCookie: 1}, wantLog: []string{"udp", "udp"}},
		{name: "BADCOOKIE twice goes to TCP", srv: guardServer{cookies: true, badCookie: 2}, wantLog: []string{"udp", "udp", "tcp"}},
		{
			name: "cookie missing from a cookie server: TCP", srv: guardServer{cookies: true, dropCookie: true}, rounds: 2,
			wantLog: []string{"udp", "udp", "tcp"},
		},
		{name: "no EDNS, no cookie", srv: guardServer{cookies: true}, noEDNS: true, rounds: 2, wantLog: []string{"udp", "udp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var secret [16]byte
			g := &upstreamGuard{jar: cookie.NewJarSecret(secret, 0), random: true}
			srv := tc.srv
			now := time.Unix(1e9, 0)
			for range max(1, tc.rounds) {
				q := new(dns.Msg)
				q.SetQuestion(name, dns.TypeA)
				if !tc.noEDNS {
					q.SetEdns0(1232, false)
				}
				resp, err := g.exchange(context.Background(), &srv, "udp", server, q, now)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v; want %v", err, tc.wantErr)
				}
				if err != nil {
					return
				}
				if q.Question[0].Name != name || (q.IsEdns0() != nil && len(q.IsEdns0().Option) != 0) {
					t.Fatalf("the caller's query was modified: %v", q)
				}
				if got := resp.Question[0].Name; got != name {
					t.Errorf("answer's question %q; want %q", got, name)
				}
				if len(resp.Answer) != 1 || resp.Answer[0].Header().Name != name {
					t.Errorf("answer %v; want one record owned by %q", resp.Answer, name)
				}
			}
			if strings.Join(srv.log, ",") != strings.Join(tc.wantLog, ",") {
				t.Errorf("exchanges %v; want %v", srv.log, tc.wantLog)
			}
			if got := g.folds.has(server.Addr(), now); got != tc.wantFold {
				t.Errorf("server remembered as folding: %t; want %t", got, tc.wantFold)
			}
			if tc.wantFold && srv.sentNames[len(srv.sentNames)-1] != name {
				t.Errorf("after folding the name went out as %q; want %q", srv.sentNames[len(srv.sentNames)-1], name)
			}
		})
	}
}

func TestUpstreamGuardSendsCookie(t *testing.T) {
	var secret [16]byte
	jar := cookie.NewJarSecret(secret, 0)
	g := &upstreamGuard{jar: jar, random: true}
	srv := &guardServer{cookies: true}
	server := netip.MustParseAddrPort("192.0.2.53:53")
	var sent []string
	for range 2 {
		q := new(dns.Msg)
		q.SetQuestion("example.com.", dns.TypeA)
		q.SetEdns0(1232, true)
		ex := exchangerFunc(func(ctx context.Context, network string, s netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
			for _, o := range q.IsEdns0().Option {
				if c, ok := o.(*dns.EDNS0_COOKIE); ok {
					sent = append(sent, c.Cookie)
				}
			}
			return srv.Exchange(ctx, network, s, q)
		})
		if _, err := g.exchange(context.Background(), ex, "udp", server, q, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c := jar.Client(server.Addr())
	want0 := hex.EncodeToString(c[:])
	if len(sent) != 2 || sent[0] != want0 || sent[1] != want0+"0100000011223344aabbccddeeff0011" {
		t.Errorf("cookies sent %q; want the client cookie, then it with the server cookie learned", sent)
	}
}

type exchangerFunc func(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error)

func (f exchangerFunc) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	return f(ctx, network, server, q)
}

func TestRestoreCase(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("ExAmPle.CoM.", dns.TypeNS)
	for _, s := range []string{"ExAmPle.CoM. 300 IN NS ns1.ExAmPle.CoM.", "ns1.ExAmPle.CoM. 300 IN A 192.0.2.1", "other.net. 300 IN A 192.0.2.2", "xExAmPle.CoM. 300 IN A 192.0.2.3"} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	restoreCase(m, "ExAmPle.CoM.", "example.com.")
	var got []string
	for _, rr := range m.Answer {
		got = append(got, rr.Header().Name)
	}
	want := []string{"example.com.", "ns1.example.com.", "other.net.", "xExAmPle.com."} // "CoM." may be a pointer into the question
	if m.Question[0].Name != "example.com." || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after restoreCase: question %q, owners %v; want example.com., %v", m.Question[0].Name, got, want)
	}
	if ns := m.Answer[0].(*dns.NS).Ns; ns != "ns1.example.com." {
		t.Errorf("NS data %q; want ns1.example.com.", ns)
	}
	// A suffix of the question, as compression makes it.
	mx, _ := dns.NewRR("x. 300 IN MX 10 mail.PlAiN.ExAmPle.")
	m2 := new(dns.Msg)
	m2.SetQuestion("wWw.PlAiN.ExAmPle.", dns.TypeMX)
	m2.Answer = []dns.RR{mx}
	restoreCase(m2, "wWw.PlAiN.ExAmPle.", "www.plain.example.")
	if got := mx.(*dns.MX).Mx; got != "mail.plain.example." {
		t.Errorf("MX data %q; want mail.plain.example.", got)
	}
}

// TestZoneRateLimit: queries toward one zone's servers beyond its limit
// fail at once with ErrRateLimited (and send nothing), while cached
// answers are still served.
func TestZoneRateLimit(t *testing.T) {
	zl, err := ratelimit.NewZones(ratelimit.ZoneConfig{QPS: 0.001, Burst: 2, Factor: -1})
	if err != nil {
		t.Fatal(err)
	}
	var sent int
	root := netip.MustParseAddr("198.51.100.1")
	ex := exchangerFunc(func(_ context.Context, _ string, _ netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
		sent++
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		rr, _ := dns.NewRR(q.Question[0].Name + " 300 IN A 192.0.2.1")
		m.Answer = []dns.RR{rr}
		return m, nil
	})
	hints := []dns.RR{
		&dns.NS{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: "k.root-servers.net."},
		&dns.A{Hdr: dns.RR_Header{Name: "k.root-servers.net.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: root.AsSlice()},
	}
	r, err := New(Config{RootHints: hints, Exchanger: ex, AllowUpstream: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		NoQNameMinimisation: true, ZoneRateLimit: zl})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string) error {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		_, err := r.ServeDNS(context.Background(), q)
		return err
	}
	for i, name := range []string{"a.example.", "b.example.", "c.example.", "a.example."} {
		err := ask(name)
		switch i {
		case 0, 1, 3: // under the limit, and a cache hit
			if err != nil {
				t.Errorf("%s: %v; want an answer", name, err)
			}
		case 2:
			var re *Error
			if !errors.Is(err, ErrRateLimited) || !errors.As(err, &re) || re.EDE != EDEOther {
				t.Errorf("%s: %v; want ErrRateLimited with EDE 0", name, err)
			}
		}
	}
	if sent != 2 {
		t.Errorf("%d queries sent; want 2", sent)
	}
}
