package metrics

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// HealthPath is where Handler serves the health check.
const HealthPath = "/healthz"

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
