package main

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/transport"
)

// serveHooks are what serveSockets takes from the operations side: the
// handler of each kind of listener, and whether the listeners are up.
type serveHooks struct {
	handler func(metrics.Transport) transport.Handler
	events  func(metrics.Transport) transport.Events // nil: not counted
	ready   func(up bool)
	// infof prints an info line (nil: always printed).
	infof func(format string, args ...any)
	// listeners receives the listeners, for a reload to add and remove
	// them (nil: nobody does).
	listeners func(*listenerSet)
}

// aclSetter is a transport server whose client ACL a reload can change.
type aclSetter interface {
	SetAllowClients([]netip.Prefix)
}

// connListeners name the hush_connections_open series: one per kind of
// connection-oriented listener (all the tls:// listeners count together,
// and so on). UDP has no connections.
var connListeners = []string{"tcp", "tls", "https", "quic"}

// listenerEvents counts one server's connections and what its limits
// turned away.
type listenerEvents struct {
	l *metrics.Listener // nil for UDP
	m *metrics.Metrics
}

func (e *listenerEvents) ConnOpened() { e.l.Opened() }
func (e *listenerEvents) ConnClosed() { e.l.Closed() }
func (e *listenerEvents) Limited()    { e.m.RateLimited() }

// Health check timing: a probe every healthInterval, and the instance is
// healthy while the last one answered and is at most healthMaxAge old.
const (
	healthInterval = 10 * time.Second
	healthMaxAge   = 30 * time.Second
)

// startOps starts the control socket and the metrics listener that cfg
// asks for (see opsEndpoints), and sets hooks.ready for the health check. The returned
// function stops them.
func startOps(ctx context.Context, cfg serveConfig, ops *opsRuntime, socks *sockets, hooks *serveHooks, stderr io.Writer) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if cfg.Ops.LogLevel >= logDebug {
		dctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			debugCounts(dctx, ops, time.Minute)
		}()
		stops = append(stops, func() { cancel(); <-done })
	}
	e := &opsEndpoints{ops: ops, stderr: stderr}
	for _, b := range socks.Bound {
		if b.Scheme == "dns" {
			e.probeAddr = b.Addr
			break
		}
	}
	stops = append(stops, e.stop)
	if err := e.start(ctx, &cfg); err != nil {
		return nil, err
	}
	hooks.ready = e.setUp
	ops.mu.Lock()
	ops.endpoints = e
	ops.mu.Unlock()
	return stop, nil
}

// debugCounts prints, every interval, what happened since the last line:
// counts and classes, never a name or an address (--log-level debug).
func debugCounts(ctx context.Context, ops *opsRuntime, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last metrics.Totals
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := ops.m.Totals()
		ops.logf(logDebug, "hush: last %v: %d queries, %d cache hits, %d misses, %d SERVFAIL, %d blocked, %d local, %d upstream queries, %d timeouts",
			interval, now.Queries-last.Queries, now.CacheHits-last.CacheHits, now.CacheMisses-last.CacheMisses,
			now.Servfail-last.Servfail, now.Blocked-last.Blocked, now.LocalData-last.LocalData,
			now.UpstreamQueries-last.UpstreamQueries, now.UpstreamTimeouts-last.UpstreamTimeouts)
		last = now
	}
}
