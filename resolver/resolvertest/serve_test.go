package resolvertest

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestServe(t *testing.T) {
	n := defaultNet(t)
	before := runtime.NumGoroutine()
	srv, err := n.Serve(context.Background(), 0)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	addr := func(a string) string { return netip.AddrPortFrom(netip.MustParseAddr(a), srv.Port()).String() }
	udp := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	tcp := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}

	tests := []struct {
		name    string
		c       *dns.Client
		server  string
		q       *dns.Msg
		rcode   int
		tc      bool
		answers int
	}{
		{"udp answer", udp, "127.53.10.1", query("www.plain.example.", dns.TypeA, 1232), dns.RcodeSuccess, false, 1},
		{"tcp answer", tcp, "127.53.10.2", query("alias.plain.example.", dns.TypeA, 0), dns.RcodeSuccess, false, 3},
		{"udp referral", udp, "127.53.0.1", query("www.plain.example.", dns.TypeA, 1232), dns.RcodeSuccess, false, 0},
		{"udp REFUSED", udp, "127.53.13.1", query("www.lame.example.", dns.TypeA, 0), dns.RcodeRefused, false, 0},
		{"udp truncates big TXT", udp, "127.53.16.1", query("txt.big.example.", dns.TypeTXT, 1232), dns.RcodeSuccess, true, 0},
		{"tcp carries big TXT", tcp, "127.53.16.1", query("txt.big.example.", dns.TypeTXT, 1232), dns.RcodeSuccess, false, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := tc.c.Exchange(tc.q, addr(tc.server))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if r.Id != tc.q.Id {
				t.Errorf("ID = %d, want %d", r.Id, tc.q.Id)
			}
			if got, want := r.Rcode, tc.rcode; got != want {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[got], dns.RcodeToString[want])
			}
			if got, want := r.Truncated, tc.tc; got != want {
				t.Errorf("TC = %v, want %v", got, want)
			}
			if got, want := len(r.Answer), tc.answers; got != want {
				t.Errorf("answers = %d, want %d", got, want)
			}
		})
	}

	t.Run("several queries on one tcp connection", func(t *testing.T) {
		conn, err := tcp.Dial(addr("127.53.15.1"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i, name := range []string{"a.wild.example.", "b.wild.example.", "host.wild.example."} {
			q := query(name, dns.TypeA, 0)
			q.Id = uint16(100 + i)
			if err := conn.WriteMsg(q); err != nil {
				t.Fatal(err)
			}
			r, err := conn.ReadMsg()
			if err != nil {
				t.Fatal(err)
			}
			if r.Id != q.Id || len(r.Answer) != 1 {
				t.Errorf("query %d: ID %d, %d answers; want ID %d, 1 answer", i, r.Id, len(r.Answer), q.Id)
			}
		}
	})

	t.Run("faults apply on sockets", func(t *testing.T) {
		a := netip.MustParseAddr("127.53.11.1")
		n.SetFault(a, Fault{ServFail: true})
		defer n.SetFault(a, Fault{})
		r, _, err := udp.Exchange(query("a.chain.example.", dns.TypeA, 0), addr(a.String()))
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeServerFailure {
			t.Errorf("rcode = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
		}
	})

	t.Run("queries are logged", func(t *testing.T) {
		if got := n.Queries(netip.MustParseAddr("127.53.16.1")); got < 2 {
			t.Errorf("Queries(big) = %d, want at least 2", got)
		}
	})

	// A dropped query is still pending when Close runs: Close must end it.
	drop := netip.MustParseAddr("127.53.12.1")
	n.SetFault(drop, Fault{Drop: true})
	conn, err := tcp.Dial(addr(drop.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteMsg(query("b.other.test.", dns.TypeA, 0)); err != nil {
		t.Fatal(err)
	}
	for n.Queries(drop) == 0 {
		runtime.Gosched() // wait for the server to hold the query
	}

	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := conn.ReadMsg(); err == nil {
		t.Errorf("dropped query got a reply")
	}
	conn.Close()
	if _, _, err := (&dns.Client{Net: "tcp", Timeout: time.Second}).Exchange(query("www.plain.example.", dns.TypeA, 0), addr("127.53.10.1")); err == nil {
		t.Errorf("server still answers after Close")
	}
	waitGoroutines(t, before)
}

func TestServeStopsWithContext(t *testing.T) {
	n := defaultNet(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := n.Serve(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	srv.Close() // returns once every goroutine is gone
	waitGoroutines(t, before)
}

func TestServeFixedPortInUse(t *testing.T) {
	n := defaultNet(t)
	a, err := n.Serve(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b, err := n.Serve(context.Background(), a.Port()); err == nil {
		b.Close()
		t.Errorf("second Serve on port %d: no error", a.Port())
	}
}

// waitGoroutines fails the test if the goroutine count does not come back
// to at most want. Exiting goroutines take a moment to be unscheduled, so
// it retries for a while.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}
