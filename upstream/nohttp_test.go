//go:build nohttp

package upstream

import (
	"errors"
	"testing"
)

// TestNoHTTPRefused: a build without HTTP refuses https:// when the URL
// is parsed, naming the reason, and keeps tls:// and dns://.
func TestNoHTTPRefused(t *testing.T) {
	if _, err := Parse("https://127.0.0.1/dns-query"); !errors.Is(err, errNoHTTP) {
		t.Errorf("Parse(https://...): got %v; want errNoHTTP", err)
	}
	for _, raw := range []string{"tls://127.0.0.1", "dns://127.0.0.1", "127.0.0.1:53"} {
		if _, err := Parse(raw); err != nil {
			t.Errorf("Parse(%q): %v", raw, err)
		}
	}
}
