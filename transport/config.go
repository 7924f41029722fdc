package transport

import (
	"net/netip"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
)

// Defaults for the zero fields of Config.
const (
	DefaultQueryTimeout = 10 * time.Second
	DefaultIdleTimeout  = 10 * time.Second
	DefaultMaxConns     = 1000
	// DefaultMaxConnsPerClient leaves room for a household or an office
	// behind one address; public resolvers with clients behind carrier
	// NAT raise it.
	DefaultMaxConnsPerClient  = 32
	DefaultMaxInFlightPerConn = 100
	DefaultMaxUDPInFlight     = 4096

	DefaultTLSHandshakeTimeout = 5 * time.Second
)

// Config configures a UDPServer, TCPServer, TLSServer, DoHServer or
// DoQServer. Zero fields take the documented defaults. The connection
// fields (IdleTimeout, MaxConns, MaxConnsPerClient, MaxInFlightPerConn)
// govern every connection-oriented server: TCP and DoT connections, the
// HTTP/1.1, HTTP/2 and HTTP/3 connections of DoH, and DoQ's QUIC
// connections; each server's documentation says how it maps them onto its
// protocol. The servers copy Config; changing it afterwards has no effect.
type Config struct {
	// Handler answers the queries that pass the transport's checks.
	// Required: Serve fails without one.
	Handler Handler

	// Cookies, when it holds a Server, makes the UDP listeners speak
	// DNS cookies (RFC 7873 with RFC 9018's interoperable server
	// cookies): every answer to a query with a COOKIE option carries a
	// server cookie, a malformed option gets FORMERR, and a client whose
	// query carries a valid server cookie has proved its address and is
	// exempt from RateLimit. Nil (or an empty Keeper) leaves cookies
	// alone, as do the stream listeners, whose clients proved their
	// address with a handshake. The options never reach the Handler.
	Cookies *cookie.Keeper

	// RateLimit, when set, limits the UDP queries of each client network
	// (see ratelimit.Clients), those without a valid server cookie:
	// over the limit a query is dropped or, every Nth time (the slip),
	// answered with TC=1 and no records so that a real client retries
	// over TCP, or with BADCOOKIE and a fresh server cookie when the
	// client sent a cookie and Cookies is on. Neither answer is larger
	// than the query, so a spoofed-source flood gets no amplification.
	// Nil means no limit.
	RateLimit *ratelimit.Clients

	// AllowClients lists the client prefixes that may query; everyone
	// else gets REFUSED (with EDE 18, Prohibited, when the query had an
	// OPT record). Empty means loopback only: 127.0.0.0/8 and ::1/128.
	// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, seen on dual-stack
	// sockets) are matched as IPv4, and IPv6 zones are ignored.
	AllowClients []netip.Prefix

	// QueryTimeout is the deadline of the ctx given to ServeDNS
	// (default DefaultQueryTimeout). When it passes, the client gets
	// whatever the handler returns then, normally SERVFAIL.
	QueryTimeout time.Duration

	// IdleTimeout closes a stream connection (TCP, DoT, DoH, DoQ) that
	// has no query in flight and sends nothing for this long (RFC 7766
	// §6.2.3; default DefaultIdleTimeout). Over TCP and DoT it also
	// bounds the time a client may take to send the rest of a message
	// once it has started one, and the time one response may take to
	// write, and it is the timeout announced to clients that send
	// edns-tcp-keepalive (RFC 7828). DoQServer also uses it as the QUIC
	// idle timeout (at least QueryTimeout plus a second) and as the time
	// a stream has to deliver its query.
	IdleTimeout time.Duration

	// MaxConns caps the open connections of one TCPServer, TLSServer,
	// DoHServer (HTTP/1.1, HTTP/2 and HTTP/3 together) or DoQServer
	// (default DefaultMaxConns). When they are all open, a new one takes
	// the slot of the connection idle the longest, which is closed; from
	// half of them open on, IdleTimeout and the time a new connection has
	// to ask its first question shrink, down to floors; so that slow
	// clients cannot keep others out (see connSlots). Only when every
	// connection has a query in flight is a new one refused: a TCP
	// connection closed at once, without reading; a QUIC one once its
	// handshake completes, with DOQ_EXCESSIVE_LOAD or H3_EXCESSIVE_LOAD.
	MaxConns int

	// MaxConnsPerClient caps the connections one client (an IPv4 address
	// or an IPv6 /64) may hold open on one TCPServer, TLSServer,
	// DoHServer or DoQServer (default DefaultMaxConnsPerClient), so that
	// one client cannot take all MaxConns. A connection beyond it is
	// closed as one beyond MaxConns is.
	MaxConnsPerClient int

	// MaxInFlightPerConn caps the queries one connection may have in
	// flight (default DefaultMaxInFlightPerConn). Over TCP and DoT, when
	// it is reached the connection is not read until one of them is
	// answered, so the kernel's flow control slows the client down. DoH
	// grants each HTTP/2 and HTTP/3 connection, and DoQServer each QUIC
	// connection, this many concurrent streams.
	MaxInFlightPerConn int

	// TLSHandshakeTimeout bounds a client's TLS handshake, from the
	// accept to the handshake's end (default DefaultTLSHandshakeTimeout),
	// so that clients that connect and say nothing cannot hold MaxConns
	// slots for long. TLSServer, DoHServer and DoQServer use it.
	TLSHandshakeTimeout time.Duration

	// MaxUDPInFlight caps the ServeDNS goroutines one UDPServer runs at
	// once (default DefaultMaxUDPInFlight). A UDP query that arrives
	// while the cap is reached, and that AnswerCached did not answer, is
	// dropped without a reply: the client retries, perhaps elsewhere,
	// whereas a SERVFAIL would cost us a write and might be cached
	// downstream.
	MaxUDPInFlight int

	// ErrorLog, if set, receives errors the servers survive: failed
	// reads, accepts and writes, and handler bugs (a panic, with its
	// stack but not its value; a response that does not pack). The
	// errors carry no client address and no query name. It may be called
	// often and from many goroutines; it must not block.
	ErrorLog func(error)

	// Chaos answers CHAOS-class TXT questions for the names it holds
	// (lower case, fully qualified: "id.server.", "hostname.bind.",
	// "version.bind.", "version.server.") with its text, authoritatively
	// and with TTL 0, as operators of anycast services use them to see
	// which instance answered (RFC 4892). Every other CHAOS question, and
	// all of them when Chaos is empty, is REFUSED: they only help
	// fingerprinting.
	Chaos map[string]string

	// Events, if set, is told of connections opened and closed and of
	// what a limit turned away, to count them. It learns nothing about
	// who: no address and no query crosses it. It is called from many
	// goroutines, under the connection limiter's lock: it must be quick
	// and must not block.
	Events Events

	// NSID is the Name Server Identifier (RFC 5001) put in the OPT record
	// of responses to queries that carry the NSID option; empty sends
	// none.
	NSID []byte
}

// loopback is the ACL an empty AllowClients stands for.
// Events counts what happens at a server, never to whom.
type Events interface {
	// ConnOpened and ConnClosed bracket a client connection that got a
	// slot (TCP, DoT, DoH on HTTP/1.1, HTTP/2 or HTTP/3, DoQ).
	ConnOpened()
	ConnClosed()
	// Limited counts a connection closed at once because it was over
	// MaxConns or MaxConnsPerClient, or a UDP query dropped because
	// MaxUDPInFlight handlers were running.
	Limited()
}

func loopback() []netip.Prefix {
	return []netip.Prefix{
		netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 0, 0}), 8),
		netip.PrefixFrom(netip.IPv6Loopback(), 128),
	}
}

// withDefaults returns a copy of c with zero fields filled in. The ACL is
// copied so that the caller may reuse its slice.
func (c Config) withDefaults() Config {
	if len(c.AllowClients) == 0 {
		c.AllowClients = loopback()
	} else {
		acl := make([]netip.Prefix, 0, len(c.AllowClients))
		for _, p := range c.AllowClients {
			if !p.IsValid() {
				continue
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			acl = append(acl, p.Masked())
		}
		c.AllowClients = acl
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerClient <= 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.MaxInFlightPerConn <= 0 {
		c.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.MaxUDPInFlight <= 0 {
		c.MaxUDPInFlight = DefaultMaxUDPInFlight
	}
	return c
}
