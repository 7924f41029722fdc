package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"sync"

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
// address, and until then counts in the server's quicHandshakes, which
// is keyed by nobody. A connection over the caps is closed with
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
	handshakeDone(c)
	a := addrOf(c.RemoteAddr())
	if !l.limit.acquire(a) {
		_ = c.CloseWithError(h3ExcessiveLoad, "too many connections")
		return
	}
	context.AfterFunc(c.Context(), func() { l.limit.release(a) })
}

func (l *quicLimitListener) Addr() net.Addr { return l.ln.Addr() }
func (l *quicLimitListener) Close() error   { return l.ln.Close() }

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
