//go:build !litemetrics

package metrics

import (
	"strings"
	"testing"
)

func init() {
	registries["prom"] = func() registry { return newPromRegistry() }
}

// TestLiteMatchesClientGolang records the same events into both
// registries and compares every hush_* sample they expose: the router
// build's metrics are the default build's, name for name and value for
// value.
func TestLiteMatchesClientGolang(t *testing.T) {
	lite, prom := newTestWith(registries["lite"]), newTestWith(registries["prom"])
	record(lite)
	record(prom)
	ls, ps := parseExposition(t, exposition(t, lite)), parseExposition(t, exposition(t, prom))
	n := 0
	for k, pv := range ps {
		if !strings.HasPrefix(k, Namespace+"_") {
			continue
		}
		n++
		if lv, ok := ls[k]; !ok {
			t.Errorf("lite lacks %s", k)
		} else if lv != pv {
			t.Errorf("%s: lite %v, client_golang %v", k, lv, pv)
		}
	}
	for k := range ls {
		if _, ok := ps[k]; !ok && strings.HasPrefix(k, Namespace+"_") {
			t.Errorf("lite has %s, client_golang does not", k)
		}
	}
	if n < 50 {
		t.Errorf("compared %d hush samples; want the whole set", n)
	}
	// The headers too: same HELP and TYPE lines for hush's families.
	lh, ph := headers(exposition(t, lite)), headers(exposition(t, prom))
	if lh != ph {
		t.Errorf("HELP/TYPE lines differ:\nlite:\n%s\nclient_golang:\n%s", lh, ph)
	}
}

func headers(body string) string {
	var b strings.Builder
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "# HELP hush_") || strings.HasPrefix(l, "# TYPE hush_") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
