//go:build nodemo

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemoLeftOut: a build without the demo says so and exits 1 instead
// of listening.
func TestDemoLeftOut(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "not in this build") {
		t.Errorf("hush demo: exit %d, stderr %q; want 1 and \"not in this build\"", code, errb.String())
	}
}
