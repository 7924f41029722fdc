package transport

import (
	"net/netip"

	"github.com/hush-dns/hush/ratelimit"
)

// What a reload changes in running servers. Each setter affects what the
// server reads or accepts from then on: queries in flight, and
// connections already open, keep what they started with.

// SetAllowClients replaces Config.AllowClients (a reload): queries read
// after it are judged by the new list. A connection already open keeps
// the verdict it got when it was accepted, as it keeps its TLS session.
func (s *UDPServer) SetAllowClients(prefixes []netip.Prefix) { s.pipe.setACL(prefixes) }

// SetAllowClients replaces Config.AllowClients for connections accepted
// from now on; see UDPServer.SetAllowClients.
func (s *TCPServer) SetAllowClients(prefixes []netip.Prefix) { s.pipe.setACL(prefixes) }

// SetAllowClients replaces Config.AllowClients for connections accepted
// from now on; see UDPServer.SetAllowClients.
func (s *TLSServer) SetAllowClients(prefixes []netip.Prefix) { s.tcp.SetAllowClients(prefixes) }

// SetConnLimits replaces Config.MaxConns and Config.MaxConnsPerClient (0
// or less: the defaults) for the connections that come from now on. The
// connections already open stay, even over a lowered cap; a new one at
// the cap is then treated as at the cap (see Config.MaxConns).
func (s *TCPServer) SetConnLimits(maxConns, perClient int) {
	c := Config{MaxConns: maxConns, MaxConnsPerClient: perClient}.withDefaults()
	s.limit.setLimits(c.MaxConns, c.MaxConnsPerClient)
}

// SetConnLimits replaces Config.MaxConns and Config.MaxConnsPerClient;
// see TCPServer.SetConnLimits.
func (s *TLSServer) SetConnLimits(maxConns, perClient int) { s.tcp.SetConnLimits(maxConns, perClient) }

// SetRateLimit replaces Config.RateLimit (nil: off) for the queries read
// from now on.
func (s *UDPServer) SetRateLimit(c *ratelimit.Clients) { s.pipe.limit.Store(c) }

// SetIdentity replaces Config.Chaos and Config.NSID for the queries read
// from now on.
func (s *UDPServer) SetIdentity(chaos map[string]string, nsid []byte) {
	s.pipe.ident.Store(newIdentity(chaos, nsid))
}

// SetIdentity replaces Config.Chaos and Config.NSID; see
// UDPServer.SetIdentity.
func (s *TCPServer) SetIdentity(chaos map[string]string, nsid []byte) {
	s.pipe.ident.Store(newIdentity(chaos, nsid))
}

// SetIdentity replaces Config.Chaos and Config.NSID; see
// UDPServer.SetIdentity.
func (s *TLSServer) SetIdentity(chaos map[string]string, nsid []byte) {
	s.tcp.SetIdentity(chaos, nsid)
}
