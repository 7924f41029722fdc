//go:build !noquic && !nohttp

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// dohH3 is the HTTP/3 half of a DoHServer.
type dohH3 struct {
	// handshakes counts QUIC connections not yet proven; they take no
	// slot of the server's limit until then.
	handshakes *quicHandshakes
	srv        *http3.Server
	tls        *tls.Config // ALPN h3
	quicCfg    *quic.Config
}

// initH3 sets up HTTP/3 beside the TCP server whose TLS configuration
// is tc.
func (s *DoHServer) initH3(tc *tls.Config, perClient int) {
	c := &s.cfg
	s.h3.handshakes = newQUICHandshakes(s.cfg.MaxConns, perClient)
	s.h3.tls = http3.ConfigureTLSConfig(tc.Clone())
	s.h3.quicCfg = &quic.Config{
		// quic-go gives up on a handshake after twice this.
		HandshakeIdleTimeout:  max(c.TLSHandshakeTimeout/2, time.Millisecond),
		MaxIdleTimeout:        c.IdleTimeout,
		MaxIncomingStreams:    int64(c.MaxInFlightPerConn),
		MaxIncomingUniStreams: dohMaxUniStreams,
		// Replaying a DNS query reveals nothing the first copy did
		// not, and hush answers it the same way (RFC 8484 §7 leaves
		// this to the server). A 0-RTT request that needs the handler
		// waits for the handshake (see ServeHTTP).
		Allow0RTT: true,
	}
	s.h3.srv = &http3.Server{
		Handler:        s,
		MaxHeaderBytes: dohMaxHeaderBytes,
		IdleTimeout:    c.IdleTimeout,
		// ServeHTTP needs the connection to wait for its handshake.
		ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
			ctx = context.WithValue(ctx, dohQUICConnKey{}, c)
			return context.WithValue(ctx, dohSlotKey{}, c.Context().Value(dohSlotKey{}))
		},
	}
}

// setH3Limits makes the caps on QUIC handshakes follow the connection
// caps (a reload).
func (s *DoHServer) setH3Limits(maxConns, perClient int) {
	s.h3.handshakes.setLimits(maxConns, perClient)
}

// shutdownH3 starts HTTP/3's shutdown; the channel gets its result.
func (s *DoHServer) shutdownH3(ctx context.Context) chan error {
	h3 := make(chan error, 1)
	go func() { h3 <- s.h3.srv.Shutdown(ctx) }()
	return h3
}

// closeH3 closes what HTTP/3's shutdown left: it does so by itself only
// when its context ends.
func (s *DoHServer) closeH3() { _ = s.h3.srv.Close() }

// dohTransport is a quic-go transport of DoHServer.ServeQUIC, as Shutdown
// sees it: http3.Server stops its listener, Shutdown closes it last.
type dohTransport struct{ *quic.Transport }

func (t dohTransport) stop()  {}
func (t dohTransport) close() { _ = t.Close() }

// ServeQUIC serves HTTP/3 on the UDP socket pc until Shutdown, then
// returns ErrServerClosed. From then on the HTTP/1.1 and HTTP/2 responses
// advertise h3 on pc's port with Alt-Svc. Shutdown does not close pc.
func (s *DoHServer) ServeQUIC(pc net.PacketConn) error {
	if err := s.check(); err != nil {
		return err
	}
	tr := &quic.Transport{
		Conn: pc,
		ConnContext: func(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
			ctx, err := s.h3.handshakes.connContext(ctx, ci)
			if err != nil {
				return nil, err
			}
			// Filled in once the handshake completes (see
			// quicLimitListener.admit).
			return context.WithValue(ctx, dohSlotKey{}, new(slotRef)), nil
		},
		VerifySourceAddress: s.h3.handshakes.verifySourceAddress,
	}
	if !s.life.addListener(dohTransport{tr}, false) {
		return ErrServerClosed
	}
	ln, err := tr.ListenEarly(s.h3.tls, s.h3.quicCfg)
	if err != nil {
		if s.life.closing.Load() {
			// Shutdown closed tr under us.
			return ErrServerClosed
		}
		return fmt.Errorf("transport: doh: quic listen: %w", err)
	}
	defer ln.Close()
	if ap := addrPortOf(pc.LocalAddr()); ap.Port() != 0 {
		v := []string{fmt.Sprintf(`h3=":%d"; ma=%d`, ap.Port(), int(s.altSvcMA.Seconds()))}
		s.altSvc.Lock()
		s.altSvc.v = v
		s.altSvc.Unlock()
		// Once this socket serves no more, HTTP/3 is not on offer
		// there: clients told so would try it and wait in vain.
		defer func() {
			s.altSvc.Lock()
			if s.altSvc.v != nil && &s.altSvc.v[0] == &v[0] {
				s.altSvc.v = nil
			}
			s.altSvc.Unlock()
		}()
	}
	err = s.h3.srv.ServeListener(&quicLimitListener{ln: ln, limit: s.limit})
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	if err != nil {
		return fmt.Errorf("transport: doh: %w", err)
	}
	return nil
}

// quicLimitListener is limitListener for QUIC. A QUIC connection is
// accepted before its handshake completes (so that 0-RTT requests can be
// read), when its client address may still be forged: it takes a slot of
// limit, which TCP shares, only once the handshake has proved the
// address, and until then counts in the server's quicHandshakes, which
// is keyed by nobody. A connection over the caps is closed with
// H3_EXCESSIVE_LOAD; the others are counted until their context ends.
type quicLimitListener struct {
	ln    *quic.EarlyListener
	limit *connSlots
}

func (l *quicLimitListener) Accept(ctx context.Context) (*quic.Conn, error) {
	c, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, err
	}
	go l.admit(c)
	return c, nil
}

// admit waits for c's handshake (HandshakeIdleTimeout bounds the wait),
// moves c from the handshake count to limit, or closes it when limit is
// full. The handshake being complete, the client sees the error code (RFC
// 9000 §10.2.3 hides it before).
func (l *quicLimitListener) admit(c *quic.Conn) {
	select {
	case <-c.HandshakeComplete():
	case <-c.Context().Done():
		return
	}
	handshakeDone(c)
	sl, ok := l.limit.acquire(addrOf(c.RemoteAddr()), func() { _ = c.CloseWithError(h3NoError, "idle") })
	if !ok {
		_ = c.CloseWithError(h3ExcessiveLoad, "too many connections")
		return
	}
	if ref, ok := c.Context().Value(dohSlotKey{}).(*slotRef); ok {
		ref.Store(sl)
	}
	context.AfterFunc(c.Context(), sl.release)
}

func (l *quicLimitListener) Addr() net.Addr { return l.ln.Addr() }
func (l *quicLimitListener) Close() error   { return l.ln.Close() }

// dohQUICConnKey is the context key of an HTTP/3 request's QUIC connection.
type dohQUICConnKey struct{}

// dohHandshakeOf is nil for a request over TCP, whose address TCP's
// handshake proved; for HTTP/3, its connection's HandshakeComplete.
// A request over HTTP/3 without its connection, which cannot happen, is
// never proven.
func dohHandshakeOf(r *http.Request) <-chan struct{} {
	if r.ProtoMajor < 3 {
		return nil
	}
	if c, ok := r.Context().Value(dohQUICConnKey{}).(*quic.Conn); ok {
		return c.HandshakeComplete()
	}
	return make(chan struct{})
}
