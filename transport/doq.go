package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// ALPNDoQ is the ALPN protocol ID of DNS over QUIC (RFC 9250 §4.1).
const ALPNDoQ = "doq"

// DoQ error codes (RFC 9250 §4.3), used both as QUIC application error
// codes when a connection is closed and as stream error codes when one
// stream is reset. They are untyped so that they fit both quic-go types.
const (
	// DoQNoError: no error; the code a connection is closed with when
	// the server shuts down or the client has gone idle.
	DoQNoError = 0x0
	// DoQInternalError: the server could not produce an answer.
	DoQInternalError = 0x1
	// DoQProtocolError: the peer broke RFC 9250 (§4.3.3); the connection
	// is closed with it.
	DoQProtocolError = 0x2
	// DoQRequestCancelled: the client cancelled its query (§4.3.1).
	DoQRequestCancelled = 0x3
	// DoQExcessiveLoad: a connection is closed because the server has
	// Config.MaxTCPConns of them already.
	DoQExcessiveLoad = 0x4
	// DoQUnspecifiedError: an error with no better code.
	DoQUnspecifiedError = 0x5
)

// DoQServer answers DNS queries over QUIC (DoQ, RFC 9250): TLS 1.3 inside
// QUIC with ALPN "doq", one query per client-initiated bidirectional
// stream, framed by a 2-octet length as over TCP, message ID 0, and one
// framed response after which the server closes its side of the stream.
// It runs the same checks, fast path and response building as the other
// servers, and pads responses (RFC 7830) to a multiple of 468 octets (RFC
// 8467 §4.1) when the query carries the Padding option.
//
// Queries in 0-RTT data are accepted: DNS queries are idempotent (RFC 9250
// §4.5), and a replayed one costs the attacker the answer it cannot read.
// A 0-RTT query that the CacheAnswerer does not answer waits for the
// handshake to complete, which proves the client's address, before it
// reaches ServeDNS; so a client outside Config.AllowClients cannot forge an
// allowed address to make hush resolve for it.
//
// A connection is closed with DOQ_PROTOCOL_ERROR (RFC 9250 §4.3.3) when a
// stream carries a message with an ID other than 0, a message shorter than
// a header, a response, a message with the edns-tcp-keepalive option
// (§5.5.2), more than one message, or a length prefix longer than what
// arrives before the client's FIN; and when a stream does not deliver its
// query and its FIN within Config.TCPIdleTimeout of being opened. The
// server grants clients no unidirectional streams, so a client that opens
// one breaks QUIC's stream limit and quic-go closes the connection with
// STREAM_LIMIT_ERROR. A client that resets its stream before the query is
// read, or asks the server to stop sending (DOQ_REQUEST_CANCELLED, §4.3.1),
// cancels the query: its handler's context ends and its stream is reset
// with DOQ_REQUEST_CANCELLED.
//
// Limits, from Config: at most MaxTCPConns connections per server, and
// MaxConnsPerClient per client, counted once the handshake has proved the
// client's address (more are closed then with DOQ_EXCESSIVE_LOAD).
// Connections still in their handshake are counted apart, in one count
// for the server, since their addresses may be forged: from MaxTCPConns/8
// of them on, a new client must first answer a Retry (RFC 9000 §8.1.2),
// which a forged address cannot, and at MaxTCPConns new ones are refused.
// At most MaxTCPInFlight streams are open at once per connection (QUIC's
// own stream limit, so a client waits for credit rather than being
// refused); the handshake ends within TLSHandshakeTimeout; a connection
// with no stream open for TCPIdleTimeout is closed with DOQ_NO_ERROR (RFC
// 9250 §5.5.2), as over TCP, even if the client keeps QUIC alive with
// PINGs; one that receives nothing for TCPIdleTimeout (or QueryTimeout
// plus a second, if longer, so that a slow answer is never cut off) is
// closed by QUIC's idle timeout, silently as RFC 9000 §10.1 says. A
// stream carries at most one 65535-octet message, so its receive window
// is no larger than that, and the server's buffer for it grows with the
// octets that arrive, not with the length prefix.
//
// DoQServer does not reload certificates by itself: give the tls.Config a
// GetCertificate that does.
type DoQServer struct {
	cfg       Config
	tlsConfig *tls.Config
	quicConf  *quic.Config

	// base is the parent of every connection's context; see UDPServer.
	base       context.Context
	cancelBase context.CancelFunc

	closed atomic.Bool  // set once Shutdown starts
	limit  *connLimiter // proven connections: MaxTCPConns, MaxConnsPerClient
	// handshakes counts the connections not yet proven, and demands a
	// Retry when they are many.
	handshakes *quicHandshakes
	wg         sync.WaitGroup
	scratch    sync.Pool // *scratch
	streams    sync.Pool // *doqStreamState

	mu        sync.Mutex
	listeners map[*quic.EarlyListener]doqSocket // mu guards
	conns     map[*doqConn]struct{}             // mu guards
}

// doqSocket is what Shutdown must close after a listener: the quic-go
// transport and the socket it was given.
type doqSocket struct {
	tr *quic.Transport
	pc net.PacketConn
}

// NewDoQServer returns a DoQ server for cfg. It uses a clone of tlsConfig
// with TLS 1.3 as the lowest version (QUIC requires it) and ALPN "doq"
// unless tlsConfig names protocols itself; session tickets, which 0-RTT
// needs, are on unless disabled there. It does not listen: call Serve.
func NewDoQServer(cfg Config, tlsConfig *tls.Config) *DoQServer {
	tc := serverTLS(tlsConfig, tls.VersionTLS13, ALPNDoQ)
	s := &DoQServer{
		cfg:       cfg.withDefaults(),
		tlsConfig: tc,
		listeners: make(map[*quic.EarlyListener]doqSocket),
		conns:     make(map[*doqConn]struct{}),
	}
	s.limit = newConnLimiter(s.cfg.MaxTCPConns, s.cfg.MaxConnsPerClient)
	s.handshakes = newQUICHandshakes(s.cfg.MaxTCPConns, s.cfg.MaxConnsPerClient)
	c := &s.cfg
	s.quicConf = &quic.Config{
		// quic-go gives up on a handshake after twice this.
		HandshakeIdleTimeout:  max(c.TLSHandshakeTimeout/2, time.Millisecond),
		MaxIdleTimeout:        max(c.TCPIdleTimeout, c.QueryTimeout+time.Second),
		MaxIncomingStreams:    int64(c.MaxTCPInFlight),
		MaxIncomingUniStreams: -1, // none: RFC 9250 §4.3.3
		// One message per stream: a larger window only buffers a
		// protocol error.
		InitialStreamReceiveWindow: 2 + tcpMaxSize,
		MaxStreamReceiveWindow:     2 + tcpMaxSize,
		MaxConnectionReceiveWindow: 1 << 20,
		Allow0RTT:                  true,
	}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.scratch.New = func() any { return newScratch() }
	s.streams.New = func() any { return &doqStreamState{buf: make([]byte, 512), q: new(dns.Msg)} }
	return s
}

// Serve accepts QUIC connections on pc until Shutdown, then returns
// ErrServerClosed. It may be called for several sockets at once; each
// must be used by nothing else. Shutdown closes pc.
func (s *DoQServer) Serve(pc net.PacketConn) error {
	if s.cfg.Handler == nil {
		return errNoHandler
	}
	tc := s.tlsConfig
	if len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
		return errNoCertificate
	}
	tr := &quic.Transport{
		Conn:                pc,
		VerifySourceAddress: s.handshakes.verifySourceAddress,
		ConnContext:         s.handshakes.connContext,
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	ln, err := tr.ListenEarly(s.tlsConfig, s.quicConf)
	if err != nil {
		s.mu.Unlock()
		_ = tr.Close()
		return fmt.Errorf("transport: doq listen: %w", err)
	}
	s.listeners[ln] = doqSocket{tr: tr, pc: pc}
	s.mu.Unlock()

	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			if s.closed.Load() {
				return ErrServerClosed
			}
			s.mu.Lock()
			delete(s.listeners, ln)
			s.mu.Unlock()
			_ = ln.Close()
			_ = tr.Close()
			return fmt.Errorf("transport: doq accept: %w", err)
		}
		// The handshake may still be in progress (0-RTT): the client's
		// address is not proven, so the connection takes no limiter slot
		// until admit sees the handshake complete.
		dc := s.newConn(conn)
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			_ = conn.CloseWithError(DoQNoError, "")
			return ErrServerClosed
		}
		s.conns[dc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			dc.serve()
			s.mu.Lock()
			delete(s.conns, dc)
			s.mu.Unlock()
		}()
	}
}

// Shutdown closes the listeners (handshakes in progress are refused),
// stops accepting streams on every connection, waits for the queries in
// flight to be answered, closes the connections with DOQ_NO_ERROR and the
// sockets, and returns nil. If ctx ends first, it cancels the handlers'
// contexts, closes everything the same way and returns ctx's error
// without waiting further.
func (s *DoQServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed.Store(true)
	socks := make([]doqSocket, 0, len(s.listeners))
	for ln, sock := range s.listeners {
		_ = ln.Close()
		socks = append(socks, sock)
	}
	for dc := range s.conns {
		dc.stopAccepting()
	}
	s.mu.Unlock()

	err := waitCtx(ctx, &s.wg)
	s.cancelBase()
	if err != nil {
		s.mu.Lock()
		for dc := range s.conns {
			_ = dc.conn.CloseWithError(DoQNoError, "")
		}
		s.mu.Unlock()
	}
	// A transport closes its connections without telling the peers,
	// which is why they were closed first.
	for _, sock := range socks {
		_ = sock.tr.Close()
		_ = sock.pc.Close()
	}
	return err
}

// doqConn is one client connection: its goroutine (serve) accepts streams,
// and each stream gets a goroutine of its own, which reads the query,
// answers it and ends.
type doqConn struct {
	s       *DoQServer
	conn    *quic.Conn
	allowed bool

	// ctx is cancelled when the connection ends, which cancels its
	// queries; kept here because its scope is the connection's.
	ctx    context.Context
	cancel context.CancelFunc
	// acceptCtx is cancelled by stopAccepting.
	acceptCtx    context.Context
	cancelAccept context.CancelFunc
	// admitted is closed once the handshake is complete and the
	// connection holds its limiter slot; until then its queries get
	// only the CacheAnswerer.
	admitted chan struct{}

	// streams counts the stream goroutines and admit.
	streams sync.WaitGroup

	idleMu    sync.Mutex
	active    int       // streams being served; idleMu guards
	idleSince time.Time // when active last became 0; idleMu guards
	idle      *time.Timer
}

func (s *DoQServer) newConn(conn *quic.Conn) *doqConn {
	dc := &doqConn{
		s:       s,
		conn:    conn,
		allowed: s.cfg.allowed(addrOf(conn.RemoteAddr())),
	}
	dc.ctx, dc.cancel = context.WithCancel(s.base)
	dc.acceptCtx, dc.cancelAccept = context.WithCancel(dc.ctx)
	dc.admitted = make(chan struct{})
	return dc
}

// serve accepts streams until the connection ends, goes idle or Shutdown
// stops it, then waits for its streams, gives back its limiter slot and
// closes the connection with DOQ_NO_ERROR (a no-op if it is closed
// already).
func (dc *doqConn) serve() {
	stop := context.AfterFunc(dc.conn.Context(), dc.cancel)
	var slot atomic.Bool
	dc.streams.Add(1)
	go func() {
		defer dc.streams.Done()
		slot.Store(dc.admit())
	}()
	dc.idleSince = time.Now()
	dc.idle = time.AfterFunc(dc.s.cfg.TCPIdleTimeout, dc.idleCheck)
	defer func() {
		dc.streams.Wait()
		dc.idle.Stop()
		dc.linger()
		stop()
		dc.cancel()
		_ = dc.conn.CloseWithError(DoQNoError, "")
		if slot.Load() {
			dc.s.limit.release(addrOf(dc.conn.RemoteAddr()))
		}
	}()
	for {
		str, err := dc.conn.AcceptStream(dc.acceptCtx)
		if err != nil {
			return
		}
		dc.streamStarted()
		dc.streams.Add(1)
		go dc.serveStream(str)
	}
}

// admit waits for the handshake to complete, which proves the client's
// address, moves the connection from the handshake count to the limiter
// and reports whether it got a slot. One beyond MaxTCPConns or
// MaxConnsPerClient is closed with DOQ_EXCESSIVE_LOAD: closed before the
// handshake completes, QUIC would have to replace the code with a bare
// APPLICATION_ERROR (RFC 9000 §10.2.3) and the client would not learn why.
// The handshake timeout bounds the wait; Shutdown cuts it short.
func (dc *doqConn) admit() bool {
	select {
	case <-dc.conn.HandshakeComplete():
	case <-dc.acceptCtx.Done():
		return false
	}
	handshakeDone(dc.conn)
	if !dc.s.limit.acquire(addrOf(dc.conn.RemoteAddr())) {
		_ = dc.conn.CloseWithError(DoQExcessiveLoad, "too many connections")
		return false
	}
	close(dc.admitted)
	return true
}

func (dc *doqConn) streamStarted() {
	dc.idleMu.Lock()
	dc.active++
	dc.idleMu.Unlock()
}

// streamEnded restarts the idle timer when the last stream ends.
func (dc *doqConn) streamEnded() {
	dc.idleMu.Lock()
	defer dc.idleMu.Unlock()
	if dc.active--; dc.active == 0 {
		dc.idleSince = time.Now()
		dc.idle.Reset(dc.s.cfg.TCPIdleTimeout)
	}
}

// idleCheck closes the connection with DOQ_NO_ERROR (RFC 9250 §5.5.2)
// once it has had no stream for TCPIdleTimeout, as TCP does. QUIC's own
// idle timeout does not do it: a client's PINGs reset that one.
func (dc *doqConn) idleCheck() {
	dc.idleMu.Lock()
	if dc.active > 0 {
		// streamEnded arms the timer again.
		dc.idleMu.Unlock()
		return
	}
	if left := dc.s.cfg.TCPIdleTimeout - time.Since(dc.idleSince); left > 0 {
		// A stream came and went since the timer was set.
		dc.idle.Reset(left)
		dc.idleMu.Unlock()
		return
	}
	dc.idleMu.Unlock()
	_ = dc.conn.CloseWithError(DoQNoError, "idle")
}

func (dc *doqConn) stopAccepting() { dc.cancelAccept() }

// linger gives the last responses on a connection that Shutdown is
// closing time to be acknowledged: a CONNECTION_CLOSE makes the peer drop
// whatever stream data it has not received, and quic-go does not tell when
// a stream's data has all been acknowledged. It waits three probe timeouts
// (RFC 9002 §6.2.1, with the default 25 ms max_ack_delay), which allows two
// retransmissions, unless the client closes first or Shutdown runs out of
// time. A connection that ended by itself is not kept.
func (dc *doqConn) linger() {
	if dc.conn.Context().Err() != nil || dc.ctx.Err() != nil {
		return
	}
	st := dc.conn.ConnectionStats()
	pto := st.SmoothedRTT + max(4*st.MeanDeviation, time.Millisecond) + 25*time.Millisecond
	t := time.NewTimer(3 * pto)
	defer t.Stop()
	select {
	case <-t.C:
	case <-dc.conn.Context().Done():
	case <-dc.ctx.Done():
	}
}

// protocolError closes the connection as RFC 9250 §4.3.3 says. why names
// the rule broken, never the query.
func (dc *doqConn) protocolError(why string) {
	_ = dc.conn.CloseWithError(DoQProtocolError, why)
}

// serveStream handles one stream: one query in, one response out.
func (dc *doqConn) serveStream(str *quic.Stream) {
	defer dc.streams.Done()
	defer dc.streamEnded()
	s := dc.s
	cfg := &s.cfg
	// The whole query and the FIN must arrive within one idle timeout.
	_ = str.SetReadDeadline(time.Now().Add(cfg.TCPIdleTimeout))
	st := s.streams.Get().(*doqStreamState)
	defer s.putStreamState(st)
	raw, err := readDoQQuery(str, &st.buf)
	if err != nil {
		var se *quic.StreamError
		switch {
		case errors.As(err, &se) && se.Remote:
			// The client reset its side: it no longer wants an answer.
			str.CancelWrite(DoQRequestCancelled)
		case dc.conn.Context().Err() != nil:
			// The connection is gone; nothing to tell anyone.
		default:
			dc.protocolError(doqReadProblem(err))
		}
		return
	}

	q := st.q
	var req request
	sc := s.scratch.Get().(*scratch)
	out, act, why := cfg.doqPrepare(sc, raw, q, &req, dc.allowed)
	if act == actHandle {
		st.q = new(dns.Msg) // the handler may keep q
		// ServeDNS may take a while: give the scratch back meanwhile.
		s.scratch.Put(sc)
		out, sc = dc.handle(str, q, &req)
		if out == nil {
			return
		}
	}
	defer s.scratch.Put(sc)
	if why != "" {
		dc.protocolError(why)
		return
	}
	_ = str.SetWriteDeadline(time.Now().Add(cfg.TCPIdleTimeout))
	if _, err := str.Write(out); err != nil {
		// The client cancelled, or the connection is gone.
		str.CancelWrite(DoQRequestCancelled)
		return
	}
	_ = str.Close()
}

// handle asks the handler, once the handshake has proved the client's
// address and the connection is admitted, and returns the response (nil if the query was cancelled) and
// the scratch it is built in. The handler's context ends with the
// connection, with Config.QueryTimeout, or when the client stops reading
// the stream (STOP_SENDING), whichever is first.
func (dc *doqConn) handle(str *quic.Stream, q *dns.Msg, req *request) ([]byte, *scratch) {
	cfg := &dc.s.cfg
	ctx, cancel := context.WithTimeout(dc.ctx, cfg.QueryTimeout)
	defer cancel()
	stop := context.AfterFunc(str.Context(), cancel)
	defer stop()
	select {
	case <-dc.admitted:
	case <-ctx.Done():
		str.CancelWrite(DoQRequestCancelled)
		return nil, nil
	}
	sc := dc.s.scratch.Get().(*scratch)
	out := cfg.finish(ctx, sc, q, req, protoQUIC)
	if str.Context().Err() != nil {
		dc.s.scratch.Put(sc)
		str.CancelWrite(DoQRequestCancelled)
		return nil, nil
	}
	return out, sc
}

// doqStreamState is what a stream's goroutine reuses from earlier
// streams: the read buffer, and the query message when no handler kept it.
type doqStreamState struct {
	buf []byte
	q   *dns.Msg
}

// doqKeepBuf is the largest read buffer a doqStreamState keeps for the
// next stream: a pool of buffers grown for rare large queries would hand
// each of them to streams that do not need them.
const doqKeepBuf = 4096

func (s *DoQServer) putStreamState(st *doqStreamState) {
	if cap(st.buf) > doqKeepBuf {
		st.buf = nil
	}
	s.streams.Put(st)
}

// doqPrepare is prepare for a query read from a DoQ stream, with DoQ's
// own rules first: a message ID other than 0 (RFC 9250 §4.2.1), a message
// prepare would drop (a response) and the edns-tcp-keepalive option
// (§5.5.2) are protocol errors, reported in why. Otherwise it returns
// what prepare returned. q may be reused from an earlier query.
func (c *Config) doqPrepare(sc *scratch, raw []byte, q *dns.Msg, req *request, allowed bool) (out []byte, act action, why string) {
	if binary.BigEndian.Uint16(raw) != 0 {
		return nil, actDrop, "message ID is not 0"
	}
	// An earlier query's records must not count as this one's: prepare
	// does not unpack a query it rejects from its header alone.
	clear(q.Extra)
	q.Extra = q.Extra[:0]
	out, act = c.prepare(sc, raw, q, req, protoQUIC, allowed)
	switch {
	case act == actDrop:
		return nil, actDrop, "not a query"
	case hasKeepalive(q):
		return nil, actDrop, "edns-tcp-keepalive is not allowed"
	}
	return out, act, ""
}

// hasKeepalive reports whether q, as prepare unpacked it, carries the
// edns-tcp-keepalive option. A query prepare did not unpack (rejected from
// its header) has no additional records here.
func hasKeepalive(q *dns.Msg) bool {
	for _, rr := range q.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			for _, o := range opt.Option {
				if o.Option() == dns.EDNS0TCPKEEPALIVE {
					return true
				}
			}
		}
	}
	return false
}

// Why readDoQQuery failed, for the peer (in CONNECTION_CLOSE).
var (
	errDoQTruncated = errors.New("transport: doq: stream ended inside a message")
	errDoQTrailing  = errors.New("transport: doq: more than one message on a stream")
	errDoQTiny      = errors.New("transport: doq: message shorter than a DNS header")
)

// doqMinBuf is the size readDoQQuery's buffer starts from: most queries
// fit.
const doqMinBuf = 512

// readDoQQuery reads a stream's one query: a 2-octet length, that many
// octets, and then the end of the stream (the client's FIN). It returns
// the message, in *buf, or errDoQTruncated when the stream ends early (a
// length prefix that lies), errDoQTrailing when data follows the message,
// errDoQTiny for a length below 12, or r's error (a reset stream, a
// deadline, a closed connection). *buf grows as the message arrives,
// doubling from doqMinBuf, never from the length prefix alone: a client
// that sends only a large prefix costs no more than a small one.
func readDoQQuery(r io.Reader, buf *[]byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, truncatedIfEOF(err)
	}
	size := int(binary.BigEndian.Uint16(hdr[:]))
	if size < headerSize {
		return nil, errDoQTiny
	}
	raw := (*buf)[:0]
	for len(raw) < size {
		if len(raw) == cap(raw) {
			raw = slices.Grow(raw, min(size, max(2*cap(raw), doqMinBuf))-len(raw))
			*buf = raw
		}
		n, err := io.ReadFull(r, raw[len(raw):min(size, cap(raw))])
		raw = raw[:len(raw)+n]
		if err != nil {
			return nil, truncatedIfEOF(err)
		}
	}
	// The FIN usually came with the message, and then this returns at
	// once; otherwise it waits for it (or for the deadline).
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		switch {
		case n > 0:
			return nil, errDoQTrailing
		case err == io.EOF:
			return raw, nil
		case err != nil:
			return nil, err
		}
	}
}

func truncatedIfEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errDoQTruncated
	}
	return err
}

// doqReadProblem is the CONNECTION_CLOSE reason for a failed read.
func doqReadProblem(err error) string {
	switch {
	case errors.Is(err, errDoQTruncated):
		return "stream ended inside a message"
	case errors.Is(err, errDoQTrailing):
		return "more than one message on a stream"
	case errors.Is(err, errDoQTiny):
		return "message shorter than a DNS header"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "query or FIN not sent in time"
	}
	return "unreadable stream"
}
