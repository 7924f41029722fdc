package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
)

// ALPNDoT is the ALPN protocol ID IANA registered for DNS over TLS
// (RFC 7858). Clients that offer ALPN without it are refused in the
// handshake, as Go's TLS server does for any protocol mismatch.
const ALPNDoT = "dot"

// TLSServer answers DNS queries over TLS (DoT, RFC 7858). Once the
// handshake is done it is exactly a TCPServer: the same 2-octet framing,
// pipelining, idle timeout and connection and in-flight caps (RFC 7766),
// and the same Config. The handshake must end within
// Config.TLSHandshakeTimeout of the accept; it runs on the connection's
// own goroutine, so a slow client delays nobody else, and it counts
// against Config.MaxConns like any connection.
//
// Unlike TCPServer, it pads responses (RFC 7830) to a multiple of 468
// octets (RFC 8467 §4.1) when the query carries the Padding option.
//
// TLSServer does not reload certificates by itself: give the tls.Config a
// GetCertificate that does.
type TLSServer struct {
	tcp *TCPServer
}

// errNoCertificate is returned by Serve when the tls.Config has no way to
// find a certificate: every handshake would fail.
var errNoCertificate = errors.New("transport: tls.Config has no certificate")

// NewTLSServer returns a DoT server for cfg. It uses a clone of
// tlsConfig with TLS 1.2 as the lowest version (RFC 8310 §9 and RFC 9325
// forbid older ones; Go prefers 1.3 when the client offers it), ALPN "dot"
// unless tlsConfig names protocols itself, and session tickets as
// tlsConfig says (on unless disabled there). It does not listen: call
// Serve.
func NewTLSServer(cfg Config, tlsConfig *tls.Config) *TLSServer {
	tc := serverTLS(tlsConfig, tls.VersionTLS12, ALPNDoT)
	s := NewTCPServer(cfg)
	s.tlsConfig = tc
	// A new connection's first question comes after its handshake.
	c := &s.cfg
	s.limit = newConnSlots(c.MaxConns, c.MaxConnsPerClient, c.IdleTimeout, c.TLSHandshakeTimeout+c.IdleTimeout).withEvents(c.Events)
	return &TLSServer{tcp: s}
}

// Serve accepts TCP connections on l and serves DNS over TLS on them
// until Shutdown, then returns ErrServerClosed. l must be a plain TCP
// listener, not a tls.NewListener: the handshake is TLSServer's to time.
// It may be called for several listeners at once. Shutdown closes l.
func (s *TLSServer) Serve(l net.Listener) error {
	tc := s.tcp.tlsConfig
	if len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
		return errNoCertificate
	}
	return s.tcp.Serve(l)
}

// Shutdown stops the server as TCPServer.Shutdown does: handshakes and
// reads stop, queries in flight are answered until ctx ends.
func (s *TLSServer) Shutdown(ctx context.Context) error { return s.tcp.Shutdown(ctx) }

// serverTLS is the tls.Config one encrypted listener uses: a clone of
// tlsConfig (which the caller keeps, certificates and GetCertificate
// shared), or an empty one, with at least minVersion, and the ALPN
// protocols tlsConfig names, or alpn when it names none.
func serverTLS(tlsConfig *tls.Config, minVersion uint16, alpn ...string) *tls.Config {
	tc := &tls.Config{}
	if tlsConfig != nil {
		tc = tlsConfig.Clone()
	}
	tc.MinVersion = max(tc.MinVersion, minVersion)
	if len(tc.NextProtos) == 0 {
		tc.NextProtos = alpn
	} else {
		tc.NextProtos = slices.Clone(tc.NextProtos)
	}
	return tc
}
