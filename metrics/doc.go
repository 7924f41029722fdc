// Package metrics is hush's Prometheus exposition: one registry holding
// aggregate counters, gauges and histograms, a recording API for the parts
// of hush that observe events, and the HTTP handler of the metrics
// listener with its /healthz check.
//
// Nothing here is labelled by a query name, an answer, a server or a client
// address: every label takes its value from a small fixed set known when
// the Metrics is built (transport, rcode, a fixed list of query types plus
// "other", DNSSEC status, EDE code, listener name chosen by the operator).
// The recording methods take typed values, never strings from a query, so a
// caller cannot add a label value by accident, and every child metric is
// created up front so recording allocates nothing.
//
// The resolver core does not import this package (it imports no net/http);
// the core counts in plain atomic fields and cmd/hush reads them through the
// callbacks of Sources, or wraps the Handler and Exchanger it builds.
package metrics
