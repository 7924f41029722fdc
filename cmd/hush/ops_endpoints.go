package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/hush-dns/hush/control"
)

// opsEndpoints are the control socket and the metrics listener, which a
// reload may open, move or close. A reload prepares the new ones first
// (a socket that cannot be bound fails it with nothing changed), and once
// nothing else can fail commits: the new ones serve and the old ones stop
// accepting, finishing what they serve (the hush ctl reload that asked
// gets its answer on the socket it used).
type opsEndpoints struct {
	ops    *opsRuntime
	stderr io.Writer
	// probeAddr is the listener the health check asks: the first dns://
	// one at start.
	probeAddr netip.AddrPort

	// mu guards everything below.
	mu      sync.Mutex
	up      bool // the listeners serve
	control *controlEndpoint
	metrics *metricsEndpoint
	closed  bool
	// retired counts endpoints a reload replaced, still stopping.
	retired sync.WaitGroup
}

// controlEndpoint is a control socket and its server.
type controlEndpoint struct {
	path string
	srv  *control.Server
	ln   net.Listener
	done chan error
}

func startControl(ops *opsRuntime, path string) (*controlEndpoint, error) {
	ln, err := control.Listen(path)
	if err != nil {
		return nil, fmt.Errorf("control-socket: %w", err)
	}
	c := &controlEndpoint{path: path, srv: control.NewServer(ops, nil), ln: ln, done: make(chan error, 1)}
	go func() { c.done <- c.srv.Serve(ln) }()
	ops.logf(logInfo, "hush: control socket %s (hush ctl --control-socket %s status)", path, path)
	return c, nil
}

// stop closes the socket and waits for the requests being served, at
// most shutdownGrace.
func (c *controlEndpoint) stop(stderr io.Writer) {
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = c.srv.Shutdown(sctx)
	// Shutdown closes the listeners Serve has taken; one stopped before
	// Serve took it is closed here (which removes the socket file).
	c.ln.Close()
	if err := <-c.done; err != nil && !errors.Is(err, control.ErrServerClosed) {
		fmt.Fprintf(stderr, "hush: control socket: %v\n", err)
	}
}

// start opens what cfg asks for.
func (e *opsEndpoints) start(ctx context.Context, cfg *serveConfig) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := cfg.Ops.ControlSocket; p != "" {
		c, err := startControl(e.ops, p)
		if err != nil {
			return err
		}
		e.control = c
	}
	if u := cfg.Ops.MetricsListen; u != nil {
		m, err := e.startMetrics(ctx, *u)
		if err != nil {
			return err
		}
		e.metrics = m
	}
	return nil
}

// setUp records whether the listeners serve, for the health check.
func (e *opsEndpoints) setUp(up bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.up = up
	if e.metrics != nil {
		e.metrics.setUp(up)
	}
}

// endpointChange is what prepare made: commit puts it in service, abort
// drops it.
type endpointChange struct {
	e              *opsEndpoints
	ctlChanged     bool
	control        *controlEndpoint // the new socket; nil: none
	metricsChanged bool
	metrics        *metricsEndpoint // a new listener; nil: none or handler
	metricsHandler metricsHandler   // a new path on the same address...
	metricsPath    string           // ...which is this
}

// prepare opens what next asks for and the running ones lack. On an
// error nothing was changed.
func (e *opsEndpoints) prepare(ctx context.Context, next *serveConfig) (*endpointChange, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := &endpointChange{e: e}
	if e.closed {
		return ch, nil
	}
	curPath := ""
	if e.control != nil {
		curPath = e.control.path
	}
	if p := next.Ops.ControlSocket; p != curPath {
		ch.ctlChanged = true
		if p != "" {
			c, err := startControl(e.ops, p)
			if err != nil {
				return nil, err
			}
			ch.control = c
		}
	}
	var cur *metricsURL
	if e.metrics != nil {
		cur = &e.metrics.url
	}
	u := next.Ops.MetricsListen
	switch {
	case u == nil && cur == nil, u != nil && cur != nil && *u == *cur:
	case u != nil && cur != nil && u.Addr == cur.Addr:
		// The same socket, another path: a new handler on it.
		h, err := e.metrics.handlerFor(e.ops.m, u.Path)
		if err != nil {
			ch.abort()
			return nil, fmt.Errorf("metrics-listen: %w", err)
		}
		ch.metricsChanged, ch.metricsHandler, ch.metricsPath = true, h, u.Path
	case u == nil:
		ch.metricsChanged = true
	default:
		m, err := e.startMetrics(ctx, *u)
		if err != nil {
			ch.abort()
			return nil, err
		}
		ch.metricsChanged, ch.metrics = true, m
	}
	return ch, nil
}

// abort stops what prepare opened.
func (ch *endpointChange) abort() {
	if ch.control != nil {
		ch.control.stop(ch.e.stderr)
	}
	if ch.metrics != nil {
		ch.metrics.stop()
	}
}

// commit puts the prepared endpoints in service and stops the ones they
// replace, in the background (one of them may be serving the reload).
func (ch *endpointChange) commit() {
	e := ch.e
	e.mu.Lock()
	defer e.mu.Unlock()
	var old []func()
	if ch.ctlChanged {
		if c := e.control; c != nil {
			old = append(old, func() { c.stop(e.stderr) })
		}
		e.control = ch.control
	}
	switch {
	case !ch.metricsChanged:
	case ch.metricsPath != "": // a new handler on the same listener
		e.metrics.url.Path = ch.metricsPath
		e.metrics.setHandler(ch.metricsHandler)
	default:
		if m := e.metrics; m != nil {
			old = append(old, m.stop)
		}
		e.metrics = ch.metrics
		if e.metrics != nil {
			e.metrics.setUp(e.up)
		}
	}
	for _, stop := range old {
		e.retired.Add(1)
		go func() {
			defer e.retired.Done()
			stop()
		}()
	}
}

// stop stops every endpoint, and waits for those a reload replaced.
func (e *opsEndpoints) stop() {
	e.mu.Lock()
	e.closed = true
	c, m := e.control, e.metrics
	e.control, e.metrics = nil, nil
	e.mu.Unlock()
	if m != nil {
		m.stop()
	}
	if c != nil {
		c.stop(e.stderr)
	}
	e.retired.Wait()
}
