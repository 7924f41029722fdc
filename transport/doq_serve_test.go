//go:build !noquic

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

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
	addr, cc, _ := startDoQ(t, Config{Handler: h, MaxConns: 1, MaxInFlightPerConn: 1})
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
	addr, cc, s := startDoQ(t, Config{Handler: testHandler(t), IdleTimeout: 100 * time.Millisecond, QueryTimeout: 100 * time.Millisecond})
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
	skipUnderRace(t)
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
