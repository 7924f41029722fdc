//go:build noquic

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
)

// QUIC reports whether this build has QUIC: DNS over QUIC and HTTP/3.
// This one, built with -tags noquic, has neither.
const QUIC = false

// errNoQUIC is what the QUIC servers of a noquic build return.
var errNoQUIC = errors.New("transport: QUIC (DNS over QUIC, HTTP/3) is not in this build (built with -tags noquic)")

// DoQServer in a noquic build: Serve fails at once, so a quic:// listener
// that gets past the configuration's own check says why.
type DoQServer struct{}

// NewDoQServer returns a server that cannot serve.
func NewDoQServer(Config, *tls.Config) *DoQServer { return &DoQServer{} }

// Serve returns an error: this build has no QUIC.
func (s *DoQServer) Serve(net.PacketConn) error { return errNoQUIC }

// Shutdown has nothing to stop.
func (s *DoQServer) Shutdown(context.Context) error { return nil }

// SetAllowClients, SetConnLimits and SetIdentity have nothing to apply
// their settings to.
func (s *DoQServer) SetAllowClients([]netip.Prefix)        {}
func (s *DoQServer) SetConnLimits(int, int)                {}
func (s *DoQServer) SetIdentity(map[string]string, []byte) {}
