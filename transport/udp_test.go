package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestServers runs the same exchanges over a real UDP and a real TCP
// listener with miekg/dns's client as the peer.
func TestServers(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			cfg := Config{Handler: testHandler(t)}
			var addr string
			if network == "udp" {
				addr, _ = startUDP(t, cfg)
			} else {
				addr, _ = startTCP(t, cfg)
			}
			tests := []struct {
				name  string
				q     *dns.Msg
				rcode int
				check func(t *testing.T, r *dns.Msg)
			}{
				{"answer", query("example.com.", dns.TypeA, false, 0, false), dns.RcodeSuccess, func(t *testing.T, r *dns.Msg) {
					if len(r.Answer) != 1 {
						t.Errorf("got %d answers, want 1", len(r.Answer))
					}
				}},
				{"case kept", query("eXaMpLe.COM.", dns.TypeA, true, 1232, false), dns.RcodeSuccess, func(t *testing.T, r *dns.Msg) {
					if got := r.Question[0].Name; got != "eXaMpLe.COM." {
						t.Errorf("got question %q, want %q", got, "eXaMpLe.COM.")
					}
				}},
				{"edns echo", query("example.com.", dns.TypeA, true, 4096, true), dns.RcodeSuccess, func(t *testing.T, r *dns.Msg) {
					opt := r.IsEdns0()
					if opt == nil || opt.UDPSize() != 1232 || !opt.Do() {
						t.Errorf("got OPT %v, want size 1232 with DO", opt)
					}
				}},
				{"no edns no opt", query("example.com.", dns.TypeA, false, 0, false), dns.RcodeSuccess, func(t *testing.T, r *dns.Msg) {
					if r.IsEdns0() != nil {
						t.Errorf("got OPT, want none")
					}
				}},
				{"big", query("big.example.", dns.TypeA, true, 4096, false), dns.RcodeSuccess, func(t *testing.T, r *dns.Msg) {
					wantTC := network == "udp"
					if r.Truncated != wantTC || (wantTC && len(r.Answer) >= 100) || (!wantTC && len(r.Answer) != 100) {
						t.Errorf("got TC %v with %d answers, want TC %v (100 answers over TCP)", r.Truncated, len(r.Answer), wantTC)
					}
				}},
				{"notify", func() *dns.Msg {
					m := query("example.com.", dns.TypeSOA, false, 0, false)
					m.Opcode = dns.OpcodeNotify
					return m
				}(), dns.RcodeNotImplemented, nil},
				{"update", func() *dns.Msg {
					m := query("example.com.", dns.TypeSOA, false, 0, false)
					m.Opcode = dns.OpcodeUpdate
					return m
				}(), dns.RcodeNotImplemented, nil},
				{"badvers", func() *dns.Msg {
					m := query("example.com.", dns.TypeA, true, 1232, false)
					m.IsEdns0().SetVersion(1)
					return m
				}(), dns.RcodeBadVers, nil},
				{"handler EDE", query("fail.example.", dns.TypeA, true, 1232, false), dns.RcodeServerFailure, func(t *testing.T, r *dns.Msg) {
					if e := edes(r); len(e) != 1 || e[0].InfoCode != dns.ExtendedErrorCodeNoReachableAuthority {
						t.Errorf("got EDE %v, want code %d", e, dns.ExtendedErrorCodeNoReachableAuthority)
					}
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := exchange(t, network, addr, tt.q)
					if r.Rcode != tt.rcode {
						t.Errorf("got rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
					}
					if tt.check != nil {
						tt.check(t, r)
					}
				})
			}
		})
	}
}

func TestRefusedOutsideACL(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			cfg := Config{Handler: testHandler(t), AllowClients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
			var addr string
			if network == "udp" {
				addr, _ = startUDP(t, cfg)
			} else {
				addr, _ = startTCP(t, cfg)
			}
			r := exchange(t, network, addr, query("example.com.", dns.TypeA, true, 1232, false))
			if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
				t.Errorf("got rcode %s with %d answers, want REFUSED with none", dns.RcodeToString[r.Rcode], len(r.Answer))
			}
		})
	}
}

// TestUDPRawInput sends bytes miekg/dns's client would not: the server must
// drop what it cannot answer and FORMERR what it can.
func TestUDPRawInput(t *testing.T) {
	checkLeaks(t)
	// A datagram that must be dropped must not reach the handler either;
	// checked after the server's Shutdown (cleanups run last registered
	// first), when every handler has returned.
	var handled atomic.Bool
	t.Cleanup(func() {
		if handled.Load() {
			t.Error("a dropped datagram (ID 0x1234) reached the handler")
		}
	})
	h := testHandler(t)
	addr, _ := startUDP(t, Config{Handler: HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		if q.Id == 0x1234 {
			handled.Store(true)
		}
		return h(ctx, q)
	})})
	good := query("example.com.", dns.TypeA, false, 0, false)
	good.Id = 4242
	// sentinel is answered inline (FORMERR) like every reject: the reader
	// sends inline answers in the order it read the queries, so once
	// sentinel's answer is in, an inline answer to raw would be too.
	// good's is not ordered with either: the handler answers it from
	// its own goroutine, which may write before the reader sends the
	// inline answers of the batch (recvmmsg) both were read in.
	sentinel := append(withFlags(make([]byte, 12), 0, 0), 0x3f, 'x')
	sentinel[0], sentinel[1], sentinel[5] = 0x56, 0x78, 1

	tests := []struct {
		name  string
		raw   []byte
		rcode int // -1: dropped
	}{
		{"short header", []byte{1, 2, 3, 4, 5}, -1},
		{"response", withFlags(pack(t, query("example.com.", dns.TypeA, false, 0, false)), bitQR, 0), -1},
		{"malformed", append(withFlags(make([]byte, 12), 0, 0), 0x3f, 'x'), dns.RcodeFormatError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, "udp", addr)
			raw := append([]byte(nil), tt.raw...)
			if len(raw) >= 12 {
				raw[4], raw[5] = 0, 1 // QDCOUNT 1
				raw[0], raw[1] = 0x12, 0x34
			}
			for _, m := range [][]byte{raw, pack(t, good), sentinel} {
				if _, err := c.Write(m); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			rcodes := map[uint16]int{} // answers by ID
			buf := make([]byte, 65535)
			for {
				_, gotGood := rcodes[good.Id]
				_, gotSentinel := rcodes[0x5678]
				if gotGood && gotSentinel {
					break
				}
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("Read: %v (answers so far, by ID: %v)", err, rcodes)
				}
				r := new(dns.Msg)
				if err := r.Unpack(buf[:n]); err != nil {
					t.Fatalf("Unpack: %v", err)
				}
				if _, dup := rcodes[r.Id]; dup {
					t.Fatalf("two answers with ID %#x", r.Id)
				}
				rcodes[r.Id] = r.Rcode
			}
			rc, answered := rcodes[0x1234]
			switch {
			case tt.rcode < 0 && answered:
				t.Errorf("got an answer (rcode %s) to the datagram, want it dropped", dns.RcodeToString[rc])
			case tt.rcode >= 0 && !answered:
				t.Errorf("no answer to the datagram before the next reject's, want %s", dns.RcodeToString[tt.rcode])
			case tt.rcode >= 0 && rc != tt.rcode:
				t.Errorf("got rcode %s, want %s", dns.RcodeToString[rc], dns.RcodeToString[tt.rcode])
			}
			if rcodes[good.Id] != dns.RcodeSuccess || rcodes[0x5678] != dns.RcodeFormatError {
				t.Errorf("good query rcode %s, sentinel %s; want NOERROR, FORMERR", dns.RcodeToString[rcodes[good.Id]], dns.RcodeToString[rcodes[0x5678]])
			}
		})
	}
}

// TestUDPLimits checks the wire size of UDP answers against the client's
// advertised size.
func TestUDPLimits(t *testing.T) {
	checkLeaks(t)
	addr, _ := startUDP(t, Config{Handler: testHandler(t)})
	tests := []struct {
		edns  bool
		size  uint16
		limit int
	}{
		{false, 0, 512},
		{true, 100, 512},
		{true, 1000, 1000},
		{true, 1232, 1232},
		{true, 65000, 1232},
	}
	for _, tt := range tests {
		c := dialRaw(t, "udp", addr)
		if _, err := c.Write(pack(t, query("big.example.", dns.TypeA, tt.edns, tt.size, false))); err != nil {
			t.Fatalf("Write: %v", err)
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatalf("Unpack: %v", err)
		}
		if n > tt.limit || !r.Truncated {
			t.Errorf("EDNS %v size %d: got %d bytes TC %v, want <= %d with TC", tt.edns, tt.size, n, r.Truncated, tt.limit)
		}
	}
}

// TestUDPInFlightCap: with one handler slot busy, a further miss is dropped
// rather than queued, and cache hits are still answered.
func TestUDPInFlightCap(t *testing.T) {
	checkLeaks(t)
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	var calls atomic.Int32
	h := newCacheHandler(t)
	slow := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		calls.Add(1)
		if q.Question[0].Name == "slow.example." {
			entered <- struct{}{}
			<-release
		}
		return new(dns.Msg), nil
	})
	addr, _ := startUDP(t, Config{Handler: cachedHandler{h, slow}, MaxUDPInFlight: 1})
	c := dialRaw(t, "udp", addr)
	send := func(name string, id uint16) {
		m := query(name, dns.TypeA, false, 0, false)
		m.Id = id
		if _, err := c.Write(pack(t, m)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	recv := func() uint16 {
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatalf("Unpack: %v", err)
		}
		return r.Id
	}
	send("slow.example.", 1)
	<-entered
	send("miss.example.", 2) // no slot: dropped
	send("example.com.", 3)  // cache hit: answered inline
	if got := recv(); got != 3 {
		t.Fatalf("got reply %d first, want 3 (cache hit)", got)
	}
	close(release)
	if got := recv(); got != 1 {
		t.Fatalf("got reply %d, want 1 (slow query)", got)
	}
	send("other.example.", 4)
	if got := recv(); got != 4 {
		t.Errorf("got reply %d, want 4 (the dropped query 2 must never be answered)", got)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("got %d ServeDNS calls, want 2", got)
	}
}

// cachedHandler combines a CacheAnswerer with another Handler for misses.
type cachedHandler struct {
	c *cacheHandler
	Handler
}

func (h cachedHandler) AnswerCached(q *dns.Msg) (*dns.Msg, bool) { return h.c.AnswerCached(q) }

// blockingHandler lets a test hold queries inside ServeDNS.
type blockingHandler struct {
	entered chan struct{}
	release chan struct{}
	ctxErr  chan error
}

func newBlockingHandler() *blockingHandler {
	return &blockingHandler{
		entered: make(chan struct{}, 10),
		release: make(chan struct{}),
		ctxErr:  make(chan error, 10),
	}
}

func (h *blockingHandler) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	h.entered <- struct{}{}
	select {
	case <-h.release:
		r := new(dns.Msg)
		r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
		return r, nil
	case <-ctx.Done():
		h.ctxErr <- ctx.Err()
		return nil, ctx.Err()
	}
}

// shutdownServer is what the Shutdown tests need of either server.
type shutdownServer interface {
	Shutdown(ctx context.Context) error
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			h := newBlockingHandler()
			var (
				srv   shutdownServer
				addr  string
				serve = make(chan error, 1)
			)
			if network == "udp" {
				pc, err := ListenUDP("127.0.0.1:0")
				if err != nil {
					t.Fatalf("ListenUDP: %v", err)
				}
				s := NewUDPServer(Config{Handler: h})
				go func() { serve <- s.Serve(pc) }()
				srv, addr = s, pc.LocalAddr().String()
			} else {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatalf("Listen: %v", err)
				}
				s := NewTCPServer(Config{Handler: h})
				go func() { serve <- s.Serve(l) }()
				srv, addr = s, l.Addr().String()
			}

			answer := make(chan *dns.Msg, 1)
			go func() {
				c := &dns.Client{Net: network, Timeout: testTimeout}
				r, _, err := c.Exchange(query("held.example.", dns.TypeA, false, 0, false), addr)
				if err != nil {
					t.Errorf("Exchange: %v", err)
				}
				answer <- r
			}()
			<-h.entered

			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				shut <- srv.Shutdown(ctx)
			}()
			if err := <-serve; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: got %v, want ErrServerClosed", err)
			}
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned %v with a query in flight", err)
			default:
			}
			close(h.release)
			if r := <-answer; r == nil || len(r.Answer) != 1 {
				t.Errorf("in-flight query: got %v, want its answer", r)
			}
			if err := <-shut; err != nil {
				t.Errorf("Shutdown: got %v, want nil", err)
			}
		})
	}
}

func TestShutdownDeadline(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			h := newBlockingHandler()
			var (
				srv   shutdownServer
				addr  string
				serve = make(chan error, 1)
			)
			if network == "udp" {
				pc, err := ListenUDP("127.0.0.1:0")
				if err != nil {
					t.Fatalf("ListenUDP: %v", err)
				}
				s := NewUDPServer(Config{Handler: h})
				go func() { serve <- s.Serve(pc) }()
				srv, addr = s, pc.LocalAddr().String()
			} else {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatalf("Listen: %v", err)
				}
				s := NewTCPServer(Config{Handler: h})
				go func() { serve <- s.Serve(l) }()
				srv, addr = s, l.Addr().String()
			}
			c := dialRaw(t, network, addr)
			msg := pack(t, query("held.example.", dns.TypeA, false, 0, false))
			if network == "tcp" {
				writeFrame(t, c, msg)
			} else if _, err := c.Write(msg); err != nil {
				t.Fatalf("Write: %v", err)
			}
			<-h.entered

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown: got %v, want context.Canceled", err)
			}
			if err := <-h.ctxErr; !errors.Is(err, context.Canceled) {
				t.Errorf("handler ctx: got %v, want context.Canceled", err)
			}
			if err := <-serve; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: got %v, want ErrServerClosed", err)
			}
		})
	}
}

func TestServeAfterShutdown(t *testing.T) {
	checkLeaks(t)
	u := NewUDPServer(Config{Handler: testHandler(t)})
	if err := u.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	pc, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenUDP: %v", err)
	}
	defer pc.Close()
	if err := u.Serve(pc); !errors.Is(err, ErrServerClosed) {
		t.Errorf("UDP Serve after Shutdown: got %v, want ErrServerClosed", err)
	}
	if err := NewUDPServer(Config{}).Serve(pc); err == nil {
		t.Errorf("Serve without Handler: got nil error, want one")
	}
}

func TestErrorLogHasNoAddress(t *testing.T) {
	var got []error
	cfg := newPipeline(Config{ErrorLog: func(err error) { got = append(got, err) }})
	op := &net.OpError{Op: "write", Net: "udp", Addr: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 55), Port: 5353}, Err: errors.New("no buffer space")}
	cfg.logSocketError("transport: udp write", op)
	if len(got) != 1 {
		t.Fatalf("got %d errors, want 1", len(got))
	}
	if s := got[0].Error(); s != "transport: udp write: no buffer space" {
		t.Errorf("got %q, want the address stripped", s)
	}
}

func BenchmarkUDPCacheHit(b *testing.B) {
	pc, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		b.Fatalf("ListenUDP: %v", err)
	}
	s := NewUDPServer(Config{Handler: newCacheHandler(b)})
	go s.Serve(pc)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	addr := pc.LocalAddr().(*net.UDPAddr)
	raw := pack(b, query("www.example.com.", dns.TypeA, true, 1232, true))

	b.ReportAllocs()
	b.SetParallelism(4) // 4×GOMAXPROCS client sockets, one query each in flight
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			b.Errorf("DialUDP: %v", err)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		buf := make([]byte, 1500)
		for pb.Next() {
			if _, err := c.Write(raw); err != nil {
				b.Errorf("Write: %v", err)
				return
			}
			if _, err := c.Read(buf); err != nil {
				b.Errorf("Read: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
}

func TestListenUDPGroup(t *testing.T) {
	checkLeaks(t)
	if !reusePortSupported {
		t.Skip("no SO_REUSEPORT here")
	}
	conns, err := ListenUDPGroup("127.0.0.1:0", 3)
	if err != nil {
		t.Fatalf("ListenUDPGroup: %v", err)
	}
	s := NewUDPServer(Config{Handler: testHandler(t)})
	done := make(chan error, len(conns))
	for _, c := range conns {
		if c.LocalAddr().String() != conns[0].LocalAddr().String() {
			t.Errorf("got socket on %s, want all on %s", c.LocalAddr(), conns[0].LocalAddr())
		}
		go func() { done <- s.Serve(c) }()
	}
	// Several client sockets, so that the kernel's hash likely uses more
	// than one server socket; every query must be answered either way.
	for range 8 {
		r := exchange(t, "udp", conns[0].LocalAddr().String(), query("example.com.", dns.TypeA, false, 0, false))
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Errorf("got rcode %s with %d answers, want NOERROR with 1", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for range conns {
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v, want ErrServerClosed", err)
		}
	}
	if _, err := ListenUDPGroup("127.0.0.1:0", 0); err == nil {
		t.Errorf("ListenUDPGroup with 0 sockets: got nil error, want one")
	}
}

// TestQueryNotReusedAfterHandoff: the readers reuse one query message across
// cache hits; a miss hands it to a handler goroutine, and hits that follow
// must not overwrite what that handler sees.
func TestQueryNotReusedAfterHandoff(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			h := newBlockingHandler()
			cfg := Config{Handler: cachedHandler{newCacheHandler(t), h}}
			var addr string
			if network == "udp" {
				addr, _ = startUDP(t, cfg)
			} else {
				addr, _ = startTCP(t, cfg)
			}
			c := dialRaw(t, network, addr)
			co := &dns.Conn{Conn: c}
			send := func(name string, id uint16) {
				m := query(name, dns.TypeA, true, 1232, false)
				m.Id = id
				if err := co.WriteMsg(m); err != nil {
					t.Fatalf("WriteMsg: %v", err)
				}
			}
			send("miss.example.", 1)
			<-h.entered
			send("example.com.", 2)
			send("www.example.com.", 3)
			for _, want := range []uint16{2, 3} {
				if r, err := co.ReadMsg(); err != nil || r.Id != want {
					t.Fatalf("got reply %v, %v; want ID %d", r, err, want)
				}
			}
			close(h.release)
			r, err := co.ReadMsg()
			if err != nil {
				t.Fatalf("ReadMsg: %v", err)
			}
			if r.Id != 1 || len(r.Answer) != 1 || r.Answer[0].Header().Name != "miss.example." {
				t.Errorf("miss: got ID %d answer %v, want ID 1 answering miss.example.", r.Id, r.Answer)
			}
		})
	}
}
