//go:build nohttp && !litemetrics

package metrics

// -tags nohttp leaves net/http out, which client_golang needs: build it
// with -tags litemetrics too.
var _ = nohttpNeedsLitemetrics
