//go:build !noquic

package transport

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

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
	// acceptCtx is cancelled by stop.
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
	slot      *slot     // once admitted; idleMu guards
	idleSince time.Time // when active last became 0; idleMu guards
	idle      *time.Timer
}

func (s *DoQServer) newConn(conn *quic.Conn) *doqConn {
	dc := &doqConn{
		s:       s,
		conn:    conn,
		allowed: s.pipe.allowed(addrOf(conn.RemoteAddr())),
	}
	dc.ctx, dc.cancel = context.WithCancel(s.life.base)
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
	// The idle clock starts when the handshake completes (see admit): a
	// handshake has its own bound, and one slowed by a loaded client or
	// server must not be cut off as idle. Until then this timer is only
	// a backstop, as TLS gives a new connection TLSHandshakeTimeout plus
	// IdleTimeout for its first question.
	dc.idleSince = time.Now()
	dc.idle = time.AfterFunc(dc.s.cfg.TLSHandshakeTimeout+dc.s.cfg.IdleTimeout, dc.idleCheck)
	var sl *slot
	dc.streams.Add(1)
	go func() {
		defer dc.streams.Done()
		sl = dc.admit()
	}()
	defer func() {
		dc.streams.Wait()
		dc.idle.Stop()
		dc.linger()
		stop()
		dc.cancel()
		_ = dc.conn.CloseWithError(DoQNoError, "")
		if sl != nil {
			sl.release()
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
// and returns its slot, if it got one. When MaxConns are open, the one
// idle the longest is closed (with DOQ_NO_ERROR, as an idle connection
// is) to make room; see connSlots. One beyond MaxConnsPerClient, or one
// that finds every connection busy, is closed with DOQ_EXCESSIVE_LOAD:
// closed before the
// handshake completes, QUIC would have to replace the code with a bare
// APPLICATION_ERROR (RFC 9000 §10.2.3) and the client would not learn why.
// The handshake timeout bounds the wait; Shutdown cuts it short.
func (dc *doqConn) admit() *slot {
	select {
	case <-dc.conn.HandshakeComplete():
	case <-dc.acceptCtx.Done():
		return nil
	}
	handshakeDone(dc.conn)
	sl, ok := dc.s.limit.acquire(addrOf(dc.conn.RemoteAddr()), func() { _ = dc.conn.CloseWithError(DoQNoError, "idle") })
	if !ok {
		_ = dc.conn.CloseWithError(DoQExcessiveLoad, "too many connections")
		return nil
	}
	// The streams opened in 0-RTT are in flight too.
	dc.idleMu.Lock()
	dc.slot = sl
	for range dc.active {
		sl.hold()
	}
	if dc.active == 0 {
		dc.idleSince = time.Now()
		dc.idle.Reset(dc.s.cfg.IdleTimeout)
	}
	dc.idleMu.Unlock()
	close(dc.admitted)
	return sl
}

func (dc *doqConn) streamStarted() {
	dc.idleMu.Lock()
	dc.active++
	if dc.slot != nil {
		dc.slot.hold()
	}
	dc.idleMu.Unlock()
}

// streamEnded restarts the idle timer when the last stream ends.
func (dc *doqConn) streamEnded() {
	dc.idleMu.Lock()
	defer dc.idleMu.Unlock()
	if dc.slot != nil {
		dc.slot.done()
	}
	if dc.active--; dc.active == 0 {
		dc.idleSince = time.Now()
		dc.idle.Reset(dc.s.cfg.IdleTimeout)
	}
}

// idleCheck closes the connection with DOQ_NO_ERROR (RFC 9250 §5.5.2)
// once it has had no stream for IdleTimeout, as TCP does. QUIC's own
// idle timeout does not do it: a client's PINGs reset that one.
func (dc *doqConn) idleCheck() {
	dc.idleMu.Lock()
	if dc.active > 0 {
		// streamEnded arms the timer again.
		dc.idleMu.Unlock()
		return
	}
	if left := dc.s.cfg.IdleTimeout - time.Since(dc.idleSince); left > 0 {
		// A stream came and went since the timer was set.
		dc.idle.Reset(left)
		dc.idleMu.Unlock()
		return
	}
	dc.idleMu.Unlock()
	_ = dc.conn.CloseWithError(DoQNoError, "idle")
}

// stop makes the connection accept no more streams; the streams open are
// still answered.
func (dc *doqConn) stop() { dc.cancelAccept() }

// close closes the connection at once, for a Shutdown out of time.
func (dc *doqConn) close() { _ = dc.conn.CloseWithError(DoQNoError, "") }

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
	_ = str.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
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
	out, act, why := s.pipe.doqPrepare(sc, raw, q, &req, dc.allowed)
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
	_ = str.SetWriteDeadline(time.Now().Add(cfg.IdleTimeout))
	if _, err := str.Write(out); err != nil {
		// The client cancelled, or the connection is gone.
		str.CancelWrite(DoQRequestCancelled)
		return
	}
	_ = str.Close()
}

// handle asks the handler, once the handshake has proved the client's
// address and the connection is admitted, and returns the response (nil
// if the query was cancelled) and the scratch it is built in. The
// handler's context ends with the connection, with Config.QueryTimeout, or
// when the client stops reading the stream (STOP_SENDING), whichever is
// first.
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
	out := dc.s.pipe.finish(ctx, sc, q, req, protoQUIC)
	if str.Context().Err() != nil {
		dc.s.scratch.Put(sc)
		str.CancelWrite(DoQRequestCancelled)
		return nil, nil
	}
	return out, sc
}
