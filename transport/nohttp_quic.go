//go:build nohttp && !noquic

package transport

// -tags nohttp leaves out DNS over HTTPS and with it HTTP/3: build it
// with -tags noquic too.
var _ = nohttpNeedsNoquic
