//go:build nohttp

package metrics

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestLiteWithoutHTTP: a build without net/http still counts (hush ctl
// status reads the totals) and the lite registry still writes its
// exposition.
func TestLiteWithoutHTTP(t *testing.T) {
	m := New(Options{Version: "test", Listeners: []string{"tcp"}})
	m.Query(UDP, dns.TypeA)
	m.CacheHit()
	if got := m.Totals(); got.Queries != 1 || got.CacheHits != 1 {
		t.Errorf("Totals: %+v", got)
	}
	var b bytes.Buffer
	m.reg.(*liteRegistry).expose(&b)
	if !strings.Contains(b.String(), `hush_queries_total{transport="udp"} 1`) {
		t.Errorf("exposition lacks the query:\n%s", b.String())
	}
}
