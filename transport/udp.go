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
// reaches the same socket. If addr's port is 0, all sockets get one port
// the kernel picked. On systems without SO_REUSEPORT it fails for n > 1.
// On error no socket is left open.
//
// It fails with "address already in use" (syscall.EADDRINUSE) when
// another socket holds the port, even one with SO_REUSEPORT whose group
// the kernel would let it join: see probeUDP.
func ListenUDPGroup(addr string, n int) ([]net.PacketConn, error) {
	return ListenUDPGroupNet("udp", addr, n)
}

// ListenUDPGroupNet is ListenUDPGroup on network "udp", "udp4" or "udp6".
// With "udp6", an IPv6 wildcard socket is IPv6-only (IPV6_V6ONLY), so
// that it can share its port with an IPv4 wildcard one.
func ListenUDPGroupNet(network, addr string, n int) ([]net.PacketConn, error) {
	if n < 1 {
		return nil, fmt.Errorf("transport: listen udp group: %d sockets", n)
	}
	if n > 1 && !reusePortSupported {
		return nil, errors.New("transport: listen udp group: SO_REUSEPORT not supported here")
	}
	addr, err := probeUDP(network, addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen udp group: %w", err)
	}
	lc := net.ListenConfig{Control: setReusePort}
	conns := make([]net.PacketConn, 0, n)
	for range n {
		c, err := lc.ListenPacket(context.Background(), network, addr)
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

// probeUDP proves that addr's UDP port is free before a group binds it,
// and returns addr with the port to bind (the one the kernel picked when
// addr's port is 0).
//
// On Linux, a socket with SO_REUSEPORT binds a port that a socket of
// another process of the same user already holds with SO_REUSEPORT (a
// second hush, knotd, unbound with so-reuseport) and the kernel silently
// splits the datagrams between them; bound to port 0, it may even be
// given such a port. So one socket without SO_REUSEPORT binds addr first:
// it fails with EADDRINUSE if anything holds the port, and otherwise it
// is closed and the group binds the same port at once.
//
// A race remains: another process binding the port with SO_REUSEPORT
// between the probe's close and the group's bind is joined as before.
// The window is a few system calls, and only a socket bound to that
// exact port (or given it for port 0) can fall into it.
func probeUDP(network, addr string) (string, error) {
	var lc net.ListenConfig // no SO_REUSEPORT
	c, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return "", err
	}
	addr = c.LocalAddr().String()
	if err := c.Close(); err != nil {
		return "", err
	}
	return addr, nil
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
	cfg  Config
	pipe *pipeline
	life *lifecycle // listeners: the sockets; work: readers and handlers

	inflight atomic.Int64 // handler goroutines running, for MaxUDPInFlight
	scratch  sync.Pool    // *scratch for handler goroutines
	// jobs hands queries to the handlers waiting for one (udp_workers.go),
	// idleWorkers counts those.
	jobs        chan udpJob
	idleWorkers atomic.Int32
	spawned     atomic.Uint64 // handler goroutines started, for tests
	idleFor     atomic.Int64  // how long a handler waits: udpWorkerIdle

	// batches and datagrams count the reads of the batched reader
	// (Linux) and the datagrams they returned: see Stats.
	batches, datagrams atomic.Uint64
}

// UDPStats are a UDPServer's counters.
type UDPStats struct {
	// Reads is the number of recvmmsg calls that returned datagrams and
	// Datagrams the datagrams they returned, so that Datagrams/Reads is
	// the mean batch: near 1 when idle, up to 32 at saturation. Both stay
	// 0 where reads are not batched (not Linux, or not a *net.UDPConn).
	Reads, Datagrams uint64
}

// Stats returns the server's counters so far, over all its sockets.
func (s *UDPServer) Stats() UDPStats {
	return UDPStats{Reads: s.batches.Load(), Datagrams: s.datagrams.Load()}
}

// udpSocket is a socket given to UDPServer.Serve, as Shutdown sees it.
type udpSocket struct{ net.PacketConn }

// stop unblocks the reader; it sees closing and returns.
func (u udpSocket) stop()  { _ = u.SetReadDeadline(aLongTimeAgo()) }
func (u udpSocket) close() { _ = u.Close() }

// NewUDPServer returns a server for cfg, with defaults filled in. It does
// not open a socket: call Serve.
func NewUDPServer(cfg Config) *UDPServer {
	s := &UDPServer{
		cfg:  cfg.withDefaults(),
		pipe: newPipeline(cfg),
		life: newLifecycle(),
		jobs: make(chan udpJob),
	}
	s.scratch.New = func() any { return newScratch() }
	s.idleFor.Store(int64(udpWorkerIdle))
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
	if !s.life.addListener(udpSocket{conn}, true) {
		return ErrServerClosed
	}
	defer s.life.leave()
	return s.read(conn)
}

// read is the reader loop of one socket: readBatches where the platform
// has recvmmsg, one datagram per read otherwise.
func (s *UDPServer) read(conn net.PacketConn) error {
	uc, _ := conn.(*net.UDPConn)
	if uc != nil && batchedReads {
		return s.readBatches(conn, uc)
	}
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
			if s.life.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("transport: udp read: %w", err)
			}
			s.pipe.logSocketError("transport: udp read", err)
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
		out, act := s.pipe.prepareFrom(sc, buf[:n], q, &req, protoUDP, client, s.pipe.allowed(client))
		switch act {
		case actReply:
			s.write(conn, uc, out, ap, naddr)
		case actHandle:
			if s.inflight.Add(1) > int64(s.cfg.MaxUDPInFlight) {
				s.inflight.Add(-1)
				if s.cfg.Events != nil {
					s.cfg.Events.Limited()
				}
				continue
			}
			s.dispatch(udpJob{conn, uc, q, req, ap, naddr})
			q = new(dns.Msg) // q now belongs to the handler
		}
	}
}

// handle runs one query through the handler and sends the answer.
func (s *UDPServer) handle(conn net.PacketConn, uc *net.UDPConn, q *dns.Msg, req request, ap netip.AddrPort, naddr net.Addr) {
	defer s.life.leave()
	ctx, cancel := context.WithTimeout(s.life.base, s.cfg.QueryTimeout)
	sc := s.scratch.Get().(*scratch)
	out := s.pipe.finish(ctx, sc, q, &req, protoUDP)
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
	if err != nil && !s.life.closing.Load() {
		s.pipe.logSocketError("transport: udp write", err)
	}
}

// Shutdown stops reading from every socket, waits for the queries in
// flight to be answered, closes the sockets and returns nil. If ctx ends
// first, it cancels the handlers' contexts, closes the sockets and returns
// ctx's error without waiting further; answers still being built are then
// lost. A query that arrives after Shutdown starts is not read.
func (s *UDPServer) Shutdown(ctx context.Context) error { return s.life.shutdown(ctx) }
