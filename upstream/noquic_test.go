//go:build noquic && !nohttp

package upstream

import (
	"errors"
	"testing"
)

// TestNoQUICRefused: a build without QUIC refuses quic:// and http3=1
// when the URL is parsed, naming the reason, and keeps the rest.
func TestNoQUICRefused(t *testing.T) {
	for _, raw := range []string{"quic://127.0.0.1", "https://127.0.0.1/dns-query?http3=1"} {
		if _, err := Parse(raw); !errors.Is(err, errNoQUIC) {
			t.Errorf("Parse(%q): got %v; want errNoQUIC", raw, err)
		}
	}
	for _, raw := range []string{"tls://127.0.0.1", "https://127.0.0.1/dns-query", "https://127.0.0.1/dns-query?http3=0"} {
		if _, err := Parse(raw); err != nil {
			t.Errorf("Parse(%q): %v", raw, err)
		}
	}
}
