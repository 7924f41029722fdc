package main

import (
	"io"
	"testing"
	"time"
)

// TestResolverConfigDefences: the prefetch and serve-stale settings reach
// the resolver, not only the cache (--prefetch=false and
// --serve-stale-client-timeout were once read and then ignored).
func TestResolverConfigDefences(t *testing.T) {
	tests := []struct {
		name         string
		set          func(*serveConfig)
		noPrefetch   bool
		noServeStale bool
		staleTimeout time.Duration
	}{
		{"defaults", func(*serveConfig) {}, false, false, 1800 * time.Millisecond},
		{"prefetch off", func(c *serveConfig) { c.Prefetch = false }, true, false, 1800 * time.Millisecond},
		{"serve-stale off", func(c *serveConfig) { c.ServeStale = false }, false, true, 1800 * time.Millisecond},
		{"client timeout", func(c *serveConfig) { c.StaleClientTimeout = 3 * time.Second }, false, false, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultServeConfig()
			tt.set(&cfg)
			rc := resolverConfig(cfg, nil, newCache(cfg), nil, nil, trustState{}, io.Discard)
			if rc.NoPrefetch != tt.noPrefetch {
				t.Errorf("NoPrefetch: got %v, want %v", rc.NoPrefetch, tt.noPrefetch)
			}
			if rc.NoServeStale != tt.noServeStale {
				t.Errorf("NoServeStale: got %v, want %v", rc.NoServeStale, tt.noServeStale)
			}
			if rc.StaleClientTimeout != tt.staleTimeout {
				t.Errorf("StaleClientTimeout: got %v, want %v", rc.StaleClientTimeout, tt.staleTimeout)
			}
		})
	}
}
