//go:build noquic && !nohttp

package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
)

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
