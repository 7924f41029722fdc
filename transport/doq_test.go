//go:build !noquic

package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// startDoQ serves cfg on a fresh 127.0.0.1:0 UDP socket; it returns the
// address, a client config that trusts the server, and the server, which
// it shuts down at cleanup.
func startDoQ(t *testing.T, cfg Config) (string, *tls.Config, *DoQServer) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	return serveDoQ(t, cfg, pc)
}

// serveDoQ is startDoQ on a given socket.
func serveDoQ(t *testing.T, cfg Config, pc net.PacketConn) (string, *tls.Config, *DoQServer) {
	t.Helper()
	sc, cc := testCert(t)
	cc.NextProtos = []string{ALPNDoQ}
	s := NewDoQServer(cfg, sc)
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc) }()
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
	return pc.LocalAddr().String(), cc, s
}

// dialDoQ opens a QUIC connection and closes it at cleanup.
func dialDoQ(t testing.TB, addr string, cc *tls.Config) *quic.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := quic.DialAddr(ctx, addr, cc, &quic.Config{})
	if err != nil {
		t.Fatalf("quic dial: %v", err)
	}
	t.Cleanup(func() { c.CloseWithError(DoQNoError, "") })
	return c
}

// sendStream opens a stream, writes b and FIN, and returns the stream.
func sendStream(t testing.TB, c *quic.Conn, b []byte) *quic.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	str, err := c.OpenStreamSync(ctx)
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	_ = str.SetDeadline(time.Now().Add(testTimeout))
	if _, err := str.Write(b); err != nil {
		t.Fatalf("stream Write: %v", err)
	}
	if err := str.Close(); err != nil {
		t.Fatalf("stream Close: %v", err)
	}
	return str
}

// packDoQ packs m with message ID 0, as RFC 9250 §4.2.1 wants.
func packDoQ(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	m.Id = 0
	return pack(t, m)
}

func framed(msg []byte) []byte {
	return append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// readResponse reads what the server sent on str up to its FIN: one framed
// message. It returns the message as sent.
func readResponse(str *quic.Stream) ([]byte, error) {
	all, err := io.ReadAll(str)
	if err != nil {
		return nil, err
	}
	if len(all) < 2 || int(binary.BigEndian.Uint16(all)) != len(all)-2 {
		return nil, errors.New("not exactly one framed message before FIN")
	}
	return all[2:], nil
}

// doqQuery sends m (ID set to 0) on a new stream of c and returns the
// unpacked response and its size on the wire.
func doqQuery(t testing.TB, c *quic.Conn, m *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	m.Id = 0
	str := sendStream(t, c, framed(pack(t, m)))
	raw, err := readResponse(str)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		t.Fatalf("response does not unpack: %v", err)
	}
	return r, len(raw)
}

// closedWith waits for c to be closed by the server and returns the
// application error code it was closed with.
func closedWith(t *testing.T, c *quic.Conn) quic.ApplicationErrorCode {
	t.Helper()
	select {
	case <-c.Context().Done():
	case <-time.After(testTimeout):
		t.Fatalf("connection still open")
	}
	var ae *quic.ApplicationError
	if err := context.Cause(c.Context()); !errors.As(err, &ae) || !ae.Remote {
		t.Fatalf("connection closed by %v; want a CONNECTION_CLOSE from the server", err)
	}
	return ae.ErrorCode
}

func TestDoQExchange(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t)})
	c := dialDoQ(t, addr, cc)
	st := c.ConnectionState().TLS
	if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != ALPNDoQ {
		t.Errorf("got %s, ALPN %q; want TLS 1.3, ALPN %q", tls.VersionName(st.Version), st.NegotiatedProtocol, ALPNDoQ)
	}
	tests := []struct {
		name   string
		qname  string
		rcode  int
		answer int
	}{
		{"answer", "example.com.", dns.RcodeSuccess, 1},
		{"large, not truncated", "big.example.", dns.RcodeSuccess, 100},
		{"handler error", "fail.example.", dns.RcodeServerFailure, 0},
		{"handler panic", "panic.example.", dns.RcodeServerFailure, 0},
		{"name error", "nx.example.", dns.RcodeNameError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := doqQuery(t, c, query(tt.qname, dns.TypeA, true, 1232, false))
			if r.Id != 0 || !r.Response || r.Rcode != tt.rcode || len(r.Answer) != tt.answer || r.Truncated {
				t.Errorf("got ID %d, rcode %s, %d answers, TC=%v; want ID 0, %s, %d, false",
					r.Id, dns.RcodeToString[r.Rcode], len(r.Answer), r.Truncated, dns.RcodeToString[tt.rcode], tt.answer)
			}
		})
	}

	// Concurrent streams on one connection are answered independently.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r, _ := doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false))
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Errorf("concurrent query: got %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
			}
		})
	}
	wg.Wait()
}

// TestDoQCacheHit checks that DoQ takes the CacheAnswerer fast path: the
// test handler's ServeDNS would say NXDOMAIN.
func TestDoQCacheHit(t *testing.T) {
	checkLeaks(t)
	h := newCacheHandler(t)
	addr, cc, _ := startDoQ(t, Config{Handler: h})
	c := dialDoQ(t, addr, cc)
	r, _ := doqQuery(t, c, query("WWW.example.COM.", dns.TypeA, true, 1232, true))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || r.Question[0].Name != "WWW.example.COM." {
		t.Errorf("got %s, %d answers, question %v; want the cached answer with the client's case",
			dns.RcodeToString[r.Rcode], len(r.Answer), r.Question)
	}
}

func TestDoQPadding(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: cachedHandler{newCacheHandler(t), testHandler(t)}})
	c := dialDoQ(t, addr, cc)
	for _, name := range []string{"example.com.", "www.example.com.", "big.example.", "nx.example.", "ede.example."} {
		t.Run(name, func(t *testing.T) {
			r, size := doqQuery(t, c, withOptions(name, padOpt()))
			if optionOf(r, dns.EDNS0PADDING) == nil || size%padBlock != 0 {
				t.Errorf("with Padding: got %d bytes, padding option %v; want a padded multiple of %d",
					size, optionOf(r, dns.EDNS0PADDING) != nil, padBlock)
			}
			r, size = doqQuery(t, c, withOptions(name))
			if optionOf(r, dns.EDNS0PADDING) != nil {
				t.Errorf("without Padding: got a padded %d-byte response", size)
			}
		})
	}
}

func TestDoQRefusesOutsideACL(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t), AllowClients: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	c := dialDoQ(t, addr, cc)
	r, _ := doqQuery(t, c, query("example.com.", dns.TypeA, true, 1232, false))
	ede, _ := optionOf(r, dns.EDNS0EDE).(*dns.EDNS0_EDE)
	if r.Rcode != dns.RcodeRefused || ede == nil || ede.InfoCode != dns.ExtendedErrorCodeProhibited || len(r.Answer) != 0 {
		t.Errorf("got %s, EDE %v, %d answers; want REFUSED, EDE 18, none", dns.RcodeToString[r.Rcode], ede, len(r.Answer))
	}
}

// TestDoQProtocolErrors sends what RFC 9250 §4.3.3 calls protocol errors:
// each closes the connection with DOQ_PROTOCOL_ERROR, and the server goes
// on serving new connections.
func TestDoQProtocolErrors(t *testing.T) {
	checkLeaks(t)
	// IdleTimeout ends the "no FIN" case; it must outlast the gap between
	// the handshake and the client's stream on a loaded machine, or the
	// connection closes as idle (DOQ_NO_ERROR) before the case is sent.
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t), IdleTimeout: time.Second})
	good := packDoQ(t, query("example.com.", dns.TypeA, true, 1232, false))
	withID := query("example.com.", dns.TypeA, false, 0, false)
	withID.Id = 4711
	keep := withOptions("example.com.", keepOpt())
	resp := query("example.com.", dns.TypeA, false, 0, false)
	resp.Response = true
	tests := []struct {
		name string
		send []byte
		fin  bool
	}{
		{"message ID not 0", framed(pack(t, withID)), true},
		{"edns-tcp-keepalive", framed(packDoQ(t, keep)), true},
		{"length prefix longer than the message", append([]byte{0x01, 0x00}, good...), true},
		{"two messages on one stream", append(framed(good), framed(good)...), true},
		{"data after the message", append(framed(good), 0), true},
		{"empty stream", nil, true},
		{"half a length prefix", []byte{0}, true},
		{"length below a header", []byte{0, 3, 1, 2, 3}, true},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true},
		{"a response", framed(packDoQ(t, resp)), true},
		{"no FIN", framed(good), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialDoQ(t, addr, cc)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			str, err := c.OpenStreamSync(ctx)
			if err != nil {
				t.Fatalf("OpenStream: %v", err)
			}
			if _, err := str.Write(tt.send); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if tt.fin {
				str.Close()
			}
			if code := closedWith(t, c); code != DoQProtocolError {
				t.Errorf("closed with %#x; want DOQ_PROTOCOL_ERROR", code)
			}
			// The server is unharmed.
			if r, _ := doqQuery(t, dialDoQ(t, addr, cc), query("example.com.", dns.TypeA, false, 0, false)); r.Rcode != dns.RcodeSuccess {
				t.Errorf("next client: got %s", dns.RcodeToString[r.Rcode])
			}
		})
	}
}

// TestDoQMalformedQueries checks that a well-framed message that is not a
// valid query is answered, like over TCP, rather than treated as a
// protocol error.
func TestDoQMalformedQueries(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t)})
	c := dialDoQ(t, addr, cc)
	notify := query("example.com.", dns.TypeSOA, false, 0, false)
	notify.Opcode = dns.OpcodeNotify
	tests := []struct {
		name  string
		raw   []byte
		rcode int
	}{
		{"twelve zero bytes", make([]byte, 12), dns.RcodeFormatError},
		{"NOTIFY", packDoQ(t, notify), dns.RcodeNotImplemented},
		{"AXFR", packDoQ(t, query("example.com.", dns.TypeAXFR, false, 0, false)), dns.RcodeRefused},
		{"cut-short question", append(make([]byte, 4), 0, 1, 0, 0, 0, 0, 0, 0, 3, 'c', 'o', 'm'), dns.RcodeFormatError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := readResponse(sendStream(t, c, framed(tt.raw)))
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			r := new(dns.Msg)
			if err := r.Unpack(raw); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if r.Rcode != tt.rcode || r.Id != 0 {
				t.Errorf("got %s ID %d; want %s ID 0", dns.RcodeToString[r.Rcode], r.Id, dns.RcodeToString[tt.rcode])
			}
		})
	}
}

// TestDoQNoUnidirectionalStreams: the server grants none, so a client
// cannot open one.
func TestDoQNoUnidirectionalStreams(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t)})
	c := dialDoQ(t, addr, cc)
	// The server's transport parameters arrive with the handshake.
	doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false))
	var limit *quic.StreamLimitReachedError
	if _, err := c.OpenUniStream(); !errors.As(err, &limit) {
		t.Errorf("OpenUniStream: got %v; want a stream limit error", err)
	}
}

// BenchmarkDoQCacheHit measures cache hits over DNS over QUIC, one stream
// per query as RFC 9250 wants: on one connection (one query in flight) and
// on many (one per parallel goroutine), handshakes excluded.
func BenchmarkDoQCacheHit(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("ListenPacket: %v", err)
	}
	sc, cc := testCert(b)
	cc.NextProtos = []string{ALPNDoQ}
	s := NewDoQServer(Config{Handler: newCacheHandler(b), MaxConns: 10000, MaxConnsPerClient: 10000}, sc)
	go s.Serve(pc)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		_ = s.Shutdown(ctx)
		cancel()
	}()
	addr := pc.LocalAddr().String()
	frame := framed(pack(b, query("www.example.com.", dns.TypeA, true, 1232, true)))
	frame[2], frame[3] = 0, 0 // ID 0
	loop := func(c *quic.Conn, next func() bool) error {
		buf := make([]byte, 1500)
		for next() {
			str, err := c.OpenStreamSync(context.Background())
			if err != nil {
				return err
			}
			if _, err := str.Write(frame); err != nil {
				return err
			}
			str.Close()
			if _, err := io.ReadFull(str, buf[:2]); err != nil {
				return err
			}
			if _, err := io.ReadFull(str, buf[:int(buf[0])<<8|int(buf[1])]); err != nil {
				return err
			}
		}
		return nil
	}
	dial := func() (*quic.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		return quic.DialAddr(ctx, addr, cc, &quic.Config{})
	}
	b.Run("one-conn", func(b *testing.B) {
		c, err := dial()
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		defer c.CloseWithError(DoQNoError, "")
		b.ReportAllocs()
		b.ResetTimer()
		if err := loop(c, b.Loop); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
	})
	b.Run("many-conns", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			c, err := dial()
			if err != nil {
				b.Errorf("dial: %v", err)
				return
			}
			defer c.CloseWithError(DoQNoError, "")
			if err := loop(c, pb.Next); err != nil {
				b.Error(err)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
	})
}
