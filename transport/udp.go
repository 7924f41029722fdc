package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// udpReadSize is the read buffer of a UDP reader: the largest datagram, so
// that an oversized query is seen whole (and answered or rejected) rather
// than silently cut.
const udpReadSize = 65535

// udpSocketBuffer is the receive buffer ListenUDP asks for, enough for a
// burst of several thousand queries while the reader is busy. The kernel
// may grant less (net.core.rmem_max).
const udpSocketBuffer = 4 << 20

// ListenUDP opens a UDP socket on addr ("127.0.0.1:53", "[::1]:0") with a
// large receive buffer, ready for UDPServer.Serve. It does not set
// SO_REUSEPORT; see ListenUDPGroup for several sockets on one address.
func ListenUDP(addr string) (net.PacketConn, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen udp: %w", err)
	}
	tuneUDP(c)
	return c, nil
}

// ListenUDPGroup opens n UDP sockets on one address with SO_REUSEPORT, so
// that n UDPServer.Serve calls (n readers) share the load; the kernel
// spreads clients over the sockets by address hash, so one client always
// reaches the same socket. If addr's port is 0, all sockets get the port
// the first one was given. On systems without SO_REUSEPORT it fails for
// n > 1. On error no socket is left open.
func ListenUDPGroup(addr string, n int) ([]net.PacketConn, error) {
	if n < 1 {
		return nil, fmt.Errorf("transport: listen udp group: %d sockets", n)
	}
	if n > 1 && !reusePortSupported {
		return nil, errors.New("transport: listen udp group: SO_REUSEPORT not supported here")
	}
	lc := net.ListenConfig{Control: setReusePort}
	conns := make([]net.PacketConn, 0, n)
	for range n {
		c, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, fmt.Errorf("transport: listen udp group: %w", err)
		}
		tuneUDP(c)
		conns = append(conns, c)
		addr = c.LocalAddr().String() // pin port 0 to the first socket's port
	}
	return conns, nil
}

// tuneUDP enlarges the socket buffers. Failure is not fatal: the socket
// works, it only drops sooner under a burst.
func tuneUDP(c net.PacketConn) {
	if uc, ok := c.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(udpSocketBuffer)
		_ = uc.SetWriteBuffer(udpSocketBuffer)
	}
}

// UDPServer answers DNS queries on UDP sockets. One goroutine reads each
// socket given to Serve; it runs the checks and the CacheAnswerer fast path
// inline and starts a goroutine only for a query the handler must work on
// (at most Config.MaxUDPInFlight at once; beyond that queries are dropped).
//
// Responses are limited to 512 bytes for a client without EDNS and to the
// client's advertised size, clamped to 512–1232, for one with EDNS; larger
// responses are truncated to whole RRsets with TC set, so the client
// retries over TCP.
type UDPServer struct {
	cfg Config

	// base is the parent of every handler context. It lives as long as
	// the server, which is why it is kept here (the rule against contexts
	// in structs is about request scope); Shutdown cancels it when its
	// own ctx runs out.
	base       context.Context
	cancelBase context.CancelFunc

	closed   atomic.Bool  // set once Shutdown starts; readers check it
	inflight atomic.Int64 // handler goroutines running
	readers  sync.WaitGroup
	handlers sync.WaitGroup
	scratch  sync.Pool // *scratch for handler goroutines

	mu    sync.Mutex
	conns map[net.PacketConn]struct{} // mu guards; sockets being served
}

// NewUDPServer returns a server for cfg, with defaults filled in. It does
// not open a socket: call Serve.
func NewUDPServer(cfg Config) *UDPServer {
	s := &UDPServer{
		cfg:   cfg.withDefaults(),
		conns: make(map[net.PacketConn]struct{}),
	}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.scratch.New = func() any { return newScratch() }
	return s
}

// Serve reads queries from conn until Shutdown, then returns
// ErrServerClosed; in-flight queries may still be running then (Shutdown
// waits for them). It may be called for several sockets at once, each on
// its own goroutine. Serve does not close conn on error; Shutdown closes
// every socket given to Serve. A read error other than a closed socket is
// reported to ErrorLog and reading goes on after a short pause.
func (s *UDPServer) Serve(conn net.PacketConn) error {
	if s.cfg.Handler == nil {
		return errNoHandler
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.conns[conn] = struct{}{}
	s.readers.Add(1)
	s.mu.Unlock()
	defer s.readers.Done()
	return s.read(conn)
}

// read is the reader loop of one socket.
func (s *UDPServer) read(conn net.PacketConn) error {
	uc, _ := conn.(*net.UDPConn)
	buf := make([]byte, udpReadSize)
	sc := newScratch()
	q := new(dns.Msg)
	var backoff time.Duration
	for {
		var (
			n     int
			ap    netip.AddrPort
			naddr net.Addr
			err   error
		)
		if uc != nil {
			// No allocation per packet, unlike ReadFrom.
			n, ap, err = uc.ReadFromUDPAddrPort(buf)
		} else {
			n, naddr, err = conn.ReadFrom(buf)
		}
		if err != nil {
			if s.closed.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("transport: udp read: %w", err)
			}
			s.cfg.logSocketError("transport: udp read", err)
			backoff = nextBackoff(backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		var client netip.Addr
		if uc != nil {
			client = ap.Addr()
		} else {
			client = addrOf(naddr)
		}
		var req request
		out, act := s.cfg.prepare(sc, buf[:n], q, &req, protoUDP, s.cfg.allowed(client))
		switch act {
		case actReply:
			s.write(conn, uc, out, ap, naddr)
		case actHandle:
			if s.inflight.Add(1) > int64(s.cfg.MaxUDPInFlight) {
				s.inflight.Add(-1)
				continue
			}
			s.handlers.Add(1)
			go s.handle(conn, uc, q, req, ap, naddr)
			q = new(dns.Msg) // q now belongs to the handler
		}
	}
}

// handle runs one query through the handler and sends the answer.
func (s *UDPServer) handle(conn net.PacketConn, uc *net.UDPConn, q *dns.Msg, req request, ap netip.AddrPort, naddr net.Addr) {
	defer s.handlers.Done()
	ctx, cancel := context.WithTimeout(s.base, s.cfg.QueryTimeout)
	sc := s.scratch.Get().(*scratch)
	out := s.cfg.finish(ctx, sc, q, &req, protoUDP)
	cancel()
	// The slot is free once the answer is built; a client that has its
	// answer may rely on that.
	s.inflight.Add(-1)
	s.write(conn, uc, out, ap, naddr)
	s.scratch.Put(sc)
}

func (s *UDPServer) write(conn net.PacketConn, uc *net.UDPConn, out []byte, ap netip.AddrPort, naddr net.Addr) {
	if out == nil {
		return
	}
	var err error
	if uc != nil {
		_, err = uc.WriteToUDPAddrPort(out, ap)
	} else {
		_, err = conn.WriteTo(out, naddr)
	}
	if err != nil && !s.closed.Load() {
		s.cfg.logSocketError("transport: udp write", err)
	}
}

// Shutdown stops reading from every socket, waits for the queries in
// flight to be answered, closes the sockets and returns nil. If ctx ends
// first, it cancels the handlers' contexts, closes the sockets and returns
// ctx's error without waiting further; answers still being built are then
// lost. A query that arrives after Shutdown starts is not read.
func (s *UDPServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed.Store(true)
	conns := make([]net.PacketConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
		// Unblock the reader; it sees closed and returns.
		_ = c.SetReadDeadline(aLongTimeAgo())
	}
	s.mu.Unlock()

	err := waitCtx(ctx, &s.readers)
	if err == nil {
		err = waitCtx(ctx, &s.handlers)
	}
	if err != nil {
		s.cancelBase()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	if err == nil {
		s.cancelBase()
	}
	return err
}

// aLongTimeAgo is a deadline in the past, which makes blocked reads return
// at once.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }

// waitCtx waits for wg or ctx, whichever is first.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("transport: shutdown: %w", ctx.Err())
	}
}

// nextBackoff paces retries after socket errors that do not close the
// socket (ENOBUFS, EMFILE), so that a persistent error does not spin.
func nextBackoff(d time.Duration) time.Duration {
	const lo, hi = 5 * time.Millisecond, time.Second
	if d == 0 {
		return lo
	}
	return min(2*d, hi)
}
