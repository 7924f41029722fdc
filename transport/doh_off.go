//go:build nohttp

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"
)

// HTTP reports whether this build has HTTP: DNS over HTTPS. Builds with
// -tags nohttp (the MIPS router builds) leave net/http out.
const HTTP = false

// DefaultDoHPath is the path RFC 8484 §3 uses in its examples.
const DefaultDoHPath = "/dns-query"

// errNoHTTP is what the DoH server of a nohttp build returns.
var errNoHTTP = errors.New("transport: DNS over HTTPS is not in this build (built with -tags nohttp)")

// DoHOptions configure a DoHServer, which this build cannot run.
type DoHOptions struct {
	Path              string
	MaxConnsPerClient int
	AltSvcMaxAge      time.Duration
}

// DoHServer in a nohttp build: Serve fails at once, so an https://
// listener that gets past the configuration's own check says why.
type DoHServer struct{}

// NewDoHServer returns a server that cannot serve.
func NewDoHServer(Config, *tls.Config, DoHOptions) *DoHServer { return &DoHServer{} }

// Serve and ServeQUIC return an error: this build has no HTTP.
func (s *DoHServer) Serve(net.Listener) error              { return errNoHTTP }
func (s *DoHServer) ServeQUIC(net.PacketConn) error        { return errNoHTTP }
func (s *DoHServer) Shutdown(context.Context) error        { return nil }
func (s *DoHServer) SetAllowClients([]netip.Prefix)        {}
func (s *DoHServer) SetConnLimits(int, int)                {}
func (s *DoHServer) SetIdentity(map[string]string, []byte) {}
