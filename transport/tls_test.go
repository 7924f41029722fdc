package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testCert makes a self-signed ECDSA certificate for 127.0.0.1 and a
// client config that trusts exactly it.
func testCert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hush test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{ALPNDoT}}
	return server, client
}

// startTLS is startTCP for DNS over TLS; it returns the address, a
// client config that trusts the server, and the server.
func startTLS(t *testing.T, cfg Config) (string, *tls.Config, *TLSServer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	sc, cc := testCert(t)
	s := NewTLSServer(cfg, sc)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String(), cc, s
}

// waitNoConns polls until the server has no connection open: a closed
// connection's slot is given back just after the close, not with it.
func waitNoConns(t *testing.T, s *TLSServer) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); int64(s.tcp.limit.open()) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("server still has %d connections", int64(s.tcp.limit.open()))
		}
		time.Sleep(time.Millisecond) // polling: a slot's release sends no signal
	}
}

// dialTLS connects and finishes the handshake, with a safety deadline.
func dialTLS(t *testing.T, addr string, cc *tls.Config) *tls.Conn {
	t.Helper()
	d := &tls.Dialer{Config: cc, NetDialer: &net.Dialer{Timeout: testTimeout}}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("SetDeadline: %v", err)
	}
	return c.(*tls.Conn)
}

func TestTLSExchange(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startTLS(t, Config{Handler: testHandler(t)})
	tests := []struct {
		name   string
		qname  string
		rcode  int
		answer int
	}{
		{"answer", "example.com.", dns.RcodeSuccess, 1},
		{"large, not truncated", "big.example.", dns.RcodeSuccess, 100},
		{"handler error", "fail.example.", dns.RcodeServerFailure, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &dns.Client{Net: "tcp-tls", TLSConfig: cc, Timeout: testTimeout}
			r, _, err := c.Exchange(query(tt.qname, dns.TypeA, true, 1232, false), addr)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if r.Rcode != tt.rcode || len(r.Answer) != tt.answer || r.Truncated {
				t.Errorf("got rcode %s, %d answers, TC=%v; want %s, %d, false",
					dns.RcodeToString[r.Rcode], len(r.Answer), r.Truncated, dns.RcodeToString[tt.rcode], tt.answer)
			}
		})
	}
}

func TestTLSHandshakeParameters(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startTLS(t, Config{Handler: testHandler(t)})
	c := dialTLS(t, addr, cc)
	st := c.ConnectionState()
	if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != ALPNDoT {
		t.Errorf("got %s, ALPN %q; want TLS 1.3, ALPN %q", tls.VersionName(st.Version), st.NegotiatedProtocol, ALPNDoT)
	}

	// TLS 1.1 is refused; TLS 1.2 is still accepted.
	for _, tt := range []struct {
		max uint16
		ok  bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS12, true}} {
		old := cc.Clone()
		old.MinVersion, old.MaxVersion = tls.VersionTLS10, tt.max
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		tc := tls.Client(raw, old)
		_ = tc.SetDeadline(time.Now().Add(testTimeout))
		err = tc.Handshake()
		tc.Close()
		if (err == nil) != tt.ok {
			t.Errorf("handshake with max %s: got err %v; want ok=%v", tls.VersionName(tt.max), err, tt.ok)
		}
	}

	// A client that offers ALPN without "dot" is refused.
	other := cc.Clone()
	other.NextProtos = []string{"h2"}
	if c, err := tls.Dial("tcp", addr, other); err == nil {
		c.Close()
		t.Errorf("handshake with ALPN h2: got nil error; want a refusal")
	}
}

func TestTLSSessionResumption(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startTLS(t, Config{Handler: testHandler(t)})
	cc = cc.Clone()
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	var got []bool
	for range 2 {
		c := dialTLS(t, addr, cc)
		// A TLS 1.3 ticket arrives after the handshake: a round trip
		// makes sure the client has read it.
		writeFrame(t, c, pack(t, query("example.com.", dns.TypeA, false, 0, false)))
		readFrame(t, c)
		got = append(got, c.ConnectionState().DidResume)
		c.Close()
	}
	if !got[1] || got[0] {
		t.Errorf("DidResume: got %v; want [false true]", got)
	}
}

func TestTLSPipelining(t *testing.T) {
	checkLeaks(t)
	h := &orderHandler{entered: make(chan string, 2), release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(h.release) }) }
	addr, cc, _ := startTLS(t, Config{Handler: h})
	t.Cleanup(release)
	c := dialTLS(t, addr, cc)
	// Both queries in one write, as a pipelining client may send them.
	var buf []byte
	for i, name := range []string{"first.example.", "second.example."} {
		m := query(name, dns.TypeTXT, false, 0, false)
		m.Id = uint16(i + 1)
		b := pack(t, m)
		buf = append(buf, byte(len(b)>>8), byte(len(b)))
		buf = append(buf, b...)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatalf("Write: %v", err)
	}
	var order []uint16
	r := readFrame(t, c)
	order = append(order, r.Id)
	release()
	r = readFrame(t, c)
	order = append(order, r.Id)
	if order[0] != 2 || order[1] != 1 {
		t.Errorf("answer order: got %v, want [2 1]", order)
	}
}

// TestTLSBadClients checks that clients that do not speak TLS, or speak it
// but not DNS, are disconnected and leave the server serving.
func TestTLSBadClients(t *testing.T) {
	checkLeaks(t)
	// The limit closes the clients that stall, but it also bounds the
	// real handshakes here (garbage inside TLS, the client after each
	// case), which a loaded machine under -race stretches past a second.
	addr, cc, s := startTLS(t, Config{Handler: testHandler(t), TLSHandshakeTimeout: 3 * time.Second, MaxConns: 1})
	tests := []struct {
		name string
		do   func(t *testing.T) net.Conn
	}{
		{"garbage instead of a handshake", func(t *testing.T) net.Conn {
			c := dialRaw(t, "tcp", addr)
			if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\nnot a client hello at all")); err != nil {
				t.Fatalf("Write: %v", err)
			}
			return c
		}},
		{"never finishes the handshake", func(t *testing.T) net.Conn {
			// Connects and says nothing; TLSHandshakeTimeout closes it.
			return dialRaw(t, "tcp", addr)
		}},
		{"half a client hello", func(t *testing.T) net.Conn {
			c := dialRaw(t, "tcp", addr)
			if _, err := c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			return c
		}},
		{"garbage inside TLS", func(t *testing.T) net.Conn {
			c := dialTLS(t, addr, cc)
			if _, err := c.Write([]byte{0x00, 0x03, 0xff, 0xff, 0xff}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The previous client's slot must be free, or the cap, not
			// the case under test, would close the connection.
			waitNoConns(t, s)
			c := tt.do(t)
			// The server closes the connection: EOF or a reset, and not
			// our own safety deadline.
			_, err := io.ReadAll(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("read: got a timeout; want the server to close the connection")
			}
			c.Close()
			// The one connection slot is free again: a real client is
			// served.
			waitNoConns(t, s)
			client := &dns.Client{Net: "tcp-tls", TLSConfig: cc, Timeout: testTimeout}
			r, _, err := client.Exchange(query("example.com.", dns.TypeA, false, 0, false), addr)
			if err != nil || r.Rcode != dns.RcodeSuccess {
				t.Fatalf("Exchange after a bad client: %v, %v", r, err)
			}
		})
	}
}

func TestTLSRefusesOutsideACL(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startTLS(t, Config{Handler: testHandler(t), AllowClients: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	c := &dns.Client{Net: "tcp-tls", TLSConfig: cc, Timeout: testTimeout}
	r, _, err := c.Exchange(query("example.com.", dns.TypeA, true, 1232, false), addr)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("rcode: got %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}

func TestTLSServeWithoutCertificate(t *testing.T) {
	s := NewTLSServer(Config{Handler: testHandler(t)}, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	if err := s.Serve(l); !errors.Is(err, errNoCertificate) {
		t.Errorf("Serve: got %v, want errNoCertificate", err)
	}
}

// BenchmarkStreamCacheHit measures cache hits over TCP and DNS over TLS,
// on one connection (one query in flight) and on many (one per parallel
// goroutine), handshakes excluded.
func BenchmarkStreamCacheHit(b *testing.B) {
	sc, cc := testCert(b)
	for _, tr := range []struct {
		name string
		tls  bool
	}{{"TCP", false}, {"TLS", true}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatalf("Listen: %v", err)
		}
		cfg := Config{Handler: newCacheHandler(b), MaxConns: 10000, MaxConnsPerClient: 10000}
		var s interface {
			Serve(net.Listener) error
			Shutdown(context.Context) error
		}
		if tr.tls {
			s = NewTLSServer(cfg, sc)
		} else {
			s = NewTCPServer(cfg)
		}
		go s.Serve(l)
		dial := func() (net.Conn, error) {
			if tr.tls {
				return tls.Dial("tcp", l.Addr().String(), cc)
			}
			return net.Dial("tcp", l.Addr().String())
		}
		raw := pack(b, query("www.example.com.", dns.TypeA, true, 1232, true))
		frame := append([]byte{byte(len(raw) >> 8), byte(len(raw))}, raw...)
		loop := func(c net.Conn, next func() bool) error {
			buf := make([]byte, 1500)
			for next() {
				if _, err := c.Write(frame); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, buf[:2]); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, buf[:int(buf[0])<<8|int(buf[1])]); err != nil {
					return err
				}
			}
			return nil
		}
		b.Run(tr.name+"/one-conn", func(b *testing.B) {
			c, err := dial()
			if err != nil {
				b.Fatalf("dial: %v", err)
			}
			defer c.Close()
			b.ReportAllocs()
			b.ResetTimer()
			if err := loop(c, b.Loop); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
		})
		b.Run(tr.name+"/many-conns", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				c, err := dial()
				if err != nil {
					b.Errorf("dial: %v", err)
					return
				}
				defer c.Close()
				if err := loop(c, pb.Next); err != nil {
					b.Error(err)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
		})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		_ = s.Shutdown(ctx)
		cancel()
	}
}
