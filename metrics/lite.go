package metrics

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// liteRegistry is the registry of -tags litemetrics: atomic counters and
// a text exposition (format 0.0.4) written by hand. It is compiled into
// every build so that its tests run beside client_golang's, but only the
// litemetrics build uses it for serving.
type liteRegistry struct {
	families []liteFamily
	start    time.Time
	// inFlight caps concurrent scrapes as promhttp's MaxRequestsInFlight
	// does.
	inFlight chan struct{}
}

// liteFamily is one metric family: its header and a writer of its
// samples.
type liteFamily struct {
	name, help, typ string
	write           func(b *bytes.Buffer, name string)
}

func newLiteRegistry() *liteRegistry {
	r := &liteRegistry{start: time.Now(), inFlight: make(chan struct{}, 4)}
	r.runtimeFamilies()
	return r
}

type liteCounter struct{ v atomic.Uint64 }

func (c *liteCounter) Inc()          { c.v.Add(1) }
func (c *liteCounter) Value() uint64 { return c.v.Load() }

type liteGauge struct{ v atomic.Int64 }

func (g *liteGauge) Inc() { g.v.Add(1) }
func (g *liteGauge) Dec() { g.v.Add(-1) }

type liteHistogram struct {
	upper  []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // float64 bits
}

func (h *liteHistogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v) // first upper bound >= v
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (r *liteRegistry) add(name, help, typ string, write func(b *bytes.Buffer, name string)) {
	r.families = append(r.families, liteFamily{name: name, help: help, typ: typ, write: write})
}

func (r *liteRegistry) counterVec(name, help, label string, values []string) []counter {
	cs := make([]*liteCounter, len(values))
	out := make([]counter, len(values))
	for i := range cs {
		cs[i] = new(liteCounter)
		if label == "" {
			cs[i] = cs[0]
		}
		out[i] = cs[i]
	}
	r.add(name, help, "counter", func(b *bytes.Buffer, name string) {
		if label == "" {
			sample(b, name, "", "", float64(cs[0].Value()))
			return
		}
		for i, v := range values {
			sample(b, name, label, v, float64(cs[i].Value()))
		}
	})
	return out
}

func (r *liteRegistry) gaugeVec(name, help, label string, values []string) []gauge {
	gs := make([]*liteGauge, len(values))
	out := make([]gauge, len(values))
	for i := range gs {
		gs[i] = new(liteGauge)
		out[i] = gs[i]
	}
	r.add(name, help, "gauge", func(b *bytes.Buffer, name string) {
		for i, v := range values {
			sample(b, name, label, v, float64(gs[i].v.Load()))
		}
	})
	return out
}

func (r *liteRegistry) gaugeFunc(name, help string, f func() float64) {
	r.add(name, help, "gauge", func(b *bytes.Buffer, name string) { sample(b, name, "", "", f()) })
}

func (r *liteRegistry) histogram(name, help string, buckets []float64) histogram {
	h := &liteHistogram{upper: append([]float64(nil), buckets...), counts: make([]atomic.Uint64, len(buckets)+1)}
	sort.Float64s(h.upper)
	r.add(name, help, "histogram", func(b *bytes.Buffer, name string) {
		// Read the buckets once: the cumulative counts, _count and the
		// +Inf bucket then agree with each other even under load.
		var cum uint64
		for i, le := range h.upper {
			cum += h.counts[i].Load()
			sample(b, name+"_bucket", "le", formatFloat(le), float64(cum))
		}
		cum += h.counts[len(h.upper)].Load()
		sample(b, name+"_bucket", "le", "+Inf", float64(cum))
		sample(b, name+"_sum", "", "", math.Float64frombits(h.sum.Load()))
		sample(b, name+"_count", "", "", float64(cum))
	})
	return h
}

func (r *liteRegistry) buildInfo(name, help, version, goversion string) {
	r.add(name, help, "gauge", func(b *bytes.Buffer, name string) {
		b.WriteString(name)
		b.WriteString(`{goversion="`)
		b.WriteString(escapeLabel(goversion))
		b.WriteString(`",version="`)
		b.WriteString(escapeLabel(version))
		b.WriteString("\"} 1\n")
	})
}

// runtimeFamilies are the lite stand-ins for client_golang's Go and
// process collectors, under the same names: the ones dashboards use.
func (r *liteRegistry) runtimeFamilies() {
	r.gaugeFunc("go_goroutines", "Number of goroutines that currently exist.", func() float64 { return float64(runtime.NumGoroutine()) })
	r.add("go_info", "Information about the Go environment.", "gauge", func(b *bytes.Buffer, name string) {
		sample(b, name, "version", runtime.Version(), 1)
	})
	memstat := func(f func(*runtime.MemStats) uint64) func() float64 {
		return func() float64 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return float64(f(&ms))
		}
	}
	r.gaugeFunc("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.", memstat(func(ms *runtime.MemStats) uint64 { return ms.HeapAlloc }))
	r.gaugeFunc("go_memstats_sys_bytes", "Number of bytes obtained from system.", memstat(func(ms *runtime.MemStats) uint64 { return ms.Sys }))
	r.processFamilies()
	r.add("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", func(b *bytes.Buffer, name string) {
		if rss, ok := residentBytes(); ok {
			sample(b, name, "", "", float64(rss))
		}
	})
	r.add("process_open_fds", "Number of open file descriptors.", "gauge", func(b *bytes.Buffer, name string) {
		if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
			sample(b, name, "", "", float64(len(fds)))
		}
	})
	r.gaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", func() float64 {
		return float64(r.start.UnixNano()) / 1e9
	})
}

// residentBytes reads the resident set size from /proc/self/statm
// (Linux; false elsewhere).
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

// expose writes the exposition, families sorted by name as client_golang
// sorts them.
func (r *liteRegistry) expose(b *bytes.Buffer) {
	fams := append([]liteFamily(nil), r.families...)
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	for _, f := range fams {
		b.WriteString("# HELP ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(escapeHelp(f.help))
		b.WriteString("\n# TYPE ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(f.typ)
		b.WriteByte('\n')
		f.write(b, f.name)
	}
}

func sample(b *bytes.Buffer, name, label, value string, v float64) {
	b.WriteString(name)
	if label != "" {
		b.WriteByte('{')
		b.WriteString(label)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(value))
		b.WriteString(`"}`)
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
}

// formatFloat writes v as client_golang does: shortest form, +Inf/-Inf/NaN
// spelled the Prometheus way.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
