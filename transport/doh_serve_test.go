//go:build !noquic

package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

func TestDoHRefusesOutsideACL(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t), AllowClients: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, DoHOptions{})
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			req := newReq(t, http.MethodPost, ts.url, mediaDNSMessage, pack(t, query("example.com.", dns.TypeA, true, 1232, false)))
			// A forwarded-for header claiming an allowed address counts
			// for nothing.
			req.Header.Set("X-Forwarded-For", "192.0.2.1")
			req.Header.Set("Forwarded", "for=192.0.2.1")
			resp, body := doRequest(t, ts.client(t, proto), req)
			var r dns.Msg
			if err := r.Unpack(body); err != nil || resp.StatusCode != 200 {
				t.Fatalf("got %d, %v; want 200 and a DNS answer", resp.StatusCode, err)
			}
			var ede uint16
			if opt := r.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if e, ok := o.(*dns.EDNS0_EDE); ok {
						ede = e.InfoCode
					}
				}
			}
			if r.Rcode != dns.RcodeRefused || ede != dns.ExtendedErrorCodeProhibited {
				t.Errorf("got %s, EDE %d; want REFUSED, EDE 18", dns.RcodeToString[r.Rcode], ede)
			}
		})
	}
}

// TestDoHShutdownFinishesInFlight starts a query that the handler holds,
// shuts the server down, and checks that the query is still answered and
// that Shutdown then returns nil.
func TestDoHShutdownFinishesInFlight(t *testing.T) {
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			checkLeaks(t)
			h := &orderHandler{entered: make(chan string, 1), release: make(chan struct{})}
			l, pc := listenSamePort(t)
			defer pc.Close()
			sc, cc := testCert(t)
			cc.NextProtos = nil
			s := NewDoHServer(Config{Handler: h}, sc, DoHOptions{})
			served := make(chan error, 2)
			go func() { served <- s.Serve(l) }()
			go func() { served <- s.ServeQUIC(pc) }()
			ts := &dohTestServer{s: s, cc: cc, url: fmt.Sprintf("https://%s%s", l.Addr(), DefaultDoHPath)}
			c := ts.client(t, proto)

			type result struct {
				status int
				msg    *dns.Msg
				err    error
			}
			got := make(chan result, 1)
			go func() {
				raw, _ := query("first.example.", dns.TypeTXT, false, 0, false).Pack()
				resp, err := c.Post(ts.url, mediaDNSMessage, bytes.NewReader(raw))
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				m := new(dns.Msg)
				got <- result{status: resp.StatusCode, msg: m, err: m.Unpack(body)}
			}()
			<-h.entered
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(ctx) }()
			// A new connection is refused while the query waits.
			if conn, err := tls.Dial("tcp", l.Addr().String(), cc); err == nil {
				conn.Close()
			}
			close(h.release)
			r := <-got
			if r.err != nil || r.status != 200 || len(r.msg.Answer) != 1 {
				t.Fatalf("in-flight query: got %d, %v, %v; want 200 and an answer", r.status, r.msg, r.err)
			}
			if proto == "h3" {
				// quic-go's client closes after GOAWAY once its
				// request is answered; ours does it now.
				c.Transport.(*http3.Transport).Close()
			} else {
				c.Transport.(*http.Transport).CloseIdleConnections()
			}
			if err := <-shut; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			for range 2 {
				if err := <-served; !errors.Is(err, ErrServerClosed) {
					t.Errorf("Serve: got %v, want ErrServerClosed", err)
				}
			}
		})
	}
}

// TestDoHShutdownTimeout checks that a Shutdown that runs out of time
// cancels the handler and reports it.
func TestDoHShutdownTimeout(t *testing.T) {
	checkLeaks(t)
	l, pc := listenSamePort(t)
	defer pc.Close()
	sc, cc := testCert(t)
	cc.NextProtos = nil
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	s := NewDoHServer(Config{Handler: h}, sc, DoHOptions{})
	served := make(chan error, 2)
	go func() { served <- s.Serve(l) }()
	go func() { served <- s.ServeQUIC(pc) }()
	ts := &dohTestServer{s: s, cc: cc, url: fmt.Sprintf("https://%s%s", l.Addr(), DefaultDoHPath)}
	c := ts.client(t, "h2")
	go func() {
		raw, _ := query("slow.example.", dns.TypeA, false, 0, false).Pack()
		if resp, err := c.Post(ts.url, mediaDNSMessage, bytes.NewReader(raw)); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: got %v, want context.Canceled", err)
	}
	<-cancelled
	for range 2 {
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v, want ErrServerClosed", err)
		}
	}
}

// TestDoHClientGoesAway checks that the handler's context ends when the
// client cancels its request or closes its connection.
func TestDoHClientGoesAway(t *testing.T) {
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			checkLeaks(t)
			entered := make(chan struct{}, 1)
			cancelled := make(chan struct{}, 1)
			h := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
				entered <- struct{}{}
				<-ctx.Done()
				cancelled <- struct{}{}
				return nil, ctx.Err()
			})
			ts := startDoH(t, Config{Handler: h}, DoHOptions{})
			c := ts.client(t, proto)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				req := newReq(t, http.MethodPost, ts.url, mediaDNSMessage, pack(t, query("slow.example.", dns.TypeA, false, 0, false)))
				if resp, err := c.Do(req.WithContext(ctx)); err == nil {
					resp.Body.Close()
				}
			}()
			<-entered
			cancel()
			<-cancelled
			<-done
		})
	}
}

// TestDoHConnectionCaps checks the per-client cap on TCP and QUIC: the
// connection over it is closed at once, and a slot freed is usable again.
func TestDoHConnectionCaps(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{MaxConnsPerClient: 1})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	cc := ts.cc.Clone()
	cc.NextProtos = []string{"h2"}
	first, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	if second, err := tls.Dial("tcp", addr, cc); err == nil {
		second.Close()
		t.Errorf("second TCP connection from one client: handshake succeeded; want it closed")
	}
	// QUIC counts against the same cap.
	qcc := ts.cc.Clone()
	qcc.NextProtos = []string{http3.NextProtoH3}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// The server closes the connection as soon as its handshake is
	// complete. DialAddr picks at random between a completed handshake
	// and the close when both are there by the time it looks (a loaded
	// machine), so the close may come back as DialAddr's error.
	qc, err := quic.DialAddr(ctx, addr, qcc, nil)
	if err == nil {
		select {
		case <-qc.Context().Done():
		case <-ctx.Done():
			t.Fatalf("QUIC connection over the cap: still open")
		}
		err = context.Cause(qc.Context())
	}
	var ae *quic.ApplicationError
	if !errors.As(err, &ae) || !ae.Remote || ae.ErrorCode != h3ExcessiveLoad {
		t.Errorf("QUIC connection over the cap: closed with %v; want H3_EXCESSIVE_LOAD from the server", err)
	}
	first.Close()
	for deadline := time.Now().Add(testTimeout); ts.s.limit.open() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("slots still taken: %d", ts.s.limit.open())
		}
		time.Sleep(time.Millisecond) // polling: a slot's release sends no signal
	}
	// The slot is free: a real client is served.
	_, r, _ := askDoH(t, ts, ts.client(t, "h3"), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
	if r.Rcode != dns.RcodeSuccess {
		t.Errorf("after the first closed: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestDoHSlowClient checks that a client that never finishes its request
// header is disconnected.
func TestDoHSlowClient(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t), TLSHandshakeTimeout: 100 * time.Millisecond}, DoHOptions{})
	cc := ts.cc.Clone()
	cc.NextProtos = []string{"http/1.1"}
	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ts.port), cc)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /dns-query?dns=AAAA HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	// The server gives up on us: EOF, or a 408 and then EOF.
	out, _ := io.ReadAll(c)
	if len(out) > 0 && !strings.HasPrefix(string(out), "HTTP/1.1 408") {
		t.Errorf("got %q; want nothing or a 408", out)
	}
}

func TestHTTPErrorLogStripsAddresses(t *testing.T) {
	var got []string
	l := &httpErrorLog{report: func(err error) { got = append(got, err.Error()) }}
	for _, line := range []string{
		"http: TLS handshake error from 192.0.2.7:5353: EOF\n",
		"http2: server connection error from 192.0.2.7:5353: connection error: PROTOCOL_ERROR\n",
		"http: panic serving [2001:db8::7%eth0]:443: boom\n",
		"http: Accept error: accept tcp [::]:443: too many open files; retrying in 5ms\n",
		"http: something about 2001:db8::1 and fe80::1%lo and ::ffff:192.0.2.1\n",
	} {
		l.Write([]byte(line))
	}
	if len(got) != 4 {
		t.Fatalf("got %d lines, want 4 (the handshake error dropped): %q", len(got), got)
	}
	for _, s := range got {
		for _, leak := range []string{"192.0.2", "2001:db8", "fe80", "5353", "::"} {
			if strings.Contains(s, leak) {
				t.Errorf("%q still names %q", s, leak)
			}
		}
	}
}

func TestDoHServeWithoutCertificate(t *testing.T) {
	s := NewDoHServer(Config{Handler: testHandler(t)}, nil, DoHOptions{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	if err := s.Serve(l); !errors.Is(err, errNoCertificate) {
		t.Errorf("Serve: got %v, want errNoCertificate", err)
	}
}

// TestDoHHandshakeParameters checks TLS 1.2 as the floor and the ALPN
// offered on TCP.
func TestDoHHandshakeParameters(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	for _, tt := range []struct {
		alpn    []string
		max     uint16
		ok      bool
		wantPro string
	}{
		{[]string{"h2", "http/1.1"}, 0, true, "h2"},
		{[]string{"http/1.1"}, tls.VersionTLS12, true, "http/1.1"},
		{[]string{"h2"}, tls.VersionTLS11, false, ""},
	} {
		cc := ts.cc.Clone()
		cc.NextProtos, cc.MinVersion, cc.MaxVersion = tt.alpn, tls.VersionTLS10, tt.max
		c, err := tls.Dial("tcp", addr, cc)
		if (err == nil) != tt.ok {
			t.Errorf("ALPN %v, max %x: got err %v; want ok=%v", tt.alpn, tt.max, err, tt.ok)
		}
		if err == nil {
			if p := c.ConnectionState().NegotiatedProtocol; p != tt.wantPro {
				t.Errorf("ALPN %v: negotiated %q, want %q", tt.alpn, p, tt.wantPro)
			}
			c.Close()
		}
	}
}

func TestDoHCustomPath(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{Path: "/resolve"})
	_, r, _ := askDoH(t, ts, ts.client(t, "h2"), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
	if r.Rcode != dns.RcodeSuccess {
		t.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	resp, _ := doRequest(t, ts.client(t, "h2"), newReq(t, http.MethodGet, strings.Replace(ts.url, "/resolve", DefaultDoHPath, 1)+"?dns=AAAA", "", nil))
	if resp.StatusCode != 404 {
		t.Errorf("default path on a server for /resolve: got %d, want 404", resp.StatusCode)
	}
}

// TestDoHErrorLogNamesNoClient makes net/http log (a failed handshake,
// garbage instead of TLS, a broken HTTP/2 preface) and checks that nothing
// reaching Config.ErrorLog names the client.
func TestDoHErrorLogNamesNoClient(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	var logged []string
	cfg := Config{Handler: testHandler(t), ErrorLog: func(err error) {
		mu.Lock()
		logged = append(logged, err.Error())
		mu.Unlock()
	}}
	ts := startDoH(t, cfg, DoHOptions{})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	// A client that does not trust the certificate.
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		c.Close()
	}
	// Plain HTTP on the TLS port.
	c := dialRaw(t, "tcp", addr)
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	io.ReadAll(c)
	// HTTP/2 with a broken preface.
	cc := ts.cc.Clone()
	cc.NextProtos = []string{"h2"}
	tc, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	io.WriteString(tc, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\nnot a settings frame")
	io.ReadAll(tc)
	tc.Close()
	// A working query afterwards, so that the server has handled all of
	// the above.
	askDoH(t, ts, ts.client(t, "h1"), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
	mu.Lock()
	defer mu.Unlock()
	t.Logf("ErrorLog received %q", logged)
	for _, l := range logged {
		if strings.Contains(l, "127.0.0.1") || strings.Contains(l, "TLS handshake") || strings.Contains(l, "PRI *") {
			t.Errorf("ErrorLog got %q", l)
		}
	}
}
