package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// orderHandler blocks "first.example." until "second.example." has been
// answered on the wire (the test closes release after reading it).
type orderHandler struct {
	entered chan string
	release chan struct{}
}

func (h *orderHandler) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	name := q.Question[0].Name
	h.entered <- name
	if name == "first.example." {
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r := new(dns.Msg)
	r.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{name}}}
	return r, nil
}

func TestTCPPipelining(t *testing.T) {
	tests := []struct {
		name      string
		inFlight  int
		wantOrder []uint16
	}{
		// Concurrent: the second is answered while the first still waits.
		{"out of order", 0, []uint16{2, 1}},
		// One slot: the second is not even read before the first is done.
		{"in-flight cap 1", 1, []uint16{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			h := &orderHandler{entered: make(chan string, 2), release: make(chan struct{})}
			var once sync.Once
			release := func() { once.Do(func() { close(h.release) }) }
			addr, _ := startTCP(t, Config{Handler: h, MaxInFlightPerConn: tt.inFlight})
			t.Cleanup(release) // runs before the server's Shutdown
			c := dialRaw(t, "tcp", addr)
			for i, name := range []string{"first.example.", "second.example."} {
				m := query(name, dns.TypeTXT, false, 0, false)
				m.Id = uint16(i + 1)
				writeFrame(t, c, pack(t, m))
			}
			if tt.inFlight == 1 {
				// Only the first can have been read.
				if got := <-h.entered; got != "first.example." {
					t.Fatalf("got %s handled first, want first.example.", got)
				}
				release()
			}
			var got []uint16
			for range 2 {
				r := readFrame(t, c)
				got = append(got, r.Id)
				release() // after the first reply, whichever it is
				if want := r.Answer[0].(*dns.TXT).Txt[0]; r.Question[0].Name != want {
					t.Errorf("reply %d: got question %s with answer for %s", r.Id, r.Question[0].Name, want)
				}
			}
			if len(got) != 2 || got[0] != tt.wantOrder[0] || got[1] != tt.wantOrder[1] {
				t.Errorf("got replies in order %v, want %v", got, tt.wantOrder)
			}
		})
	}
}

// TestTCPClosesConnection covers the ways the server ends a connection; in
// each the client sees EOF (a reset would do too), never a timeout.
func TestTCPClosesConnection(t *testing.T) {
	tests := []struct {
		name string
		send []byte
	}{
		{"idle", nil},
		{"zero length", []byte{0, 0}},
		{"shorter than header", []byte{0, 5, 1, 2, 3, 4, 5}},
		{"slow message", []byte{0, 40, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			addr, _ := startTCP(t, Config{Handler: testHandler(t), IdleTimeout: 1})
			c := dialRaw(t, "tcp", addr)
			if tt.send != nil {
				if _, err := c.Write(tt.send); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			wantClosed(t, c)
		})
	}
}

// wantClosed reads until the server closes c; the dialRaw deadline turns
// a server that never closes into a failure.
func wantClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open at the test deadline")
	}
}

// TestTCPFormErrKeepsConnection: a complete but malformed message is
// answered FORMERR and the connection stays usable.
func TestTCPFormErrKeepsConnection(t *testing.T) {
	checkLeaks(t)
	addr, _ := startTCP(t, Config{Handler: testHandler(t)})
	c := dialRaw(t, "tcp", addr)
	bad := make([]byte, 20)
	binary.BigEndian.PutUint16(bad, 7)
	binary.BigEndian.PutUint16(bad[4:], 1)
	bad[12] = 60 // a 60-byte label in 8 bytes
	writeFrame(t, c, bad)
	if r := readFrame(t, c); r.Id != 7 || r.Rcode != dns.RcodeFormatError {
		t.Errorf("got ID %d rcode %s, want 7 FORMERR", r.Id, dns.RcodeToString[r.Rcode])
	}
	m := query("example.com.", dns.TypeA, false, 0, false)
	writeFrame(t, c, pack(t, m))
	if r := readFrame(t, c); r.Id != m.Id || r.Rcode != dns.RcodeSuccess {
		t.Errorf("got ID %d rcode %s, want %d NOERROR", r.Id, dns.RcodeToString[r.Rcode], m.Id)
	}
}

// blockHandler holds "block.example." until release is closed, and
// answers everything else as testHandler does.
func blockHandler(t testing.TB, release <-chan struct{}) HandlerFunc {
	h := testHandler(t)
	return func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		if q.Question[0].Name == "block.example." {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			r := new(dns.Msg)
			r.Answer = []dns.RR{mustRR(t, "block.example. 300 IN A 192.0.2.1")}
			return r, nil
		}
		return h(ctx, q)
	}
}

// TestTCPConnectionCap: a connection over the per-client cap is closed at
// once, whatever the others do. One over MaxConns is closed only when
// every connection has a query in flight; otherwise it takes the slot of
// the connection idle the longest, which is closed (see
// TestSlowConnectionsCannotHoldSlots).
func TestTCPConnectionCap(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		// other reports whether a second client (127.0.0.2) still gets
		// a slot while the first holds its one, busy.
		other bool
	}{
		{"server cap", Config{MaxConns: 1}, false},
		{"per-client cap", Config{MaxConns: 100, MaxConnsPerClient: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			release := make(chan struct{})
			tt.cfg.Handler = blockHandler(t, release)
			addr, _ := startTCP(t, tt.cfg)
			served := func(c net.Conn) bool {
				co := &dns.Conn{Conn: c}
				if err := co.WriteMsg(query("example.com.", dns.TypeA, false, 0, false)); err != nil {
					return false
				}
				_, err := co.ReadMsg()
				return err == nil
			}
			// The first connection is busy: its query waits for release.
			first := dialRaw(t, "tcp", addr)
			fc := &dns.Conn{Conn: first}
			if err := fc.WriteMsg(query("block.example.", dns.TypeA, false, 0, false)); err != nil {
				t.Fatal(err)
			}
			if !served(first) {
				t.Fatal("first connection not served")
			}
			second := dialRaw(t, "tcp", addr)
			wantClosed(t, second)

			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: testTimeout}
			other, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.SetDeadline(time.Now().Add(testTimeout)); err != nil {
				t.Fatal(err)
			}
			if tt.other {
				if !served(other) {
					t.Error("another client was refused by one client's cap")
				}
			} else {
				wantClosed(t, other)
			}

			// Once the first connection is idle, a new one is served:
			// at the server cap by taking its slot, at the per-client
			// cap once it is closed. The server learns that the
			// first is idle just after writing its answer: retry
			// until then.
			close(release)
			if _, err := fc.ReadMsg(); err != nil {
				t.Fatalf("blocked query: %v", err)
			}
			if tt.other {
				first.Close()
			}
			for deadline := time.Now().Add(testTimeout); ; {
				c := dialRaw(t, "tcp", addr)
				ok := served(c)
				c.Close()
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no connection served after the first was idle")
				}
			}
			if !tt.other {
				wantClosed(t, first)
			}
		})
	}
}

// FuzzTCPFraming feeds an arbitrary byte stream to one connection over
// net.Pipe: the server must not panic, must end the connection when the
// stream ends, and every frame it sends must be a DNS message.
func FuzzTCPFraming(f *testing.F) {
	q := pack(f, query("example.com.", dns.TypeA, true, 1232, false))
	frame := func(b []byte) []byte { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }
	f.Add(frame(q))
	f.Add(append(frame(q), frame(q)...))
	f.Add(append(frame(q), 0, 0))
	f.Add([]byte{0, 5, 1, 2, 3, 4, 5})
	f.Add([]byte{0xff, 0xff, 1})
	f.Add(frame(pack(f, query("big.example.", dns.TypeA, false, 0, false))))
	f.Add(frame(make([]byte, 12)))

	s := NewTCPServer(Config{Handler: testHandler(f), MaxInFlightPerConn: 2, QueryTimeout: 50 * time.Millisecond})
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			tc := s.newConn(server, server, len(data)%2 == 0)
			tc.slot, _ = s.limit.acquire(netip.Addr{}, tc.evict)
			defer tc.slot.release()
			tc.serve()
		}()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			co := &dns.Conn{Conn: client}
			for {
				b, err := co.ReadMsgHeader(nil)
				if err != nil {
					return
				}
				if err := new(dns.Msg).Unpack(b); err != nil {
					t.Errorf("server sent a frame that does not unpack: %v", err)
				}
			}
		}()
		_, _ = client.Write(data)
		client.Close()
		<-done
		wg.Wait()
	})
}
