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

// quicLimitListener is limitListener for QUIC: a connection over the caps
// is closed with H3_EXCESSIVE_LOAD; the others are counted until their
// context ends.
type quicLimitListener struct {
	ln    *quic.EarlyListener
	limit *connLimiter
}

func (l *quicLimitListener) Accept(ctx context.Context) (*quic.Conn, error) {
	for {
		c, err := l.ln.Accept(ctx)
		if err != nil {
			return nil, err
		}
		a := addrOf(c.RemoteAddr())
		if !l.limit.acquire(a) {
			// Before the handshake is done, QUIC hides application
			// error codes (RFC 9000 §10.2.3); the client should
			// learn why. HandshakeIdleTimeout bounds the wait.
			go func() {
				select {
				case <-c.HandshakeComplete():
				case <-c.Context().Done():
				}
				_ = c.CloseWithError(h3ExcessiveLoad, "too many connections")
			}()
			continue
		}
		context.AfterFunc(c.Context(), func() { l.limit.release(a) })
		return c, nil
	}
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
