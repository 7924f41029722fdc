//go:build noquic

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

// QUIC reports whether this build has QUIC: DNS over QUIC and HTTP/3.
// This one, built with -tags noquic, has neither.
const QUIC = false

// errNoQUIC is what the QUIC servers of a noquic build return.
var errNoQUIC = errors.New("transport: QUIC (DNS over QUIC, HTTP/3) is not in this build (built with -tags noquic)")

type dohH3 struct{}

func (s *DoHServer) initH3(*tls.Config, int) {}

func (s *DoHServer) shutdownH3(context.Context) chan error {
	h3 := make(chan error, 1)
	h3 <- nil
	return h3
}

func (s *DoHServer) closeH3() {}

func (s *DoHServer) setH3Limits(int, int) {}

// ServeQUIC returns an error at once: this build has no HTTP/3.
func (s *DoHServer) ServeQUIC(net.PacketConn) error { return errNoQUIC }

// dohHandshakeOf is nil: without HTTP/3 every request came over TCP,
// whose handshake proved its address.
func dohHandshakeOf(*http.Request) <-chan struct{} { return nil }
