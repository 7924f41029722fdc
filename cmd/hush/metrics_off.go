//go:build nohttp

package main

import (
	"context"
	"errors"

	"github.com/hush-dns/hush/metrics"
)

// A build with -tags nohttp (the MIPS router builds) has no metrics
// listener: metrics-listen is refused when the settings are read
// (parseMetricsURL), and hush ctl status shows the counters.

var errNoMetricsListener = errors.New("not in this build (built with -tags nohttp, as the MIPS router builds are): hush ctl status shows the counters")

type metricsEndpoint struct{ url metricsURL }

type metricsHandler struct{}

func (m *metricsEndpoint) handlerFor(*metrics.Metrics, string) (metricsHandler, error) {
	return metricsHandler{}, errNoMetricsListener
}
func (m *metricsEndpoint) setHandler(metricsHandler) {}
func (m *metricsEndpoint) setUp(bool)                {}
func (m *metricsEndpoint) stop()                     {}

func (e *opsEndpoints) startMetrics(context.Context, metricsURL) (*metricsEndpoint, error) {
	return nil, errNoMetricsListener
}
