package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HealthPath is where Handler serves the health check.
const HealthPath = "/healthz"

// Handler serves the exposition of m at path (GET and HEAD; the usual
// /metrics) and h at HealthPath, and 404 for everything else. It is for
// the metrics listener only, never the DoH one: the two have different
// audiences and different access rules.
func Handler(m *Metrics, path string, h *Health) (http.Handler, error) {
	if len(path) == 0 || path[0] != '/' {
		return nil, fmt.Errorf("metrics: path %q does not start with /", path)
	}
	if path == HealthPath {
		return nil, fmt.Errorf("metrics: path %s is the health check's", HealthPath)
	}
	mux := http.NewServeMux()
	mux.Handle(path, m.reg.handler())
	mux.Handle(HealthPath, h)
	return getOnly(mux), nil
}

func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// A ProbeFunc asks the running resolver a question whose answer hush knows
// without the network (such as id.server CH TXT or localhost. A, sent to
// one of its own listeners) and reports whether an answer came.
type ProbeFunc func(ctx context.Context) error

// Health is the answer to "should this instance get traffic?": yes when
// its listeners are up and a probe was answered within MaxAge. The probe's
// error is never shown to HTTP clients, only whether it failed.
type Health struct {
	probe  ProbeFunc
	maxAge time.Duration
	now    func() time.Time

	up atomic.Bool
	// mu guards lastOK and lastFailed.
	mu         sync.Mutex
	lastOK     time.Time
	lastFailed bool
}

// Errors Check returns.
var (
	ErrListenersDown = errors.New("listeners are not up")
	ErrNoProbe       = errors.New("no probe answered recently")
)

// NewHealth returns a Health that runs probe and calls an instance healthy
// when a probe succeeded within maxAge. now is the clock (nil means
// time.Now).
func NewHealth(probe ProbeFunc, maxAge time.Duration, now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{probe: probe, maxAge: maxAge, now: now}
}

// SetListenersUp records whether every configured listener is serving.
func (h *Health) SetListenersUp(up bool) { h.up.Store(up) }

// Probe runs the probe once and records its success.
func (h *Health) Probe(ctx context.Context) error {
	err := h.probe(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastFailed = err != nil
	if err == nil {
		h.lastOK = h.now()
	}
	return err
}

// Run probes every interval until ctx is done. It does not probe at once:
// call Probe first when the first answer matters.
func (h *Health) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, interval)
			_ = h.Probe(pctx) // recorded; Check reports it
			cancel()
		}
	}
}

// Check returns nil when the instance is healthy, else ErrListenersDown or
// ErrNoProbe.
func (h *Health) Check() error {
	if !h.up.Load() {
		return ErrListenersDown
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastOK.IsZero() || h.lastFailed || h.now().Sub(h.lastOK) > h.maxAge {
		return ErrNoProbe
	}
	return nil
}

// ServeHTTP answers 200 "ok" when Check passes and 503 with Check's
// reason otherwise; never cached.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.Check(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "unhealthy: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}
