package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hush-dns/hush/control"
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
	// servers receives the servers once they are made, for a reload to
	// change their client ACL (nil: nobody does).
	servers func([]aclSetter)
	// dnsListeners receives the dns:// listeners, for a reload to add and
	// remove them (nil: nobody does).
	dnsListeners func(*dnsListeners)
}

// aclSetter is a transport server whose client ACL a reload can change.
type aclSetter interface {
	SetAllowClients([]netip.Prefix)
}

// connListeners name the hush_connections_open series: one per kind of
// connection-oriented listener (all the tls:// listeners share one
// server, and so on). UDP has no connections.
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
// asks for, and sets hooks.ready for the health check. The returned
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
	if p := cfg.Ops.ControlSocket; p != "" {
		ln, err := control.Listen(p)
		if err != nil {
			return nil, fmt.Errorf("control-socket: %w", err)
		}
		srv := control.NewServer(ops, nil)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		ops.logf(logInfo, "hush: control socket %s (hush ctl --control-socket %s status)", p, p)
		stops = append(stops, func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			_ = srv.Shutdown(sctx)
			if err := <-done; err != nil && !errors.Is(err, control.ErrServerClosed) {
				fmt.Fprintf(stderr, "hush: control socket: %v\n", err)
			}
		})
	}
	if u := cfg.Ops.MetricsListen; u != nil {
		var first netip.AddrPort
		for _, b := range socks.Bound {
			if b.Scheme == "dns" {
				first = b.Addr
				break
			}
		}
		health := metrics.NewHealth(ops.probe(first), healthMaxAge, nil)
		h, err := metrics.Handler(ops.m, u.Path, health)
		if err != nil {
			return nil, fmt.Errorf("metrics-listen: %w", err)
		}
		ms, err := startMetrics(ctx, *u, h, stderr)
		if err != nil {
			return nil, err
		}
		hctx, cancel := context.WithCancel(context.Background())
		probed := make(chan struct{})
		var started atomic.Bool
		hooks.ready = func(up bool) {
			health.SetListenersUp(up)
			if up && started.CompareAndSwap(false, true) {
				// The first probe at once, so that /healthz turns 200 as
				// soon as hush serves, then every healthInterval.
				go func() {
					defer close(probed)
					pctx, pcancel := context.WithTimeout(hctx, healthInterval)
					_ = health.Probe(pctx)
					pcancel()
					health.Run(hctx, healthInterval)
				}()
			}
		}
		stops = append(stops, func() {
			cancel()
			if started.Load() {
				<-probed
			}
			sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer scancel()
			_ = ms.stop(sctx)
		})
	}
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
