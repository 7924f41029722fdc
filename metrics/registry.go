package metrics

// counter, gauge and histogram are what Metrics records into; registry
// makes them and exposes them. Two registries implement them:
// client_golang's (prom.go, the default) and a small one of hush's own
// (lite.go, chosen with -tags litemetrics for the router builds, where
// client_golang and the protobuf code it pulls in are 2.6 MB of a 12 MB
// budget). Both expose the same hush_* families; the lite one has fewer
// go_* and process_* ones.
type counter interface {
	Inc()
	Value() uint64
}

type gauge interface {
	Inc()
	Dec()
}

type histogram interface {
	Observe(float64)
}

type registry interface {
	// counterVec registers a counter family with one child per value of
	// label, in the order of values; label "" is one unlabelled counter.
	counterVec(name, help, label string, values []string) []counter
	gaugeVec(name, help, label string, values []string) []gauge
	// gaugeFunc registers a gauge read from f at each scrape.
	gaugeFunc(name, help string, f func() float64)
	histogram(name, help string, buckets []float64) histogram
	// buildInfo registers the constant 1 labelled with the versions.
	buildInfo(name, help, version, goversion string)
}

func value(c counter) uint64 { return c.Value() }
