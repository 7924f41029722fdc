//go:build !noquic

package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

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
			cfg := Config{Handler: testHandler(t), MaxConns: maxConns, MaxConnsPerClient: maxConns, TLSHandshakeTimeout: time.Minute}
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
			retryAt := int(h.retryAt.Load())
			if want := min(tt.blind, retryAt); int(h.pending.Load()) != want {
				t.Errorf("unproven handshakes counted: %d; want %d", h.pending.Load(), want)
			}
			if tt.blind >= retryAt && h.retries.Load() == 0 {
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
// DOQ_NO_ERROR after IdleTimeout, and its slot given back, even when
// the client keeps QUIC alive with PINGs.
func TestDoQIdlePings(t *testing.T) {
	checkLeaks(t)
	// QueryTimeout keeps QUIC's own idle timeout at six seconds, which
	// the PINGs reset. IdleTimeout must outlast the gaps between the
	// client's queries, which a loaded machine stretches past 100 ms: a
	// close in such a gap fails the next query.
	addr, cc, s := startDoQ(t, Config{Handler: testHandler(t), IdleTimeout: time.Second, QueryTimeout: 5 * time.Second})
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
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	n := 0
	for m := range s.life.conns {
		dc := m.(*doqConn)
		dc.idleMu.Lock()
		n += dc.active
		dc.idleMu.Unlock()
	}
	return n
}
