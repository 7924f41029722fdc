package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testTimeout bounds every wait in the socket tests, so that a bug fails
// a test instead of hanging it. No test asserts on how long anything took.
const testTimeout = 10 * time.Second

// checkLeaks fails t if goroutines started during t are still running
// when its cleanups have run. It must be called first in a test (cleanups
// run last-in first-out) and not in parallel tests.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(testTimeout)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines after test: got %d, want <= %d\n%s", n, before, buf)
				return
			}
			// Polling, not synchronisation: exiting goroutines give no signal.
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// edeError is a handler error with an Extended DNS Error.
type edeError struct {
	code uint16
	text string
}

func (e *edeError) Error() string { return fmt.Sprintf("test: failed (EDE %d)", e.code) }
func (e *edeError) ExtendedDNSError() (uint16, string) {
	return e.code, e.text
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return rr
}

// manyA returns n A records for name.
func manyA(t testing.TB, name string, n int) []dns.RR {
	rrs := make([]dns.RR, n)
	for i := range rrs {
		rrs[i] = mustRR(t, fmt.Sprintf("%s 300 IN A 192.0.2.%d", name, i%250+1))
	}
	return rrs
}

// testHandler answers a small fixed namespace; each name exercises one
// behaviour of the transport.
func testHandler(t testing.TB) HandlerFunc {
	big := manyA(t, "big.example.", 100)
	chain := append([]dns.RR{mustRR(t, "chain.example. 300 IN CNAME big.example.")}, big...)
	glue := append(manyA(t, "a.glue.example.", 20), manyA(t, "b.glue.example.", 20)...)
	return func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		switch name := strings.ToLower(q.Question[0].Name); name {
		case "example.com.", "ad.example.":
			r.Answer = []dns.RR{mustRR(t, name+" 300 IN A 192.0.2.1")}
			r.AuthenticatedData = name == "ad.example."
		case "big.example.":
			r.Answer = big
		case "chain.example.":
			r.Answer = chain
		case "glue.example.":
			r.Answer = []dns.RR{mustRR(t, "glue.example. 300 IN A 192.0.2.1")}
			r.Extra = glue
		case "ede.example.":
			r.Rcode = dns.RcodeNameError
			r.SetEdns0(4096, true)
			opt := r.IsEdns0()
			opt.Option = append(opt.Option,
				&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6869"},
				&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeBlocked, ExtraText: "blocked"})
		case "fail.example.":
			return nil, fmt.Errorf("wrapped: %w", &edeError{code: dns.ExtendedErrorCodeNoReachableAuthority, text: "no reachable authority"})
		case "plainfail.example.":
			return nil, errors.New("test: plain failure")
		case "timeout.example.":
			<-ctx.Done()
			return nil, ctx.Err()
		case "panic.example.":
			panic("test: boom")
		case "nil.example.":
			return nil, nil
		case "badpack.example.":
			r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "not-fqdn", Rrtype: dns.TypeA, Class: dns.ClassINET}}}
		case "xrcode.example.":
			r.Rcode = dns.RcodeBadCookie
		default:
			r.Rcode = dns.RcodeNameError
		}
		return r, nil
	}
}

// query builds a query for name and type, optionally with EDNS.
func query(name string, qtype uint16, edns bool, size uint16, do bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(size, do)
	}
	return m
}

func pack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return b
}

// startUDP serves cfg on a fresh 127.0.0.1:0 UDP socket and shuts the
// server down at cleanup.
func startUDP(t *testing.T, cfg Config) (string, *UDPServer) {
	t.Helper()
	pc, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenUDP: %v", err)
	}
	s := NewUDPServer(cfg)
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
	return pc.LocalAddr().String(), s
}

// startTCP is startUDP for TCP.
func startTCP(t *testing.T, cfg Config) (string, *TCPServer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	s := NewTCPServer(cfg)
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
	return l.Addr().String(), s
}

// exchange sends m with miekg/dns's client over network.
func exchange(t *testing.T, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: testTimeout}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("Exchange over %s: %v", network, err)
	}
	return r
}

// dialRaw connects a plain socket with a safety deadline.
func dialRaw(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("Dial %s: %v", network, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("SetDeadline: %v", err)
	}
	return c
}

// writeFrame writes one TCP-framed message.
func writeFrame(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	frame := append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)
	if _, err := c.Write(frame); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// readFrame reads one TCP-framed message and unpacks it.
func readFrame(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	co := &dns.Conn{Conn: c}
	r, err := co.ReadMsg()
	if err != nil {
		t.Fatalf("ReadMsg: %v", err)
	}
	return r
}
