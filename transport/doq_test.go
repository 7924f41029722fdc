package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
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
	if r.Rcode != dns.RcodeRefused || ede == nil || ede.InfoCode != edeProhibited || len(r.Answer) != 0 {
		t.Errorf("got %s, EDE %v, %d answers; want REFUSED, EDE 18, none", dns.RcodeToString[r.Rcode], ede, len(r.Answer))
	}
}

// TestDoQProtocolErrors sends what RFC 9250 §4.3.3 calls protocol errors:
// each closes the connection with DOQ_PROTOCOL_ERROR, and the server goes
// on serving new connections.
func TestDoQProtocolErrors(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t), TCPIdleTimeout: 200 * time.Millisecond})
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

// holdHandler holds every query for "slow.example." until release is
// closed or the query's context ends; entered tells the test it arrived.
type holdHandler struct {
	entered  chan struct{}
	release  chan struct{}
	canceled atomic.Int32
}

func newHoldHandler() *holdHandler {
	return &holdHandler{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *holdHandler) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if q.Question[0].Name == "slow.example." {
		h.entered <- struct{}{}
		select {
		case <-h.release:
		case <-ctx.Done():
			h.canceled.Add(1)
			return nil, ctx.Err()
		}
	}
	r := new(dns.Msg)
	r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 7)}}
	return r, nil
}

func waitEntered(t *testing.T, h *holdHandler) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(testTimeout):
		t.Fatalf("the query never reached the handler")
	}
}

func TestDoQLimits(t *testing.T) {
	checkLeaks(t)
	h := newHoldHandler()
	addr, cc, _ := startDoQ(t, Config{Handler: h, MaxTCPConns: 1, MaxTCPInFlight: 1})
	t.Cleanup(func() { close(h.release) })
	c := dialDoQ(t, addr, cc)
	slow := sendStream(t, c, framed(packDoQ(t, query("slow.example.", dns.TypeA, false, 0, false))))
	waitEntered(t, h)

	t.Run("streams per connection", func(t *testing.T) {
		// One stream is in flight: QUIC's flow control grants no other.
		var limit *quic.StreamLimitReachedError
		if _, err := c.OpenStream(); !errors.As(err, &limit) {
			t.Errorf("second stream: got %v; want a stream limit error", err)
		}
	})
	t.Run("connections per server", func(t *testing.T) {
		second := dialDoQ(t, addr, cc)
		if code := closedWith(t, second); code != DoQExcessiveLoad {
			t.Errorf("second connection closed with %#x; want DOQ_EXCESSIVE_LOAD", code)
		}
	})
	h.release <- struct{}{} // not closed: the cleanup does that
	if _, err := readResponse(slow); err != nil {
		t.Fatalf("slow query: %v", err)
	}
}

// TestDoQCancel: a client that stops reading its stream (STOP_SENDING with
// DOQ_REQUEST_CANCELLED, RFC 9250 §4.3.1) ends the handler's work.
func TestDoQCancel(t *testing.T) {
	checkLeaks(t)
	h := newHoldHandler()
	addr, cc, _ := startDoQ(t, Config{Handler: h})
	t.Cleanup(func() { close(h.release) })
	c := dialDoQ(t, addr, cc)
	str := sendStream(t, c, framed(packDoQ(t, query("slow.example.", dns.TypeA, false, 0, false))))
	waitEntered(t, h)
	str.CancelRead(DoQRequestCancelled)
	for deadline := time.Now().Add(testTimeout); h.canceled.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the handler's context was not cancelled")
		}
		time.Sleep(time.Millisecond) // polling: the handler's return sends no signal
	}
	// The connection is still good.
	if r, _ := doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false)); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after a cancelled query: got %s", dns.RcodeToString[r.Rcode])
	}
}

// TestDoQResetBeforeQuery: a client that resets its stream before the
// query is complete gets its stream reset with DOQ_REQUEST_CANCELLED, and
// keeps its connection.
func TestDoQResetBeforeQuery(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t)})
	c := dialDoQ(t, addr, cc)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	str, err := c.OpenStreamSync(ctx)
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	_ = str.SetDeadline(time.Now().Add(testTimeout))
	if _, err := str.Write([]byte{0, 40, 0, 0}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	str.CancelWrite(DoQRequestCancelled)
	_, err = io.ReadAll(str)
	var se *quic.StreamError
	if !errors.As(err, &se) || se.ErrorCode != DoQRequestCancelled {
		t.Errorf("read: got %v; want the stream reset with DOQ_REQUEST_CANCELLED", err)
	}
	if r, _ := doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false)); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after a reset stream: got %s", dns.RcodeToString[r.Rcode])
	}
}

// TestDoQShutdown: a query in flight when Shutdown starts is answered, new
// connections are refused, and the connection is then closed with
// DOQ_NO_ERROR.
func TestDoQShutdown(t *testing.T) {
	checkLeaks(t)
	h := newHoldHandler()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	sc, cc := testCert(t)
	cc.NextProtos = []string{ALPNDoQ}
	s := NewDoQServer(Config{Handler: h}, sc)
	served := make(chan error, 1)
	go func() { served <- s.Serve(pc) }()
	addr := pc.LocalAddr().String()

	c := dialDoQ(t, addr, cc)
	str := sendStream(t, c, framed(packDoQ(t, query("slow.example.", dns.TypeA, false, 0, false))))
	waitEntered(t, h)

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	// Serve returns once the listener is closed, before the query ends.
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: got %v, want ErrServerClosed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a query in flight", err)
	default:
	}
	close(h.release)
	raw, err := readResponse(str)
	if err != nil {
		t.Fatalf("in-flight query: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil || len(r.Answer) != 1 {
		t.Fatalf("in-flight query: got %v, %v; want one answer", r, err)
	}
	if code := closedWith(t, c); code != DoQNoError {
		t.Errorf("closed with %#x; want DOQ_NO_ERROR", code)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := s.Serve(pc); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: got %v, want ErrServerClosed", err)
	}
}

// TestDoQShutdownTimeout: when Shutdown's ctx ends first, the handlers'
// contexts are cancelled and the connections closed with DOQ_NO_ERROR.
func TestDoQShutdownTimeout(t *testing.T) {
	checkLeaks(t)
	h := newHoldHandler()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	sc, cc := testCert(t)
	cc.NextProtos = []string{ALPNDoQ}
	s := NewDoQServer(Config{Handler: h}, sc)
	served := make(chan error, 1)
	go func() { served <- s.Serve(pc) }()
	c := dialDoQ(t, pc.LocalAddr().String(), cc)
	sendStream(t, c, framed(packDoQ(t, query("slow.example.", dns.TypeA, false, 0, false))))
	waitEntered(t, h)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: got %v, want context.Canceled", err)
	}
	if code := closedWith(t, c); code != DoQNoError {
		t.Errorf("closed with %#x; want DOQ_NO_ERROR", code)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: got %v, want ErrServerClosed", err)
	}
	for deadline := time.Now().Add(testTimeout); h.canceled.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the handler's context was not cancelled")
		}
		time.Sleep(time.Millisecond) // polling: the handler's return sends no signal
	}
}

// TestDoQIdleTimeout: the server closes a connection with nothing to do
// after its idle timeout (silently, RFC 9000 §10.1; quic-go clients wait
// at least 5 s before they notice, so the test watches the server).
func TestDoQIdleTimeout(t *testing.T) {
	checkLeaks(t)
	addr, cc, s := startDoQ(t, Config{Handler: testHandler(t), TCPIdleTimeout: 100 * time.Millisecond, QueryTimeout: 100 * time.Millisecond})
	c := dialDoQ(t, addr, cc)
	doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false))
	if n := s.limit.open(); n != 1 {
		t.Fatalf("server counts %d connections; want 1", n)
	}
	for deadline := time.Now().Add(testTimeout); s.limit.open() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("idle connection still open")
		}
		time.Sleep(time.Millisecond) // polling: an idle timeout sends no signal
	}
}

// TestDoQ0RTT: a resumed client's query sent in 0-RTT data is answered.
func TestDoQ0RTT(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t)})
	cc = cc.Clone()
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	// The first connection gets a session ticket (after the handshake:
	// one round trip makes sure the client has it).
	c := dialDoQ(t, addr, cc)
	doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false))
	c.CloseWithError(DoQNoError, "")

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	early, err := quic.DialAddrEarly(ctx, addr, cc, &quic.Config{})
	if err != nil {
		t.Fatalf("DialAddrEarly: %v", err)
	}
	defer early.CloseWithError(DoQNoError, "")
	r, _ := doqQuery(t, early, query("example.com.", dns.TypeA, false, 0, false))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("0-RTT query: got %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if !early.ConnectionState().Used0RTT {
		t.Errorf("the server did not accept 0-RTT")
	}
}

func TestDoQHandshake(t *testing.T) {
	checkLeaks(t)
	addr, cc, _ := startDoQ(t, Config{Handler: testHandler(t)})
	tests := []struct {
		name  string
		alter func(*tls.Config)
	}{
		{"wrong ALPN", func(c *tls.Config) { c.NextProtos = []string{"h3"} }},
		{"untrusted certificate", func(c *tls.Config) { c.RootCAs = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := cc.Clone()
			tt.alter(conf)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			if c, err := quic.DialAddr(ctx, addr, conf, &quic.Config{}); err == nil {
				c.CloseWithError(0, "")
				t.Errorf("handshake succeeded; want a failure")
			}
		})
	}
}

func TestDoQServeWithoutCertificate(t *testing.T) {
	s := NewDoQServer(Config{Handler: testHandler(t)}, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	defer pc.Close()
	if err := s.Serve(pc); !errors.Is(err, errNoCertificate) {
		t.Errorf("Serve: got %v, want errNoCertificate", err)
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
	s := NewDoQServer(Config{Handler: newCacheHandler(b), MaxTCPConns: 10000, MaxConnsPerClient: 10000}, sc)
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

// deafConn is a client socket that never delivers a packet: a client with
// a forged source address, which cannot read what the server sends.
type deafConn struct {
	net.PacketConn
	once sync.Once
	done chan struct{}
}

func (d *deafConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-d.done
	return 0, nil, net.ErrClosed
}

func (d *deafConn) Close() error {
	d.once.Do(func() { close(d.done) })
	return d.PacketConn.Close()
}

// sourceCounter is a server socket that counts the client addresses it
// has received packets from.
type sourceCounter struct {
	net.PacketConn
	mu   sync.Mutex
	seen map[string]bool
}

func (c *sourceCounter) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.mu.Lock()
		c.seen[a.String()] = true
		c.mu.Unlock()
	}
	return n, a, err
}

func (c *sourceCounter) sources() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling: these counters send no signal
	}
}

// blindDial starts a QUIC handshake from a socket that never hears back,
// as from a forged address; cleanup ends it.
func blindDial(t *testing.T, addr string, cc *tls.Config) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	deaf := &deafConn{PacketConn: pc, done: make(chan struct{})}
	tr := &quic.Transport{Conn: deaf}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatalf("ResolveUDPAddr: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c, err := tr.DialEarly(ctx, ua, cc, &quic.Config{}); err == nil {
			c.CloseWithError(0, "")
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		// Transport.Close waits for its reader, which only Close ends.
		_ = deaf.Close()
		_ = tr.Close()
	})
}

// TestDoQBlindHandshakes: handshakes from addresses nobody proved (Initial
// packets with forged sources, which never see the server's reply) take
// no connection slot, so they cannot lock a real client out; once they
// are many, new clients must answer a Retry (RFC 9000 §8.1.2), which
// forged ones cannot, so they hold no state either.
func TestDoQBlindHandshakes(t *testing.T) {
	const maxConns = 16 // Retry from 2 unproven handshakes on
	tests := []struct {
		name  string
		blind int
	}{
		{"one, below the Retry threshold", 1},
		{"as many as the connection cap", maxConns},
		{"more than the cap", 2 * maxConns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatalf("ListenPacket: %v", err)
			}
			sock := &sourceCounter{PacketConn: pc, seen: make(map[string]bool)}
			// Handshakes that outlive the test: only Shutdown ends them.
			cfg := Config{Handler: testHandler(t), MaxTCPConns: maxConns, MaxConnsPerClient: maxConns, TLSHandshakeTimeout: time.Minute}
			addr, cc, s := serveDoQ(t, cfg, sock)
			for range tt.blind {
				blindDial(t, addr, cc)
			}
			// The server handles a socket's packets in order: once
			// every blind client has been heard from, the next Initial
			// is handled after theirs.
			waitFor(t, "the blind Initials", func() bool { return sock.sources() == tt.blind })

			c := dialDoQ(t, addr, cc)
			r, _ := doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false))
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Fatalf("real client: got %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
			}
			// The handler answered, so the real client is admitted; the
			// blind ones are still in their handshakes, counted apart.
			if n := s.limit.open(); n != 1 {
				t.Errorf("connection slots taken: %d; want 1, the real client's", n)
			}
			h := s.handshakes
			if want := min(tt.blind, h.retryAt); int(h.pending.Load()) != want {
				t.Errorf("unproven handshakes counted: %d; want %d", h.pending.Load(), want)
			}
			if tt.blind >= h.retryAt && h.retries.Load() == 0 {
				t.Errorf("no Retry demanded with %d unproven handshakes", tt.blind)
			}
		})
	}
}

// TestQUICHandshakesCap: connContext refuses handshakes beyond the cap,
// from unproven addresses in total and from proven ones per client, and
// gives a place back once, when the handshake completes or the
// connection ends.
func TestQUICHandshakesCap(t *testing.T) {
	h := newQUICHandshakes(2, 1)
	a := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	b := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 1}
	var cancels []context.CancelFunc
	open := func(addr net.Addr, proven bool) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		_, err := h.connContext(ctx, &quic.ClientInfo{RemoteAddr: addr, AddrVerified: proven})
		return err
	}
	steps := []struct {
		name    string
		addr    net.Addr
		proven  bool
		refused bool
	}{
		{"unproven", a, false, false},
		{"unproven, another", a, false, false},
		{"unproven, over the cap", b, false, true},
		{"proven", a, true, false},
		{"proven, same client over its cap", a, true, true},
		{"proven, another client", b, true, false},
	}
	for _, st := range steps {
		if err := open(st.addr, st.proven); (err != nil) != st.refused {
			t.Errorf("%s: got %v; refused %v", st.name, err, st.refused)
		}
	}
	if !h.verifySourceAddress(a) {
		t.Errorf("no Retry demanded with %d unproven handshakes", h.pending.Load())
	}
	for _, cancel := range cancels {
		cancel()
	}
	waitFor(t, "the handshake count to drop", func() bool { return h.inProgress() == 0 })
	if h.verifySourceAddress(a) {
		t.Errorf("Retry demanded with no handshake in progress")
	}
}

// TestReadDoQQueryGrows: the read buffer grows with the octets that
// arrive, not with the length prefix, so a client that sends a large
// prefix and nothing more makes the server hold little.
func TestReadDoQQueryGrows(t *testing.T) {
	tests := []struct {
		name string
		sent int // octets after the prefix 0xffff
	}{
		{"prefix only", 0},
		{"prefix and 100 octets", 100},
		{"prefix and 5000 octets", 5000},
		{"whole message", 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]byte{0xff, 0xff}, make([]byte, tt.sent)...)
			// The client sends no more: the deadline ends the read.
			r := io.MultiReader(bytes.NewReader(in), iotest.ErrReader(os.ErrDeadlineExceeded))
			var buf []byte
			raw, err := readDoQQuery(r, &buf)
			if tt.sent == 0xffff {
				if !errors.Is(err, os.ErrDeadlineExceeded) || raw != nil {
					t.Errorf("got %d octets, %v; want the deadline while waiting for FIN", len(raw), err)
				}
			} else if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("got %v; want the deadline", err)
			}
			// Doubling from doqMinBuf, with room for the allocator's
			// rounding.
			if limit := 2*max(tt.sent, doqMinBuf) + doqMinBuf; cap(buf) > limit {
				t.Errorf("buffer grew to %d octets for %d received; want at most %d", cap(buf), tt.sent, limit)
			}
		})
	}

	t.Run("large buffers are not pooled", func(t *testing.T) {
		s := NewDoQServer(Config{Handler: testHandler(t)}, nil)
		st := &doqStreamState{buf: make([]byte, 0xffff)}
		s.putStreamState(st)
		if cap(st.buf) > doqKeepBuf {
			t.Errorf("pooled a %d-octet buffer", cap(st.buf))
		}
	})
}

// TestDoQLyingPrefixMemory: streams that send only the length prefix
// 0xffff make the server hold little memory (it held 64 KiB each).
func TestDoQLyingPrefixMemory(t *testing.T) {
	checkLeaks(t)
	addr, cc, s := startDoQ(t, Config{Handler: testHandler(t)})
	const conns, streams = 4, 100
	var cs []*quic.Conn
	for range conns {
		cs = append(cs, dialDoQ(t, addr, cc))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range cs {
		for range streams {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			str, err := c.OpenStreamSync(ctx)
			cancel()
			if err != nil {
				t.Fatalf("OpenStream: %v", err)
			}
			if _, err := str.Write([]byte{0xff, 0xff}); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
	}
	// Each stream has a server goroutine blocked reading its query.
	waitFor(t, "the server to read every stream", func() bool { return activeStreams(s) == conns*streams })
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	// Generous: client and server state of 400 streams, not 400 x 64 KiB
	// (26 MiB) of buffers.
	if grew > 8<<20 {
		t.Errorf("heap in use grew by %d KiB for %d streams that sent 2 octets each", grew>>10, conns*streams)
	}
	for _, c := range cs {
		c.CloseWithError(DoQNoError, "")
	}
}

// TestDoQIdlePings: a connection with no query in flight is closed with
// DOQ_NO_ERROR after TCPIdleTimeout, and its slot given back, even when
// the client keeps QUIC alive with PINGs.
func TestDoQIdlePings(t *testing.T) {
	checkLeaks(t)
	// QueryTimeout keeps QUIC's own idle timeout at over a second, which
	// the PINGs reset.
	addr, cc, s := startDoQ(t, Config{Handler: testHandler(t), TCPIdleTimeout: 100 * time.Millisecond, QueryTimeout: 5 * time.Second})
	tests := []struct {
		name    string
		queries int
	}{
		{"no query", 0},
		{"after queries", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := quic.DialAddr(ctx, addr, cc, &quic.Config{KeepAlivePeriod: 20 * time.Millisecond})
			if err != nil {
				t.Fatalf("quic dial: %v", err)
			}
			defer c.CloseWithError(DoQNoError, "")
			for range tt.queries {
				doqQuery(t, c, query("example.com.", dns.TypeA, false, 0, false))
			}
			if code := closedWith(t, c); code != DoQNoError {
				t.Errorf("closed with %#x; want DOQ_NO_ERROR", code)
			}
			waitFor(t, "the connection slot", func() bool { return s.limit.open() == 0 })
		})
	}
}

// activeStreams counts the streams s is serving.
func activeStreams(s *DoQServer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for dc := range s.conns {
		dc.idleMu.Lock()
		n += dc.active
		dc.idleMu.Unlock()
	}
	return n
}
