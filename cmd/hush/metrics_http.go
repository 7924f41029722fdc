//go:build !nohttp

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hush-dns/hush/metrics"
)

// The metrics listener (--metrics-listen), which needs net/http; a build
// with -tags nohttp has none (metrics_off.go).

var errNoMetricsListener error // never returned in this build

// metricsEndpoint is the metrics listener, its health check and the
// prober that feeds it.
type metricsEndpoint struct {
	url    metricsURL
	ms     *metricsServer
	h      *swapHandler
	health *metrics.Health

	ctx     context.Context // the prober's; cancelled by stop
	cancel  context.CancelFunc
	started atomic.Bool
	probed  chan struct{}
}

// swapHandler is an http.Handler a reload can replace (a new path on the
// same address).
type swapHandler struct{ p atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.p.Load()).ServeHTTP(w, r)
}

func (s *swapHandler) set(h http.Handler) { s.p.Store(&h) }

// metricsHandler is what serves the metrics listener's requests.
type metricsHandler = http.Handler

// handlerFor is the handler of path, with m's health check.
func (m *metricsEndpoint) handlerFor(ms *metrics.Metrics, path string) (metricsHandler, error) {
	return metrics.Handler(ms, path, m.health)
}

func (m *metricsEndpoint) setHandler(h metricsHandler) { m.h.set(h) }

func (e *opsEndpoints) startMetrics(ctx context.Context, u metricsURL) (*metricsEndpoint, error) {
	health := metrics.NewHealth(e.ops.probe(e.probeAddr), healthMaxAge, nil)
	h, err := metrics.Handler(e.ops.m, u.Path, health)
	if err != nil {
		return nil, fmt.Errorf("metrics-listen: %w", err)
	}
	m := &metricsEndpoint{url: u, h: &swapHandler{}, health: health, probed: make(chan struct{})}
	m.h.set(h)
	if m.ms, err = startMetrics(ctx, u, m.h, e.stderr); err != nil {
		return nil, err
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// setUp tells the health check whether the listeners serve; the first
// time they do, it probes at once, so that /healthz turns 200 as soon as
// hush serves, then every healthInterval.
func (m *metricsEndpoint) setUp(up bool) {
	m.health.SetListenersUp(up)
	if up && m.started.CompareAndSwap(false, true) {
		go func() {
			defer close(m.probed)
			pctx, cancel := context.WithTimeout(m.ctx, healthInterval)
			_ = m.health.Probe(pctx)
			cancel()
			m.health.Run(m.ctx, healthInterval)
		}()
	}
}

func (m *metricsEndpoint) stop() {
	m.cancel()
	if m.started.Load() {
		<-m.probed
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = m.ms.stop(sctx)
}

// metricsServer is the --metrics-listen listener.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// startMetrics listens on u and serves h there until stop.
func startMetrics(ctx context.Context, u metricsURL, h http.Handler, stderr io.Writer) (*metricsServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", u.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("metrics-listen %s: %w", u, err)
	}
	s := &metricsServer{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    8 << 10,
		},
		done: make(chan error, 1),
	}
	// Scrapers' connection errors would name their addresses; hush logs
	// no client address, so net/http's error log goes nowhere.
	s.srv.ErrorLog = discardLogger()
	go func() { s.done <- s.srv.Serve(ln) }()
	fmt.Fprintf(stderr, "hush: serving metrics on http://%s%s and %s\n", ln.Addr(), u.Path, metrics.HealthPath)
	return s, nil
}

// stop shuts the listener down, letting scrapes in progress finish until
// ctx is done.
func (s *metricsServer) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
