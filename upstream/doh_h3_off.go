//go:build noquic && !nohttp

package upstream

import (
	"crypto/tls"
	"net/http"
)

// h3Client is the HTTP/3 side of a doh upstream; a noquic build has
// none (newH3 is nil), and an https:// upstream speaks HTTP/2 and
// HTTP/1.1 only, whatever Alt-Svc offers.
type h3Client interface {
	roundTrip(req *http.Request) (*http.Response, bool, error)
	Close() error
	CloseIdleConnections()
}

func newH3(*doh, *tls.Config) h3Client { return nil }
