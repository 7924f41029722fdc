package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// limitListener closes, at once and before any TLS, the connections over
// the caps, and counts the others until they are closed.
type limitListener struct {
	net.Listener
	limit *connLimiter
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a := addrOf(c.RemoteAddr())
		if !l.limit.acquire(a) {
			_ = c.Close()
			continue
		}
		return &limitConn{Conn: c, release: sync.OnceFunc(func() { l.limit.release(a) })}, nil
	}
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// quicLimitListener is limitListener for QUIC. A QUIC connection is
// accepted before its handshake completes (so that 0-RTT requests can be
// read), when its client address may still be forged: it takes a slot of
// limit, which TCP shares, only once the handshake has proved the
// address, and until then counts in the server's dohHandshakes, which is
// keyed by nobody. A connection over the caps is closed with
// H3_EXCESSIVE_LOAD; the others are counted until their context ends.
type quicLimitListener struct {
	ln    *quic.EarlyListener
	limit *connLimiter
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
	if done, ok := c.Context().Value(dohHandshakeDoneKey{}).(func()); ok {
		done()
	}
	a := addrOf(c.RemoteAddr())
	if !l.limit.acquire(a) {
		_ = c.CloseWithError(h3ExcessiveLoad, "too many connections")
		return
	}
	context.AfterFunc(c.Context(), func() { l.limit.release(a) })
}

func (l *quicLimitListener) Addr() net.Addr { return l.ln.Addr() }
func (l *quicLimitListener) Close() error   { return l.ln.Close() }

// dohHandshakes counts a DoHServer's QUIC connections whose handshake has
// not completed, over all its UDP sockets. Such a connection costs a few
// kilobytes and may come from a forged address (one Initial packet is
// enough), so it is counted apart from the per-client caps, which a forger
// could otherwise fill in the name of any client, TCP clients included.
// From retry on, a new connection must first prove its address with a
// Retry (RFC 9000 §8.1.2), which a forger cannot do; from max on, new
// connections are refused.
type dohHandshakes struct {
	max, retry int64
	n          atomic.Int64
}

// dohHandshakeDoneKey is the context key of the function that takes a
// connection out of the handshake count (idempotent).
type dohHandshakeDoneKey struct{}

// errDoHTooManyHandshakes refuses a connection (quic-go sends
// CONNECTION_REFUSED).
var errDoHTooManyHandshakes = errors.New("transport: doh: too many QUIC handshakes")

func newDoHHandshakes(maxConns int) *dohHandshakes {
	return &dohHandshakes{max: int64(maxConns), retry: int64(maxConns / 2)}
}

// connContext is quic.Transport.ConnContext: it counts a new connection
// until its handshake completes (quicLimitListener.admit) or it is closed.
func (h *dohHandshakes) connContext(ctx context.Context, _ *quic.ClientInfo) (context.Context, error) {
	if h.n.Add(1) > h.max {
		h.n.Add(-1)
		return nil, errDoHTooManyHandshakes
	}
	done := sync.OnceFunc(func() { h.n.Add(-1) })
	context.AfterFunc(ctx, done)
	return context.WithValue(ctx, dohHandshakeDoneKey{}, done), nil
}

// verifySourceAddress is quic.Transport.VerifySourceAddress: a Retry is
// demanded while many handshakes are under way, so that forged Initials
// stop adding to them. It costs real clients one round trip.
func (h *dohHandshakes) verifySourceAddress(net.Addr) bool {
	return h.n.Load() >= h.retry
}

// inHandshake reports the count, for tests.
func (h *dohHandshakes) inHandshake() int { return int(h.n.Load()) }

// httpErrorLog receives net/http's error log (one Write per line). TLS
// handshake failures and broken HTTP/2 prefaces are the client's business
// (and the latter quote what it sent) and are dropped; other lines go to
// report, if any, with every address removed: net/http names the client
// in nearly all of them.
type httpErrorLog struct {
	report func(error)
}

// addrPattern matches IPv4 and IPv6 addresses, with or without a port or
// brackets.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-zA-Z0-9_-]*\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b|[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(%[\w.-]+)?`)

func (l *httpErrorLog) Write(p []byte) (int, error) {
	if l.report == nil || bytes.Contains(p, []byte("TLS handshake error")) || bytes.Contains(p, []byte("error reading preface")) {
		return len(p), nil
	}
	line := addrPattern.ReplaceAll(bytes.TrimSpace(p), []byte("[address]"))
	l.report(errors.New("transport: doh: " + string(line)))
	return len(p), nil
}
