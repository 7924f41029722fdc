//go:build !noquic

package upstream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// rawDoT is a hand-written DoT peer for faults hush's own server never
// makes: serve runs for each connection with its index (from 0).
func rawDoT(t *testing.T, c testCert, serve func(conn net.Conn, n int)) netip.AddrPort {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS(c))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serve(conn, n)
			}()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}

// readQ reads one framed query.
func readQ(conn net.Conn) (*dns.Msg, error) {
	raw, err := readFrame(conn, nil)
	if err != nil {
		return nil, err
	}
	q := new(dns.Msg)
	return q, q.Unpack(raw)
}

// answer writes the zone's reply to q.
func answer(conn net.Conn, q *dns.Msg) error {
	r, _ := (&zone{}).ServeDNS(context.Background(), q)
	wire, err := r.Pack()
	if err != nil {
		return err
	}
	_, err = conn.Write(frame(wire))
	return err
}

// TestDoTDiedWhileIdle: the server answers the first query, then closes
// the connection when the next one arrives (it had closed it while idle,
// as far as that query is concerned). The query goes once more on a new
// connection, and the caller sees an answer.
func TestDoTDiedWhileIdle(t *testing.T) {
	c := newCert(t)
	addr := rawDoT(t, c, func(conn net.Conn, n int) {
		for i := 0; ; i++ {
			q, err := readQ(conn)
			if err != nil {
				return
			}
			if n == 0 && i == 1 {
				return // close without answering
			}
			answer(conn, q)
		}
	})
	u := mustUp(t, "tls://"+addr.String()+"?pin="+c.pin, Options{})
	for i := range 3 {
		if _, err := ask(t, u, "www.test"); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	if d := u.(StatsReporter).Stats().Dials; d != 2 {
		t.Errorf("dials: got %d, want 2", d)
	}
}

// TestDoTDiesMidConnection: a server that closes every connection with
// the query unanswered is an error, not a hang, and a pool moves on.
func TestDoTDiesMidConnection(t *testing.T) {
	c := newCert(t)
	dying := rawDoT(t, c, func(conn net.Conn, n int) { readQ(conn) })
	u := mustUp(t, "tls://"+dying.String()+"?pin="+c.pin, Options{})
	if _, err := ask(t, u, "www.test"); !errors.Is(err, ErrConnLost) {
		t.Errorf("got %v, want ErrConnLost", err)
	}
	z := &zone{}
	good := startDoT(t, tconfig(z), c)
	var log logBuf
	p, err := NewPool([]Upstream{
		mustUp(t, "tls://"+dying.String()+"?pin="+c.pin, Options{}),
		mustUp(t, "tls://"+good.String()+"?pin="+c.pin, Options{}),
	}, Strict, 0, Options{Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ask(t, p, "secret-name.test")
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("pool: got %v, %v; want the second upstream's answer", r, err)
	}
	lines := log.get()
	if len(lines) != 1 || !strings.Contains(lines[0], dying.String()) || strings.Contains(lines[0], "secret") {
		t.Errorf("log: got %q, want one line naming the dying upstream and no query", lines)
	}
}

// TestDoTMalformedFrame: a frame too short for a DNS header ends the
// connection with an error; a frame that does not parse fails only its
// query.
func TestDoTMalformedFrame(t *testing.T) {
	c := newCert(t)
	short := rawDoT(t, c, func(conn net.Conn, n int) {
		readQ(conn)
		conn.Write([]byte{0, 3, 1, 2, 3})
		readQ(conn)
	})
	u := mustUp(t, "tls://"+short.String()+"?pin="+c.pin, Options{})
	if _, err := ask(t, u, "www.test"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short frame: got %v, want ErrMalformed", err)
	}
	junk := rawDoT(t, c, func(conn net.Conn, n int) {
		for {
			q, err := readQ(conn)
			if err != nil {
				return
			}
			if q.Question[0].Name == "junk.test." {
				b := make([]byte, 40)
				binary.BigEndian.PutUint16(b, q.Id)
				b[5] = 9 // nine questions that are not there
				conn.Write(frame(b))
				continue
			}
			answer(conn, q)
		}
	})
	u = mustUp(t, "tls://"+junk.String()+"?pin="+c.pin, Options{})
	if _, err := ask(t, u, "junk.test"); !errors.Is(err, ErrMalformed) {
		t.Errorf("junk reply: got %v, want ErrMalformed", err)
	}
	if _, err := ask(t, u, "www.test"); err != nil {
		t.Errorf("after a junk reply: %v; want the connection still usable", err)
	}
	if d := u.(StatsReporter).Stats().Dials; d != 1 {
		t.Errorf("dials: got %d, want 1", d)
	}
}

// TestDoTOutOfOrder: replies come back in the reverse order of the
// queries on one connection and each reaches its caller.
func TestDoTOutOfOrder(t *testing.T) {
	c := newCert(t)
	const n = 8
	addr := rawDoT(t, c, func(conn net.Conn, _ int) {
		var qs []*dns.Msg
		for range n {
			q, err := readQ(conn)
			if err != nil {
				return
			}
			qs = append(qs, q)
		}
		for i := len(qs) - 1; i >= 0; i-- {
			answer(conn, qs[i])
		}
		for {
			if _, err := readQ(conn); err != nil {
				return
			}
		}
	})
	u := mustUp(t, "tls://"+addr.String()+"?pin="+c.pin, Options{})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := string(rune('a'+i)) + ".test."
			r, err := ask(t, u, name)
			if err != nil || len(r.Answer) != 1 || r.Answer[0].Header().Name != name {
				bad.Add(1)
				t.Errorf("%s: got %v, %v", name, r, err)
			}
		}()
	}
	wg.Wait()
	if d := u.(StatsReporter).Stats().Dials; d != 1 {
		t.Errorf("dials: got %d, want 1", d)
	}
}

// TestIdleCloseAndResume: hush's DoT server closes idle connections after
// a short time and says so with edns-tcp-keepalive; the client closes
// first, opens a new connection on demand and resumes the TLS session.
// A server that closes without announcing anything is followed too.
func TestIdleCloseAndResume(t *testing.T) {
	c := newCert(t)
	z := &zone{}
	cfg := tconfig(z)
	cfg.IdleTimeout = 500 * time.Millisecond
	announced := startDoT(t, cfg, c)
	silent := rawDoT(t, c, func(conn net.Conn, _ int) {
		if q, err := readQ(conn); err == nil {
			answer(conn, q)
		}
	})
	for name, addr := range map[string]netip.AddrPort{"announced": announced, "silent": silent} {
		t.Run(name, func(t *testing.T) {
			u := mustUp(t, "tls://"+addr.String()+"?pin="+c.pin, Options{IdleTimeout: time.Minute})
			d := u.(*dot)
			for i := range 3 {
				if _, err := ask(t, u, "www.test"); err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				d.mu.Lock()
				conn := d.conn
				d.mu.Unlock()
				select {
				case <-conn.done:
				case <-time.After(10 * time.Second):
					t.Fatalf("query %d: the connection is still open after 10 s", i)
				}
			}
			st := d.Stats()
			if st.Dials != 3 || st.Resumed < 2 {
				t.Errorf("got %+v, want 3 dials, 2 of them resumed", st)
			}
		})
	}
}

// TestDoQZeroRTTRejected: a DoQ server that restarts with new session
// ticket keys rejects the 0-RTT the client tries with its old ticket; the
// query is sent again at 1-RTT on the same connection.
func TestDoQZeroRTTRejected(t *testing.T) {
	skipUnderRace(t)
	c := newCert(t)
	z := &zone{}
	addr, srv := startDoQ(t, tconfig(z), c, nil)
	u := mustUp(t, "quic://"+addr.String()+"?pin="+c.pin, Options{})
	d := u.(*doq)
	if _, err := ask(t, u, "www.test"); err != nil {
		t.Fatal(err)
	}
	// Let the session ticket arrive, then start afresh with it: 0-RTT.
	d.mu.Lock()
	conn := d.conn
	d.mu.Unlock()
	waitTicket(t, d, conn)
	d.drop(conn)
	if _, err := ask(t, u, "www.test"); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	conn = d.conn
	d.mu.Unlock()
	<-conn.HandshakeComplete()
	if !conn.ConnectionState().Used0RTT {
		t.Errorf("second connection: 0-RTT not used")
	}
	waitTicket(t, d, conn)
	d.drop(conn)
	shutdown(srv.Shutdown)
	pc, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		t.Skipf("cannot bind %s again: %v", addr, err)
	}
	startDoQ(t, tconfig(z), c, pc) // a new tls.Config: new ticket keys
	if _, err := ask(t, u, "www.test"); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if n := d.rejected.Load(); n != 1 {
		t.Errorf("0-RTT rejections seen: %d, want 1", n)
	}
}

// waitTicket waits until the session cache holds a ticket for conn's
// server (quic-go delivers it after the handshake).
func waitTicket(t *testing.T, d *doq, conn *quic.Conn) {
	t.Helper()
	<-conn.HandshakeComplete()
	key := d.conf.ServerName
	deadline := time.Now().Add(10 * time.Second)
	for {
		if cs, ok := d.conf.ClientSessionCache.Get(key); ok && cs != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session ticket after 10 s")
		}
		// A round trip gives the server's NewSessionTicket time to
		// arrive; the ticket is put in the cache before this returns.
		ask(t, d, "www.test")
	}
}

// TestDoHMalformedAndStatus: a DoH server that answers junk or an HTTP
// error is a failed exchange.
func TestDoHMalformedAndStatus(t *testing.T) {
	c := newCert(t)
	tests := []struct {
		name string
		h    http.HandlerFunc
		want error
	}{
		{"junk", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", dnsMessage)
			w.Write([]byte("not a DNS message at all"))
		}, ErrMalformed},
		{"wrong type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write(make([]byte, 40))
		}, ErrMalformed},
		{"status", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadGateway) }, errHTTPStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := httptest.NewUnstartedServer(tt.h)
			s.EnableHTTP2 = true
			s.TLS = serverTLS(c)
			s.StartTLS()
			t.Cleanup(s.Close)
			u := mustUp(t, "https://"+s.Listener.Addr().String()+"/dns-query?pin="+c.pin, Options{})
			if _, err := ask(t, u, "www.test"); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRefusingUpstream: an upstream that answers REFUSED is passed over
// for the next one and held down.
func TestRefusingUpstream(t *testing.T) {
	c := newCert(t)
	bad, good := &zone{}, &zone{}
	bad.refuse.Store(true)
	refusing := startDoT(t, tconfig(bad), c)
	working := startDoT(t, tconfig(good), c)
	p, err := NewPool([]Upstream{
		mustUp(t, "tls://"+refusing.String()+"?pin="+c.pin, Options{}),
		mustUp(t, "tls://"+working.String()+"?pin="+c.pin, Options{}),
	}, Strict, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r, err := ask(t, p, "www.test")
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("query %d: got %v, %v; want the working upstream's answer", i, r, err)
		}
	}
	if n := bad.queries.Load(); n != 1 {
		t.Errorf("the refusing upstream was asked %d times, want once (then held down)", n)
	}
}

// TestDoHServerClosedConnection: the server drops its connections
// without a GOAWAY between two queries; the second query still gets an
// answer, on a new connection (net/http's own detection or the one
// retry of a query that failed on a reused connection).
func TestDoHServerClosedConnection(t *testing.T) {
	c := newCert(t)
	z := &zone{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 512)
		n, _ := r.Body.Read(body)
		q := new(dns.Msg)
		if err := q.Unpack(body[:n]); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		m, _ := z.ServeDNS(r.Context(), q)
		wire, _ := m.Pack()
		w.Header().Set("Content-Type", dnsMessage)
		w.Write(wire)
	})
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.TLS = serverTLS(c)
	s.StartTLS()
	t.Cleanup(s.Close)
	u := mustUp(t, "https://"+s.Listener.Addr().String()+"/dns-query?pin="+c.pin, Options{})
	for i := range 3 {
		if _, err := ask(t, u, "www.test"); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		s.CloseClientConnections()
	}
	if d := u.(StatsReporter).Stats().Dials; d != 3 {
		t.Errorf("dials: got %d, want 3", d)
	}
}

// TestDoHAltSvc: a DoH server that offers h3 with Alt-Svc on its own
// address gets the next queries over HTTP/3.
func TestDoHAltSvc(t *testing.T) {
	c := newCert(t)
	z := &zone{}
	addr := startDoH(t, tconfig(z), c, true)
	u := mustUp(t, "https://"+addr.String()+"/dns-query?pin="+c.pin, Options{})
	if _, err := ask(t, u, "www.test"); err != nil {
		t.Fatal(err)
	}
	d := u.(*doh)
	d.h3mu.Lock()
	h3 := d.h3url
	d.h3mu.Unlock()
	if h3 == "" {
		t.Fatal("no HTTP/3 after a response with Alt-Svc h3")
	}
	if _, err := ask(t, u, "www2.test"); err != nil {
		t.Fatalf("over HTTP/3: %v", err)
	}
	if st := d.Stats(); st.Dials != 2 {
		t.Errorf("dials: got %d, want 2 (one TCP, one QUIC)", st.Dials)
	}
}

func TestAltSvcParse(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		v    string
		port uint16
		ok   bool
	}{
		{`h3=":443"; ma=86400`, 443, true},
		{`h2=":443", h3=":8443"`, 8443, true},
		{`h3="192.0.2.1:853"`, 853, true},
		{`h3="dns.example:443"`, 0, false},
		{`h3="192.0.2.2:443"`, 0, false},
		{`clear`, 0, false},
		{`h3-29=":443"`, 0, false},
	}
	for _, tt := range tests {
		port, ok := altSvcH3(tt.v, a)
		if port != tt.port || ok != tt.ok {
			t.Errorf("altSvcH3(%q) = %d, %v; want %d, %v", tt.v, port, ok, tt.port, tt.ok)
		}
	}
}
