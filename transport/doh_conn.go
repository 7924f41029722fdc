//go:build !nohttp

package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"regexp"
	"sync/atomic"
)

// limitListener closes, at once and before any TLS, the connections over
// the caps, and gives the others a slot until they are closed (or closed
// to make room: see connSlots).
type limitListener struct {
	net.Listener
	limit *connSlots
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitConn{Conn: c}
		sl, ok := l.limit.acquire(addrOf(c.RemoteAddr()), lc.evict)
		if !ok {
			_ = c.Close()
			continue
		}
		lc.slot = sl
		return lc, nil
	}
}

type limitConn struct {
	net.Conn
	slot *slot
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.slot.release()
	return err
}

// evict closes the socket under net/http, which then ends the connection:
// closing the TLS session could block on a client that does not read.
func (c *limitConn) evict() { _ = c.Conn.Close() }

// slotRef carries a DoH connection's slot to its requests, which tell it
// when they start and end, so that a connection is not closed for room
// while it has requests in flight. Over TCP it is set at the accept; over
// QUIC once the handshake completes, and until then the connection's
// requests are not counted.
type slotRef struct{ atomic.Pointer[slot] }

// dohSlotKey is the context key of a *slotRef: in a request's context,
// and in a QUIC connection's.
type dohSlotKey struct{}

// slotContext is http.Server.ConnContext: it gives the requests of c the
// slot limitListener gave c.
func slotContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitConn)
	if !ok {
		return ctx
	}
	ref := new(slotRef)
	ref.Store(lc.slot)
	return context.WithValue(ctx, dohSlotKey{}, ref)
}

// holdSlot tells the slot of a request's connection, if known, that the
// request is in flight; the caller calls the result when it is answered.
func holdSlot(ctx context.Context) func() {
	ref, ok := ctx.Value(dohSlotKey{}).(*slotRef)
	if !ok {
		return func() {}
	}
	sl := ref.Load()
	if sl == nil {
		return func() {}
	}
	sl.hold()
	return sl.done
}

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
