//go:build !nohttp

package metrics

import (
	"fmt"
	"net/http"
)

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
	mux.Handle(path, m.reg.(httpRegistry).handler())
	mux.Handle(HealthPath, h)
	return getOnly(mux), nil
}

// httpRegistry is a registry that serves its exposition over HTTP: both
// do, in a build with net/http.
type httpRegistry interface{ handler() http.Handler }

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
