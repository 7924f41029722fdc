//go:build !noquic

package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// ALPNDoQ is the ALPN protocol of DNS over QUIC (RFC 9250 §4.1.1).
const ALPNDoQ = "doq"

// doqNoError is DOQ_NO_ERROR (RFC 9250 §4.3).
const (
	doqNoError       = quic.ApplicationErrorCode(0)
	doqStreamNoError = quic.StreamErrorCode(0)
)

// doq is a quic:// upstream (RFC 9250): one QUIC connection at a time, a
// bidirectional stream per query carrying one length-prefixed message
// with ID 0 (§4.2.1), the reply read up to the server's FIN. A resumed
// session sends its first queries in 0-RTT (§4.5); when the server
// rejects 0-RTT, the connection goes on at 1-RTT and the rejected
// queries are sent again on it. The connection's idle timeout is the
// smaller of Options.IdleTimeout and the server's, so QUIC itself closes
// an idle connection on both sides at once; a query that finds it just
// gone goes once more on a new one. No keep-alive pings: an idle
// connection is let go.
type doq struct {
	spec  Spec
	opts  Options
	conf  *tls.Config
	qconf *quic.Config
	certs certNotes
	counters
	rejected atomic.Uint64 // 0-RTT rejections seen

	mu      sync.Mutex
	conn    *quic.Conn // mu guards
	dialing chan struct{}
	dialErr error // mu guards; the last dial's error, for waiters
	closed  bool  // mu guards
}

func newDoQ(s Spec, opts Options) *doq {
	conf := tlsConfig(s, opts, ALPNDoQ)
	conf.MinVersion = tls.VersionTLS13
	return &doq{
		spec: s,
		opts: opts,
		conf: conf,
		qconf: &quic.Config{
			MaxIdleTimeout:       opts.idle(),
			HandshakeIdleTimeout: 5 * time.Second,
			// The server opens no streams of its own (§4.3.3).
			MaxIncomingStreams:    -1,
			MaxIncomingUniStreams: -1,
		},
	}
}

func (u *doq) String() string { return u.spec.String() }

// Close implements Upstream.
func (u *doq) Close() error {
	u.mu.Lock()
	u.closed = true
	c := u.conn
	u.conn = nil
	u.mu.Unlock()
	if c != nil {
		c.CloseWithError(doqNoError, "")
	}
	return nil
}

// Exchange implements Upstream.
func (u *doq) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	wire, err := prepare(q, 0, false, true)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u, err)
	}
	retried := false
	for tries := 0; ; tries++ {
		conn, reused, err := u.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u, err)
		}
		r, err := u.exchangeOn(ctx, conn, q, wire)
		if err == nil {
			u.certs.worked()
			u.exchanges.Add(1)
			return r, nil
		}
		if errors.Is(err, quic.Err0RTTRejected) && tries < 3 {
			u.rejected.Add(1)
			// The 0-RTT data is void; the same connection goes on at
			// 1-RTT once the handshake completes (RFC 9001 §4.6.2).
			next, nerr := conn.NextConnection(ctx)
			if nerr != nil {
				u.drop(conn)
				return nil, fmt.Errorf("upstream %s: after 0-RTT rejection: %w", u, nerr)
			}
			u.mu.Lock()
			if u.conn == conn {
				u.conn = next
			}
			u.mu.Unlock()
			continue
		}
		if cerr, ok := certError(err); ok {
			u.drop(conn)
			u.certs.failed(&u.opts, u.String(), cerr)
			return nil, fmt.Errorf("upstream %s: %w", u, cerr)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("upstream %s: %w", u, ctx.Err())
		}
		if conn.Context().Err() != nil {
			// The connection is gone (idle timeout, server close,
			// stateless reset).
			u.drop(conn)
			if reused && !retried {
				retried = true
				continue
			}
			err = fmt.Errorf("%w: %w", ErrConnLost, err)
		}
		return nil, fmt.Errorf("upstream %s: %w", u, err)
	}
}

func (u *doq) drop(c *quic.Conn) {
	u.mu.Lock()
	if u.conn == c {
		u.conn = nil
	}
	u.mu.Unlock()
	c.CloseWithError(doqNoError, "")
}

func (u *doq) get(ctx context.Context) (*quic.Conn, bool, error) {
	for {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return nil, false, errClosed
		}
		if c := u.conn; c != nil && c.Context().Err() == nil {
			u.mu.Unlock()
			return c, true, nil
		}
		if d := u.dialing; d != nil {
			u.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, false, ctx.Err()
			case <-d:
			}
			u.mu.Lock()
			err := u.dialErr
			u.mu.Unlock()
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return nil, false, err
			}
			continue
		}
		d := make(chan struct{})
		u.dialing = d
		u.mu.Unlock()
		c, err := u.dial(ctx)
		u.mu.Lock()
		u.dialing = nil
		u.dialErr = err
		if err == nil {
			if u.closed {
				c.CloseWithError(doqNoError, "")
				err = errClosed
			} else {
				u.conn = c
			}
		}
		u.mu.Unlock()
		close(d)
		if err != nil {
			return nil, false, err
		}
		return c, false, nil
	}
}

func (u *doq) dial(ctx context.Context) (*quic.Conn, error) {
	c, err := quic.DialAddrEarly(ctx, u.spec.Addr.String(), u.conf, u.qconf)
	if err != nil {
		if cerr, ok := certError(err); ok {
			u.certs.failed(&u.opts, u.String(), cerr)
			return nil, cerr
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	u.dials.Add(1)
	go func() {
		select {
		case <-c.HandshakeComplete():
			if c.ConnectionState().TLS.DidResume {
				u.resumed.Add(1)
			}
		case <-c.Context().Done():
		}
	}()
	return c, nil
}

func (u *doq) exchangeOn(ctx context.Context, conn *quic.Conn, q *dns.Msg, wire []byte) (*dns.Msg, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		str.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() {
		str.CancelRead(doqStreamNoError)
		str.CancelWrite(doqStreamNoError)
	})
	defer stop()
	if _, err := str.Write(frame(wire)); err != nil {
		str.CancelRead(doqStreamNoError)
		return nil, fmt.Errorf("write: %w", err)
	}
	str.Close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	raw, err := readFrame(str, *bp)
	// One message per stream: whatever follows is not read.
	str.CancelRead(doqStreamNoError)
	if err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkReply(q, r, 0); err != nil {
		return nil, err
	}
	return r, nil
}

// quicBuilt: this build has DNS over QUIC and HTTP/3 (see doq_off.go).
const quicBuilt = true

var errNoQUIC error // never returned when quicBuilt

// ResetConnections implements Pool's optional interface.
func (u *doq) ResetConnections() {
	u.mu.Lock()
	c := u.conn
	u.conn = nil
	u.mu.Unlock()
	if c != nil {
		c.CloseWithError(doqNoError, "")
	}
}
