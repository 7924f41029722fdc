package upstream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// ALPNDoT is the ALPN protocol of DNS over TLS (RFC 7858 §3.2, as
// registered).
const ALPNDoT = "dot"

// Stats counts what an upstream did, for tests and metrics: how many
// connections (or QUIC handshakes) it opened and how many of them resumed
// a TLS session, and how many exchanges it completed.
type Stats struct {
	Dials, Resumed, Exchanges uint64
}

// StatsReporter is implemented by every Upstream of this package.
type StatsReporter interface{ Stats() Stats }

type counters struct{ dials, resumed, exchanges atomic.Uint64 }

func (c *counters) Stats() Stats {
	return Stats{Dials: c.dials.Load(), Resumed: c.resumed.Load(), Exchanges: c.exchanges.Load()}
}

// Errors a DoT or DoQ connection reports to the queries on it.
var (
	// errNotSent: the connection was dead before the query was written;
	// the query can go on a new connection at no risk.
	errNotSent = errors.New("connection closed before the query was sent")
	// ErrConnLost: the connection ended while the query waited.
	ErrConnLost = errors.New("connection lost")
	errBusy     = errors.New("too many queries in flight on the connection")
	errClosed   = errors.New("upstream closed")
)

// maxPipelined bounds the queries in flight on one DoT connection.
const maxPipelined = 1024

// dot is a tls:// upstream: one TLS connection at a time, on which queries
// are pipelined and answered in any order, matched by ID (RFC 7766 §6.2.1.1,
// RFC 7858 §3.3). The connection is opened by the first query, closed when
// idle a little before the server would close it (edns-tcp-keepalive,
// RFC 7828, when the server announces it; Options.IdleTimeout otherwise),
// and opened again on demand, resuming the TLS session. A query that finds
// the connection dead, or sees a reused connection die before its answer
// (the server closed it while it sat idle), goes once more on a new
// connection. dot does not open a second connection while one is alive.
type dot struct {
	spec  Spec
	opts  Options
	conf  *tls.Config
	certs certNotes
	counters

	mu      sync.Mutex
	conn    *dotConn  // mu guards; nil or possibly dead
	dialing *dialCall // mu guards; the dial in progress
	closed  bool      // mu guards
}

type dialCall struct {
	done chan struct{}
	conn *dotConn
	err  error
}

func newDoT(s Spec, opts Options) *dot {
	return &dot{spec: s, opts: opts, conf: tlsConfig(s, opts, ALPNDoT)}
}

func (u *dot) String() string { return u.spec.String() }

// Close implements Upstream.
func (u *dot) Close() error {
	u.mu.Lock()
	u.closed = true
	c := u.conn
	u.conn = nil
	u.mu.Unlock()
	if c != nil {
		c.fail(errClosed)
	}
	return nil
}

// Exchange implements Upstream.
func (u *dot) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	retried := false
	for tries := 0; ; tries++ {
		c, reused, err := u.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u, err)
		}
		r, err := c.exchange(ctx, q)
		if err == nil {
			u.exchanges.Add(1)
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("upstream %s: %w", u, ctx.Err())
		}
		switch {
		case errors.Is(err, errNotSent) && tries < 3:
			continue
		case reused && !retried && errors.Is(err, ErrConnLost):
			// The connection died while idle, or the server closed it
			// with queries in flight: once more on a new one.
			retried = true
			continue
		}
		return nil, fmt.Errorf("upstream %s: %w", u, err)
	}
}

// get returns a live connection, dialing one if there is none; reused
// says it was there before this call.
func (u *dot) get(ctx context.Context) (*dotConn, bool, error) {
	for {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return nil, false, errClosed
		}
		if c := u.conn; c != nil && c.alive() {
			u.mu.Unlock()
			return c, true, nil
		}
		if d := u.dialing; d != nil {
			u.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, false, ctx.Err()
			case <-d.done:
			}
			if d.err != nil && !errors.Is(d.err, context.Canceled) && !errors.Is(d.err, context.DeadlineExceeded) {
				return nil, false, d.err
			}
			continue
		}
		d := &dialCall{done: make(chan struct{})}
		u.dialing = d
		u.mu.Unlock()
		d.conn, d.err = u.dial(ctx)
		u.mu.Lock()
		u.dialing = nil
		if d.err == nil {
			if u.closed {
				d.conn.fail(errClosed)
				d.err = errClosed
			} else {
				u.conn = d.conn
			}
		}
		u.mu.Unlock()
		close(d.done)
		if d.err != nil {
			return nil, false, d.err
		}
		return d.conn, false, nil
	}
}

func (u *dot) dial(ctx context.Context) (*dotConn, error) {
	d := &tls.Dialer{NetDialer: u.opts.dialer(), Config: u.conf}
	nc, err := d.DialContext(ctx, "tcp", u.spec.Addr.String())
	if err != nil {
		if cerr, ok := certError(err); ok {
			u.certs.failed(&u.opts, u.String(), cerr)
			return nil, cerr
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	u.certs.worked()
	u.dials.Add(1)
	tc := nc.(*tls.Conn)
	if tc.ConnectionState().DidResume {
		u.resumed.Add(1)
	}
	c := &dotConn{
		tc:      tc,
		pending: make(map[uint16]*dotCall),
		idle:    u.opts.idle(),
		cfgIdle: u.opts.idle(),
		done:    make(chan struct{}),
	}
	c.mu.Lock()
	c.armIdleLocked()
	c.mu.Unlock()
	go c.readLoop()
	return c, nil
}

// dotConn is one pipelined TLS connection.
type dotConn struct {
	tc      *tls.Conn
	cfgIdle time.Duration
	done    chan struct{} // closed when the connection is dead

	wmu sync.Mutex // serialises writes

	// lastRead is when a frame last arrived (UnixNano).
	lastRead atomic.Int64

	mu      sync.Mutex
	pending map[uint16]*dotCall // mu guards
	err     error               // mu guards; set once dead
	idle    time.Duration       // mu guards; current idle timeout
	timer   *time.Timer         // mu guards; the idle timer
	gen     uint64              // mu guards; invalidates stale timers
}

type dotCall struct {
	q  *dns.Msg
	ch chan dotResult
}

type dotResult struct {
	r   *dns.Msg
	err error
}

func (c *dotConn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// fail ends the connection: every query waiting on it gets err.
func (c *dotConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pend := c.pending
	c.pending = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	close(c.done)
	c.mu.Unlock()
	c.tc.Close()
	for _, call := range pend {
		call.ch <- dotResult{err: err}
	}
}

// armIdleLocked starts the idle timer when nothing is in flight.
func (c *dotConn) armIdleLocked() {
	if len(c.pending) != 0 || c.err != nil {
		return
	}
	c.gen++
	gen := c.gen
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(c.idle, func() {
		c.mu.Lock()
		idle := c.gen == gen && len(c.pending) == 0 && c.err == nil
		c.mu.Unlock()
		if idle {
			c.fail(fmt.Errorf("%w: idle", errNotSent))
		}
	})
}

func (c *dotConn) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	call := &dotCall{q: q, ch: make(chan dotResult, 1)}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, errNotSent
	}
	if len(c.pending) >= maxPipelined {
		c.mu.Unlock()
		return nil, errBusy
	}
	id := randomID()
	for c.pending[id] != nil {
		id = randomID()
	}
	c.pending[id] = call
	c.gen++ // the idle timer, if running, no longer counts
	c.mu.Unlock()

	wire, err := prepare(q, id, true, true)
	if err != nil {
		c.forget(id)
		return nil, err
	}
	sent := time.Now()
	c.wmu.Lock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = sent.Add(30 * time.Second)
	}
	c.tc.SetWriteDeadline(dl)
	_, err = c.tc.Write(frame(wire))
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("%w: write: %w", ErrConnLost, err))
	}
	select {
	case res := <-call.ch:
		return res.r, res.err
	case <-ctx.Done():
		c.forget(id)
		// Nothing at all came back in the second or more since the
		// query went out: the connection is likely dead (a route change
		// leaves such connections behind). Do not leave it to the next
		// query. A caller that merely gave up early (a parallel query
		// answered elsewhere) says nothing about the connection.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && time.Since(sent) >= time.Second &&
			c.lastRead.Load() < sent.UnixNano() {
			c.fail(fmt.Errorf("%w: no reply before the deadline", ErrConnLost))
		}
		return nil, ctx.Err()
	}
}

// forget drops a query whose caller gave up.
func (c *dotConn) forget(id uint16) {
	c.mu.Lock()
	if c.pending != nil {
		delete(c.pending, id)
		c.armIdleLocked()
	}
	c.mu.Unlock()
}

func (c *dotConn) readLoop() {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		raw, err := readFrame(c.tc, *bp)
		if err != nil {
			c.fail(fmt.Errorf("%w: %w", ErrConnLost, err))
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		id := binary.BigEndian.Uint16(raw)
		c.mu.Lock()
		call := c.pending[id]
		if call != nil {
			delete(c.pending, id)
		}
		c.mu.Unlock()
		if call == nil {
			continue // a late reply to a query whose caller gave up
		}
		r := new(dns.Msg)
		var res dotResult
		ka, hasKA := time.Duration(0), false
		if err := r.Unpack(raw); err != nil {
			res.err = fmt.Errorf("%w: %w", ErrMalformed, err)
		} else {
			// RFC 7828 §3.3.2: the server's idle timeout, read before
			// checkReply strips the option.
			ka, hasKA = keepaliveOf(r)
			if err := checkReply(call.q, r, id); err != nil {
				res.err = err
			} else {
				res.r = r
			}
		}
		c.mu.Lock()
		if hasKA {
			c.idle = idleFor(c.cfgIdle, ka, true)
		}
		c.armIdleLocked()
		c.mu.Unlock()
		call.ch <- res
	}
}
