//go:build !nohttp

package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// registries are the registries the tests run against: the lite one
// always, client_golang's in the default build (prom_test.go).
var registries = map[string]func() registry{
	"lite": func() registry { return newLiteRegistry() },
}

// forEachRegistry runs f once per registry, as a subtest.
func forEachRegistry(t *testing.T, f func(t *testing.T, newReg func() registry)) {
	for name, nr := range registries {
		t.Run(name, func(t *testing.T) { f(t, nr) })
	}
}

func newTest() *Metrics { return newTestWith(newRegistry) }

func newTestWith(newReg func() registry) *Metrics {
	return newWith(newReg(), Options{
		Version:   "test",
		Listeners: []string{"dns-main", "tls-main"},
		Sources: Sources{
			CacheEntries: func() float64 { return 42 },
			CacheBytes:   func() float64 { return 4096 },
		},
	})
}

// record exercises every recording method, with values both inside and
// outside the fixed label sets.
func record(m *Metrics) {
	m.Query(UDP, dns.TypeA)
	m.Query(TLS, dns.TypeAAAA)
	m.Query(Transport(200), 65000)
	m.Answer(dns.RcodeSuccess, Secure, -1, 3*time.Millisecond)
	m.Answer(dns.RcodeServerFailure, Bogus, int(dns.ExtendedErrorCodeDNSBogus), time.Second)
	m.Answer(4000, DNSSECStatus(77), 9999, 0)
	m.CacheHit()
	m.CacheMiss()
	m.Stale()
	m.RateLimited()
	m.Policy(Blocked)
	m.Policy(PolicyAction(99))
	m.UpstreamQuery(20 * time.Millisecond)
	m.UpstreamTimeout()
	m.UpstreamError()
	m.Reload(true)
	m.Reload(false)
	m.Listener("dns-main").Opened()
	m.Listener("tls-main").Opened()
	m.Listener("tls-main").Closed()
	m.Listener("never-registered").Opened()
}

// TestCounts reads the counts back from the exposition each registry
// serves, so both are checked the same way, through what a scraper sees.
func TestCounts(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, newReg func() registry) {
		m := newTestWith(newReg)
		record(m)
		samples := parseExposition(t, exposition(t, m))
		for _, tc := range []struct {
			sample string
			want   float64
		}{
			{`hush_queries_total{transport="udp"}`, 1},
			{`hush_queries_total{transport="tls"}`, 1},
			{`hush_queries_total{transport="quic"}`, 0},
			{`hush_queries_by_qtype_total{qtype="A"}`, 1},
			{`hush_queries_by_qtype_total{qtype="other"}`, 1},
			{`hush_answers_total{rcode="noerror"}`, 1},
			{`hush_answers_total{rcode="other"}`, 1},
			{`hush_answers_dnssec_total{status="secure"}`, 1},
			{`hush_answers_ede_total{code="6"}`, 1},
			{`hush_answers_ede_total{code="other"}`, 1},
			{`hush_policy_answers_total{action="blocked"}`, 1},
			{`hush_upstream_queries_total`, 3},
			{`hush_upstream_timeouts_total`, 1},
			{`hush_cache_hits_total`, 1},
			{`hush_reloads_total{result="failed"}`, 1},
			{`hush_reloads_total{result="ok"}`, 1},
			{`hush_connections_open{listener="dns-main"}`, 1},
			{`hush_connections_open{listener="tls-main"}`, 0},
			{`hush_cache_entries`, 42},
			{`hush_cache_size_bytes`, 4096},
			{`hush_request_duration_seconds_count`, 3},
			{`hush_request_duration_seconds_bucket{le="0.005"}`, 2},
			{`hush_request_duration_seconds_bucket{le="+Inf"}`, 3},
			{`hush_request_duration_seconds_sum`, 1.003},
			{`hush_upstream_rtt_seconds_bucket{le="0.01"}`, 0},
			{`hush_upstream_rtt_seconds_bucket{le="0.025"}`, 1},
			{`hush_build_info{goversion="` + runtime.Version() + `",version="test"}`, 1},
		} {
			got, ok := samples[tc.sample]
			if !ok {
				t.Errorf("%s: not in the exposition", tc.sample)
			} else if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("%s: got %v; want %v", tc.sample, got, tc.want)
			}
		}
	})
}

// exposition scrapes m's handler.
func exposition(t *testing.T, m *Metrics) string {
	t.Helper()
	h, err := Handler(m, "/metrics", NewHealth(func(context.Context) error { return nil }, time.Minute, nil))
	if err != nil {
		t.Fatal(err)
	}
	code, body := scrape(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d; want 200", code)
	}
	return body
}

// parseExposition maps each sample of a text exposition, as written
// (name and labels), to its value.
func parseExposition(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := make(map[string]float64)
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("sample without a value: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *Metrics
	record(m) // must not panic
}

func TestRecordingAllocatesNothing(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, newReg func() registry) {
		m := newTestWith(newReg)
		l := m.Listener("dns-main")
		allocs := testing.AllocsPerRun(1000, func() {
			m.Query(UDP, dns.TypeAAAA)
			m.Answer(dns.RcodeNameError, Insecure, 15, time.Millisecond)
			m.CacheHit()
			m.UpstreamQuery(time.Millisecond)
			m.Policy(Blocked)
			l.Opened()
			l.Closed()
		})
		if allocs != 0 {
			t.Errorf("recording: got %v allocations per run; want 0", allocs)
		}
	})
}

// TestLabelValuesAreFixed gathers every metric after recording values
// outside the fixed sets and checks that each hush label value belongs to
// the set the package documents: nothing a client sends can become one.
func TestLabelValuesAreFixed(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, newReg func() registry) {
		m := newTestWith(newReg)
		record(m)
		allowed := map[string]map[string]bool{
			"transport": set(transportNames[:]...),
			"qtype":     set("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "HTTPS", "SVCB", "DS", "DNSKEY", "CAA", "NAPTR", "ANY", "other"),
			"rcode":     set("noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "yxdomain", "yxrrset", "nxrrset", "notauth", "notzone", "other"),
			"status":    set(statusNames[:]...),
			"action":    set(actionNames[:]...),
			"listener":  set("dns-main", "tls-main"),
			"result":    set("ok", "failed"),
			"version":   set("test"),
			"code":      set("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "other"),
		}
		for sample := range parseExposition(t, exposition(t, m)) {
			if !strings.HasPrefix(sample, Namespace+"_") {
				continue // the Go and process metrics' own
			}
			open := strings.IndexByte(sample, '{')
			if open < 0 {
				continue
			}
			name, labels := sample[:open], strings.TrimSuffix(sample[open+1:], "}")
			for _, lp := range strings.Split(labels, ",") {
				k, v, _ := strings.Cut(lp, "=")
				v = strings.Trim(v, `"`)
				if k == "goversion" || k == "le" {
					continue
				}
				vals, ok := allowed[k]
				if !ok {
					t.Errorf("%s: label %q is not in the documented set", name, k)
					continue
				}
				if !vals[v] {
					t.Errorf("%s{%s=%q}: value not in the fixed set", name, k, v)
				}
			}
		}
	})
}

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// TestPromtool runs promtool check metrics (Debian package prometheus)
// on the exposition: names, suffixes, units and help texts as Prometheus
// expects them.
func TestPromtool(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, newReg func() registry) {
		promtool := RequireTool(t, "promtool")
		m := newTestWith(newReg)
		record(m)
		h, err := Handler(m, "/metrics", NewHealth(func(context.Context) error { return nil }, time.Minute, nil))
		if err != nil {
			t.Fatal(err)
		}
		code, body := scrape(t, h, "/metrics")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics: got %d; want 200", code)
		}
		for _, want := range []string{`hush_queries_total{transport="udp"} 1`, "hush_cache_entries 42", "go_goroutines", "process_resident_memory_bytes"} {
			if !strings.Contains(body, want) {
				t.Errorf("exposition lacks %q", want)
			}
		}
		CheckExposition(t, promtool, body)
	})
}

// RequireTool returns the path of a command the test needs. It skips the
// test when the command is missing, unless HUSH_INTEGRATION=require (as in
// CI), where a missing tool is a failure.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("%s not found and HUSH_INTEGRATION=require: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

// CheckExposition fails t when promtool check metrics finds a problem in
// the text exposition body.
func CheckExposition(t testing.TB, promtool, body string) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}

func TestHandler(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	probeErr := error(nil)
	h := NewHealth(func(context.Context) error { return probeErr }, 30*time.Second, func() time.Time { return now })
	handler, err := Handler(newTest(), "/stats", h)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		name     string
		do       func()
		path     string
		wantCode int
		wantBody string
	}{
		{"metrics path", func() {}, "/stats", 200, "hush_build_info"},
		{"other path", func() {}, "/metrics", 404, ""},
		{"listeners down", func() {}, HealthPath, 503, "listeners are not up"},
		{"no probe yet", func() { h.SetListenersUp(true) }, HealthPath, 503, "no probe answered"},
		{"probe answered", func() { _ = h.Probe(ctx) }, HealthPath, 200, "ok"},
		{"still recent", func() { now = now.Add(30 * time.Second) }, HealthPath, 200, "ok"},
		{"too old", func() { now = now.Add(time.Second) }, HealthPath, 503, "no probe answered"},
		{"answered again", func() { _ = h.Probe(ctx) }, HealthPath, 200, "ok"},
		{"probe failed", func() { probeErr = errors.New("timeout"); _ = h.Probe(ctx) }, HealthPath, 503, "no probe answered"},
		{"listener lost", func() { probeErr = nil; _ = h.Probe(ctx); h.SetListenersUp(false) }, HealthPath, 503, "listeners are not up"},
	}
	for _, s := range steps {
		s.do()
		code, body := scrape(t, handler, s.path)
		if code != s.wantCode || !strings.Contains(body, s.wantBody) {
			t.Errorf("%s: GET %s: got %d %q; want %d containing %q", s.name, s.path, code, body, s.wantCode, s.wantBody)
		}
	}

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/stats", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d; want 405", rec.Code)
	}
}

func TestHandlerPath(t *testing.T) {
	for _, p := range []string{"", "metrics", HealthPath} {
		if _, err := Handler(newTest(), p, nil); err == nil {
			t.Errorf("Handler(%q): got no error", p)
		}
	}
}

func TestTotals(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, newReg func() registry) {
		m := newTestWith(newReg)
		record(m)
		got := m.Totals()
		want := Totals{Queries: 2, CacheHits: 1, CacheMisses: 1, Servfail: 1, Blocked: 1, UpstreamQueries: 3, UpstreamTimeouts: 1, Stale: 1}
		if got != want {
			t.Errorf("Totals: got %+v; want %+v", got, want)
		}
		var nilM *Metrics
		if got := nilM.Totals(); got != (Totals{}) {
			t.Errorf("nil Totals: got %+v", got)
		}
	})
}
