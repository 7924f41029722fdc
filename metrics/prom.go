//go:build !litemetrics

package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// promRegistry is the default registry: client_golang's, with its Go
// runtime and process collectors.
type promRegistry struct{ reg *prometheus.Registry }

func newRegistry() registry { return newPromRegistry() }

func newPromRegistry() *promRegistry {
	r := &promRegistry{reg: prometheus.NewRegistry()}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

type promCounter struct{ prometheus.Counter }

func (c promCounter) Value() uint64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	return uint64(d.GetCounter().GetValue())
}

func (r *promRegistry) counterVec(name, help, label string, values []string) []counter {
	out := make([]counter, len(values))
	if label == "" {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		r.reg.MustRegister(c)
		for i := range out {
			out[i] = promCounter{c}
		}
		return out
	}
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	r.reg.MustRegister(v)
	for i, lv := range values {
		out[i] = promCounter{v.WithLabelValues(lv)}
	}
	return out
}

func (r *promRegistry) gaugeVec(name, help, label string, values []string) []gauge {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{label})
	r.reg.MustRegister(v)
	out := make([]gauge, len(values))
	for i, lv := range values {
		out[i] = v.WithLabelValues(lv)
	}
	return out
}

func (r *promRegistry) gaugeFunc(name, help string, f func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

func (r *promRegistry) histogram(name, help string, buckets []float64) histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	r.reg.MustRegister(h)
	return h
}

func (r *promRegistry) buildInfo(name, help, version, goversion string) {
	b := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"version", "goversion"})
	b.WithLabelValues(version, goversion).Set(1)
	r.reg.MustRegister(b)
}

func (r *promRegistry) handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		// Scrapes are cheap, but a listener open to a network should not
		// let anyone stack them up.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
		ErrorHandling:       promhttp.ContinueOnError,
	})
}
