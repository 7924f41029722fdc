//go:build !noquic

package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// slotAttack is one transport under TestSlowConnectionsCannotHoldSlots:
// how an attacker holds a connection slot without asking anything, and
// how a normal client asks one question on a new connection.
type slotAttack struct {
	name string
	// start serves cfg and returns the server's address and a client
	// TLS config that trusts it (nil for plain TCP).
	start func(t *testing.T, cfg Config) (addr string, cc *tls.Config)
	// slow opens connection i from src and leaves it holding a slot,
	// until the test ends. The server may close it at once, or later:
	// that is not an error.
	slow func(t *testing.T, i int, src netip.Addr, addr string, cc *tls.Config)
	// ask asks one question on a new connection.
	ask func(ctx context.Context, i int, addr string, cc *tls.Config) error
}

// slowDial connects from src, or returns nil when the server is not
// reachable; the connection is closed at cleanup.
func slowDial(t *testing.T, src netip.Addr, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: testTimeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("slow connection: dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// askStream asks over TCP or DoT with miekg/dns's client, which dials a
// new connection for every Exchange.
func askStream(ctx context.Context, network, addr string, cc *tls.Config) error {
	c := &dns.Client{Net: network, TLSConfig: cc, Timeout: testTimeout}
	r, _, err := c.ExchangeContext(ctx, query("example.com.", dns.TypeA, false, 0, false), addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Errorf("got %s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

var slotAttacks = []slotAttack{{
	name: "tcp",
	start: func(t *testing.T, cfg Config) (string, *tls.Config) {
		addr, _ := startTCP(t, cfg)
		return addr, nil
	},
	// One octet of a length prefix, and then nothing: a byte every
	// few seconds would do the same, slower.
	slow: func(t *testing.T, _ int, src netip.Addr, addr string, _ *tls.Config) {
		c := slowDial(t, src, addr)
		_, _ = c.Write([]byte{0})
	},
	ask: func(ctx context.Context, _ int, addr string, _ *tls.Config) error {
		return askStream(ctx, "tcp", addr, nil)
	},
}, {
	name: "dot",
	start: func(t *testing.T, cfg Config) (string, *tls.Config) {
		addr, cc, _ := startTLS(t, cfg)
		return addr, cc
	},
	// A TLS handshake never started.
	slow: func(t *testing.T, _ int, src netip.Addr, addr string, _ *tls.Config) {
		slowDial(t, src, addr)
	},
	ask: func(ctx context.Context, _ int, addr string, cc *tls.Config) error {
		return askStream(ctx, "tcp-tls", addr, cc)
	},
}, {
	name: "doh",
	start: func(t *testing.T, cfg Config) (string, *tls.Config) {
		ts := startDoH(t, cfg, DoHOptions{})
		return fmt.Sprintf("127.0.0.1:%d", ts.port), ts.cc
	},
	// Half never start TLS; the others finish it and trickle an
	// HTTP/1.1 request header that never ends.
	slow: func(t *testing.T, i int, src netip.Addr, addr string, cc *tls.Config) {
		c := slowDial(t, src, addr)
		if i%2 == 0 {
			return
		}
		cc = cc.Clone()
		cc.NextProtos = []string{"http/1.1"}
		tc := tls.Client(c, cc)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if tc.HandshakeContext(ctx) != nil {
			return // closed to make room for a later one
		}
		_, _ = io.WriteString(tc, "GET /dns-query?dns=AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE HTTP/1.1\r\nHost: 127.0.0.1\r\nAcc")
	},
	// HTTP/1.1 and HTTP/2 in turn, each question on a new connection.
	ask: func(ctx context.Context, i int, addr string, cc *tls.Config) error {
		var p http.Protocols
		if i%2 == 0 {
			p.SetHTTP1(true)
		} else {
			p.SetHTTP2(true)
		}
		tr := &http.Transport{TLSClientConfig: cc.Clone(), Protocols: &p, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		q, err := query("example.com.", dns.TypeA, false, 0, false).Pack()
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+DefaultDoHPath, bytes.NewReader(q))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", mediaDNSMessage)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		r := new(dns.Msg)
		if resp.StatusCode != http.StatusOK || r.Unpack(body) != nil || len(r.Answer) != 1 {
			return fmt.Errorf("got HTTP %d, %d octets", resp.StatusCode, len(body))
		}
		return nil
	},
}, {
	name: "doq",
	start: func(t *testing.T, cfg Config) (string, *tls.Config) {
		addr, cc, _ := startDoQ(t, cfg)
		return addr, cc
	},
	// A connection that completed its handshake and opens no stream.
	slow: func(t *testing.T, _ int, src netip.Addr, addr string, cc *tls.Config) {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		if err != nil {
			t.Fatalf("slow connection: %v", err)
		}
		tr := &quic.Transport{Conn: pc}
		t.Cleanup(func() {
			tr.Close()
			pc.Close()
		})
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		c, err := tr.Dial(ctx, ua, cc, &quic.Config{})
		if err != nil {
			t.Fatalf("slow connection: quic dial: %v", err)
		}
		t.Cleanup(func() { c.CloseWithError(DoQNoError, "") })
	},
	ask: func(ctx context.Context, _ int, addr string, cc *tls.Config) error {
		c, err := quic.DialAddr(ctx, addr, cc, &quic.Config{})
		if err != nil {
			return err
		}
		defer c.CloseWithError(DoQNoError, "")
		str, err := c.OpenStreamSync(ctx)
		if err != nil {
			return err
		}
		if d, ok := ctx.Deadline(); ok {
			_ = str.SetDeadline(d)
		}
		m := query("example.com.", dns.TypeA, false, 0, false)
		m.Id = 0
		q, err := m.Pack()
		if err != nil {
			return err
		}
		if _, err := str.Write(framed(q)); err != nil {
			return err
		}
		_ = str.Close()
		raw, err := readResponse(str)
		if err != nil {
			return err
		}
		r := new(dns.Msg)
		if err := r.Unpack(raw); err != nil || len(r.Answer) != 1 {
			return fmt.Errorf("bad response: %v", err)
		}
		return nil
	},
}}

// TestSlowConnectionsCannotHoldSlots is the attack of issue 13, scaled
// down: slow connections from several addresses, each under the
// per-client cap, more of them than MaxConns, and more coming before
// every question, try to hold every slot of a listener (TCP sending one
// octet of a length prefix, TLS never started, a DoH header trickled, a
// QUIC connection without streams), while a normal client asks 27
// questions, each on a new connection. The client must get at least 25
// answers: before connSlots it got none, being closed at once.
//
// The timeouts are long, so that only the making of room is tested: the
// attackers' connections never time out during the test. Everything is
// sequential (a slow connection is open, as far as the client can tell,
// before the next question), so that the result does not depend on
// timing.
//
// HUSH_SLOTS_FULL=1 runs it at the scale: 1,000 slots, 1,100 slow
// connections from 40 addresses.
func TestSlowConnectionsCannotHoldSlots(t *testing.T) {
	const (
		slowMore  = 2 // slow connections before each question
		questions = 27
		want      = 25
	)
	maxConns, slowStart, sources := 50, 55, 8 // attackers from 127.0.0.10 on
	if os.Getenv("HUSH_SLOTS_FULL") != "" {
		maxConns, slowStart, sources = 1000, 1100, 40
	}
	for _, at := range slotAttacks {
		t.Run(at.name, func(t *testing.T) {
			checkLeaks(t)
			cfg := Config{
				Handler:             testHandler(t),
				MaxConns:            maxConns,
				IdleTimeout:         time.Minute,
				TLSHandshakeTimeout: time.Minute,
			}
			addr, cc := at.start(t, cfg)
			n := 0
			attack := func(k int) {
				for range k {
					src := netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + n%sources)})
					at.slow(t, n, src, addr, cc)
					n++
				}
			}
			attack(slowStart)
			answered := 0
			var lastErr error
			for i := range questions {
				attack(slowMore)
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				err := at.ask(ctx, i, addr, cc)
				cancel()
				if err == nil {
					answered++
				} else {
					lastErr = err
				}
			}
			t.Logf("%d answers to %d questions among %d slow connections", answered, questions, n)
			if answered < want {
				t.Errorf("a normal client got %d answers to %d questions among %d slow connections; want at least %d (last error: %v)",
					answered, questions, n, want, lastErr)
			}
		})
	}
}
