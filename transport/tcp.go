package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// TCPServer answers DNS queries on TCP connections (RFC 7766): each message
// framed by a 2-octet length, pipelined queries on one connection handled
// concurrently and answered as each finishes, in any order.
//
// A connection is closed when it has had nothing in flight and sent nothing
// for Config.IdleTimeout, when a message is not complete within
// IdleTimeout of its first byte, when a length prefix is below 12 (no
// room for a header), when a response cannot be written within
// IdleTimeout, or when Config.MaxConnsPerClient connections from the same
// client are already open: then at once, before reading or any TLS. When
// Config.MaxConns are open, a new connection closes the one idle the
// longest, and is closed at once itself only if every connection has a
// query in flight; under that pressure, idle connections are closed
// sooner (see Config.MaxConns).
// Responses are never truncated unless they exceed 65535 bytes, and never
// padded. A query with the edns-tcp-keepalive option (RFC 7828) gets it
// back with IdleTimeout, in units of 100 ms.
type TCPServer struct {
	cfg  Config
	pipe *pipeline
	life *lifecycle // listeners: the listeners; work: the connections

	// tlsConfig, when set, makes every connection a TLS server
	// connection (see TLSServer); its handshake runs on the
	// connection's goroutine, never on the accept loop.
	tlsConfig *tls.Config

	limit   *connSlots // open connections: MaxConns, MaxConnsPerClient
	scratch sync.Pool  // *scratch
}

// tcpListener is a listener given to TCPServer.Serve, as Shutdown sees it:
// closed when Shutdown starts.
type tcpListener struct{ net.Listener }

func (l tcpListener) stop()  { _ = l.Close() }
func (l tcpListener) close() {}

// NewTCPServer returns a server for cfg, with defaults filled in. It does
// not listen: call Serve.
func NewTCPServer(cfg Config) *TCPServer {
	s := &TCPServer{
		cfg:  cfg.withDefaults(),
		pipe: newPipeline(cfg),
		life: newLifecycle(),
	}
	s.limit = newConnSlots(s.cfg.MaxConns, s.cfg.MaxConnsPerClient, s.cfg.IdleTimeout, s.cfg.IdleTimeout).withEvents(s.cfg.Events)
	s.scratch.New = func() any { return newScratch() }
	return s
}

// Serve accepts connections on l until Shutdown, then returns
// ErrServerClosed. It may be called for several listeners at once. An
// accept error other than a closed listener is reported to ErrorLog and
// accepting goes on after a short pause. Shutdown closes l.
func (s *TCPServer) Serve(l net.Listener) error {
	if s.cfg.Handler == nil {
		return errNoHandler
	}
	if !s.life.addListener(tcpListener{l}, false) {
		return ErrServerClosed
	}
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.life.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				s.life.removeListener(tcpListener{l})
				return fmt.Errorf("transport: tcp accept: %w", err)
			}
			s.pipe.logSocketError("transport: tcp accept", err)
			backoff = nextBackoff(backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.accept(c) {
			return ErrServerClosed
		}
	}
}

// accept starts serving one accepted connection, or closes it at once
// when it is over a cap (which may close an idle one to make room; see
// connSlots). It reports false when Shutdown has started.
func (s *TCPServer) accept(c net.Conn) bool {
	client := addrOf(c.RemoteAddr())
	raw := c
	if s.tlsConfig != nil {
		c = tls.Server(c, s.tlsConfig)
	}
	tc := s.newConn(c, raw, s.pipe.allowed(client))
	sl, ok := s.limit.acquire(client, tc.evict)
	if !ok {
		tc.cancel()
		_ = raw.Close()
		return true
	}
	tc.slot = sl
	if !s.life.addConn(tc) {
		sl.release()
		tc.cancel()
		_ = raw.Close()
		return false
	}
	go func() {
		defer s.life.leave()
		tc.serve()
		s.life.removeConn(tc)
		sl.release()
	}()
	return true
}

// Shutdown closes the listeners, stops reading from every connection,
// waits for the queries in flight to be answered, closes the connections
// and returns nil. If ctx ends first, it cancels the handlers' contexts,
// closes the connections and returns ctx's error without waiting further.
func (s *TCPServer) Shutdown(ctx context.Context) error { return s.life.shutdown(ctx) }

// tcpConn is one client connection. Its reader goroutine (serve) reads
// messages and runs the checks and the fast path inline; each query for the
// handler gets its own goroutine, and responses are written under wmu.
type tcpConn struct {
	s   *TCPServer
	c   net.Conn
	raw net.Conn // c, or the socket under c's TLS
	// slot is the connection's place among MaxConns, told of its
	// queries so that it is not closed for room while it asks.
	slot    *slot
	allowed bool
	proto   proto // protoTCP, or protoTLS for a TLS connection

	// ctx is cancelled when the connection dies, which cancels its
	// queries; kept here because its scope is the connection's.
	ctx    context.Context
	cancel context.CancelFunc

	sem      chan struct{} // one slot per query in flight, read or handled
	running  atomic.Int32  // handler goroutines not yet done writing
	handlers sync.WaitGroup

	// dmu orders the reader's deadline changes against stop, so
	// that a Shutdown's deadline in the past is never overwritten.
	dmu      sync.Mutex
	stopping bool          // dmu guards
	stopped  chan struct{} // closed by stop

	wmu sync.Mutex // serialises writes of whole framed responses
}

func (s *TCPServer) newConn(c, raw net.Conn, allowed bool) *tcpConn {
	tc := &tcpConn{
		s:       s,
		c:       c,
		raw:     raw,
		allowed: allowed,
		proto:   protoTCP,
		sem:     make(chan struct{}, s.cfg.MaxInFlightPerConn),
		stopped: make(chan struct{}),
	}
	if _, ok := c.(*tls.Conn); ok {
		tc.proto = protoTLS
	}
	tc.ctx, tc.cancel = context.WithCancel(s.life.base)
	return tc
}

// serve reads and dispatches messages until the client goes away, a limit
// closes the connection or Shutdown stops it; then it waits for the queries
// in flight to be answered and closes the connection.
func (tc *tcpConn) serve() {
	defer tc.end()
	if !tc.handshake() {
		return
	}
	var hdr [2]byte
	var buf []byte
	q := new(dns.Msg) // reused until a handler goroutine takes it
	for {
		// Take a slot before reading: with MaxInFlightPerConn queries in
		// flight we stop reading and TCP flow control does the rest.
		select {
		case tc.sem <- struct{}{}:
		case <-tc.stopped:
			return
		case <-tc.ctx.Done():
			return
		}
		raw, ok := tc.readMsg(&hdr, &buf)
		if !ok {
			<-tc.sem
			return
		}
		tc.slot.seen()
		if tc.dispatch(raw, q) {
			q = new(dns.Msg)
		}
	}
}

// readMsg reads one framed message into *buf.
func (tc *tcpConn) readMsg(hdr *[2]byte, buf *[]byte) ([]byte, bool) {
	idle := tc.s.cfg.IdleTimeout
	if !tc.setReadDeadline(time.Now().Add(idle)) {
		return nil, false
	}
	got := 0
	for got < len(hdr) {
		n, err := tc.c.Read(hdr[got:])
		got += n
		if err == nil {
			continue
		}
		if got == 0 && errors.Is(err, os.ErrDeadlineExceeded) && tc.running.Load() > 0 {
			// Silent, but answers are still due: not idle per RFC 7766.
			if !tc.setReadDeadline(time.Now().Add(idle)) {
				return nil, false
			}
			continue
		}
		return nil, false
	}
	size := int(binary.BigEndian.Uint16(hdr[:]))
	if size < headerSize {
		return nil, false
	}
	if cap(*buf) < size {
		*buf = make([]byte, size)
	}
	raw := (*buf)[:size]
	// The rest must arrive within one idle timeout of the prefix.
	if !tc.setReadDeadline(time.Now().Add(idle)) {
		return nil, false
	}
	if _, err := io.ReadFull(tc.c, raw); err != nil {
		return nil, false
	}
	return raw, true
}

// dispatch answers raw inline when no handler is needed, or starts a
// handler goroutine and reports that it took q. It owns one slot of sem,
// which it or the goroutine gives back.
func (tc *tcpConn) dispatch(raw []byte, q *dns.Msg) bool {
	var req request
	sc := tc.s.scratch.Get().(*scratch)
	out, act := tc.s.pipe.prepare(sc, raw, q, &req, tc.proto, tc.allowed)
	if act == actReply {
		tc.write(out)
	}
	tc.s.scratch.Put(sc)
	if act != actHandle {
		<-tc.sem
		return false
	}
	tc.running.Add(1)
	tc.handlers.Add(1)
	tc.slot.hold()
	go tc.handle(q, req)
	return true
}

func (tc *tcpConn) handle(q *dns.Msg, req request) {
	defer tc.handlers.Done()
	ctx, cancel := context.WithTimeout(tc.ctx, tc.s.cfg.QueryTimeout)
	sc := tc.s.scratch.Get().(*scratch)
	out := tc.s.pipe.finish(ctx, sc, q, &req, tc.proto)
	cancel()
	tc.write(out)
	tc.s.scratch.Put(sc)
	tc.slot.done()
	tc.running.Add(-1)
	<-tc.sem
}

// write sends one framed response. A failed or slow write kills the
// connection: the client is gone or not reading, and a half-written frame
// cannot be recovered from. Such errors are the client's business and are
// not reported.
func (tc *tcpConn) write(out []byte) {
	if out == nil {
		return
	}
	tc.wmu.Lock()
	defer tc.wmu.Unlock()
	if tc.ctx.Err() != nil {
		return
	}
	_ = tc.c.SetWriteDeadline(time.Now().Add(tc.s.cfg.IdleTimeout))
	if _, err := tc.c.Write(out); err != nil {
		tc.cancel()
		_ = tc.c.Close()
	}
}

// handshake runs the TLS handshake of a TLS connection within
// Config.TLSHandshakeTimeout, and reports whether the connection may be
// read. A plain TCP connection needs none. Failed handshakes are the
// client's business (a scanner, a wrong port, a bad certificate store) and
// are not reported.
func (tc *tcpConn) handshake() bool {
	c, ok := tc.c.(*tls.Conn)
	if !ok {
		return true
	}
	dl := time.Now().Add(tc.s.cfg.TLSHandshakeTimeout)
	if !tc.setReadDeadline(dl) {
		return false
	}
	_ = c.SetWriteDeadline(dl)
	return c.Handshake() == nil
}

func (tc *tcpConn) setReadDeadline(t time.Time) bool {
	tc.dmu.Lock()
	defer tc.dmu.Unlock()
	if tc.stopping {
		return false
	}
	_ = tc.c.SetReadDeadline(t)
	return true
}

// stop makes the reader stop after the message it is reading, if any;
// queries in flight are still answered.
func (tc *tcpConn) stop() {
	tc.dmu.Lock()
	defer tc.dmu.Unlock()
	if tc.stopping {
		return
	}
	tc.stopping = true
	close(tc.stopped)
	_ = tc.c.SetReadDeadline(aLongTimeAgo())
}

// end waits for the connection's queries to be answered, then closes it.
func (tc *tcpConn) end() {
	tc.handlers.Wait()
	tc.cancel()
	_ = tc.c.Close()
}

// close closes the connection at once, for a Shutdown out of time.
func (tc *tcpConn) close() { _ = tc.c.Close() }

// evict closes the connection at once, to make room for another (see
// connSlots). It closes the socket rather than the TLS session, whose
// close_notify alert could block the accept loop on a client that does
// not read.
func (tc *tcpConn) evict() {
	tc.cancel()
	_ = tc.raw.Close()
}
