// Package transport is hush's inbound side: listeners that read DNS queries
// from clients (UDP, TCP, DNS over TLS, DNS over HTTPS on HTTP/1.1, HTTP/2
// and HTTP/3, DNS over QUIC), apply the client ACL, framing, EDNS and
// truncation rules, and hand each query to a Handler. Every listener runs
// the same query pipeline (query.go), so an answer differs between them
// only in framing. The transport builds the response's OPT record itself,
// so the EDNS options that belong to a connection are its business:
// edns-tcp-keepalive (RFC 7828) on TCP and TLS, padding (RFC 7830, 8467)
// on encrypted transports.
//
// No client address crosses the Handler boundary: the Handler sees only the
// query. Errors returned by a Handler become SERVFAIL with an Extended DNS
// Error (RFC 8914) here, and only here. The package logs nothing; socket
// errors go to Config.ErrorLog with every address stripped.
package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Handler answers one DNS query. It is never told who asked.
//
// The query has exactly one question of class IN, a data type or ANY (never
// a meta type such as AXFR, IXFR, OPT or TSIG), opcode QUERY, no records in
// the answer or authority section, at most two in the additional section and
// among them at most one OPT record, of EDNS version 0; the transport has
// already rejected anything else. EDNS Client Subnet and cookie options are
// removed from the OPT record before the handler sees it, since both
// identify the client. The handler may keep or modify q.
//
// The returned message carries the rcode, the AA/AD flags and the three
// sections; the transport sets the ID, the QR/RD/CD/RA bits, echoes the
// question as the client wrote it and builds the OPT record for the client.
// If the response carries an OPT record, only its Extended DNS Error options
// are kept. The transport never modifies the returned message or its
// records, so a handler may return records it shares with a cache; it does
// not truncate over TCP, and it clears AD when the query had neither DO nor
// AD set (RFC 6840 §5.8).
//
// A non-nil error means no answer could be produced; the transport answers
// SERVFAIL with no records, with the error's Extended DNS Error code when it
// has one (see ExtendedError) and the client sent EDNS. Any other error,
// context.DeadlineExceeded included, gives a SERVFAIL without EDE: whether a
// timeout means "no reachable authority" (EDE 22) or something else is the
// handler's to say. A nil message with a nil error counts as an error, and
// so does a panic, which the transport recovers from. ServeDNS should return soon after ctx is done: ctx carries
// the per-query deadline (Config.QueryTimeout) and is cancelled when the
// client's connection goes away or a Shutdown runs out of time.
type Handler interface {
	ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, q *dns.Msg) (*dns.Msg, error)

// ServeDNS calls f(ctx, q).
func (f HandlerFunc) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) { return f(ctx, q) }

// ExtendedError is implemented by handler errors that carry an RFC 8914
// Extended DNS Error code (and optional extra text) for the SERVFAIL answer.
// The transport finds it with errors.As, so it may be wrapped. The text is
// sent to the client as is: it must name no query and no server.
type ExtendedError interface {
	error
	ExtendedDNSError() (code uint16, text string)
}

// CacheAnswerer is an optional fast path a Handler may implement for
// answers it already holds (cache hits).
//
// The listeners call AnswerCached inline, on the goroutine that reads the
// socket, before they start a goroutine for ServeDNS; only a miss (false)
// costs a goroutine. AnswerCached must therefore never block, wait for a
// lock held across I/O, or do any network work: while it runs, the socket
// is not read. q obeys the same rules as for ServeDNS, but the listener may
// reuse it after AnswerCached returns true, so it must not be kept. The
// returned message is treated exactly like ServeDNS's.
type CacheAnswerer interface {
	AnswerCached(q *dns.Msg) (*dns.Msg, bool)
}

// Defaults for the zero fields of Config.
const (
	DefaultQueryTimeout   = 10 * time.Second
	DefaultTCPIdleTimeout = 10 * time.Second
	DefaultMaxTCPConns    = 1000
	// DefaultMaxConnsPerClient leaves room for a household or an office
	// behind one address; public resolvers with clients behind carrier
	// NAT raise it.
	DefaultMaxConnsPerClient = 32
	DefaultMaxTCPInFlight    = 100
	DefaultMaxUDPInFlight    = 4096

	DefaultTLSHandshakeTimeout = 5 * time.Second
)

// Config configures a UDPServer, TCPServer, TLSServer, DoHServer or DoQServer. Zero
// fields take the documented defaults; DoQServer reads the TCP fields as
// its DoQServer documentation says. The servers copy it; changing it afterwards has no
// effect.
type Config struct {
	// Handler answers the queries that pass the transport's checks.
	// Required: Serve fails without one.
	Handler Handler

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

	// TCPIdleTimeout closes a TCP connection that has no query in flight
	// and sends nothing for this long (RFC 7766 §6.2.3; default
	// DefaultTCPIdleTimeout). It also bounds the time a client may take
	// to send the rest of a message once it has started one, and the
	// time one response may take to write. It is the timeout announced
	// to clients that send edns-tcp-keepalive (RFC 7828).
	// DoQServer uses it as the QUIC idle timeout (at least QueryTimeout
	// plus a second) and as the time a stream has to deliver its query.
	TCPIdleTimeout time.Duration

	// MaxTCPConns caps open TCP connections per TCPServer (default
	// DefaultMaxTCPConns). Connections accepted beyond it are closed at
	// once, without reading. DoQServer caps QUIC connections with it,
	// closing the extra ones with DOQ_EXCESSIVE_LOAD.
	MaxTCPConns int

	// MaxConnsPerClient caps the connections one client (an IPv4 address
	// or an IPv6 /64) may hold open on one TCPServer, TLSServer,
	// DoHServer or DoQServer (default DefaultMaxConnsPerClient), so that
	// one client cannot take all MaxTCPConns. A connection beyond it is
	// closed as one beyond MaxTCPConns is.
	MaxConnsPerClient int

	// MaxTCPInFlight caps the pipelined queries one TCP connection may
	// have in flight (default DefaultMaxTCPInFlight). When it is reached
	// the connection is not read until one of them is answered, so the
	// kernel's flow control slows the client down. DoQServer grants
	// each QUIC connection this many concurrent streams.
	MaxTCPInFlight int

	// TLSHandshakeTimeout bounds a DNS-over-TLS client's handshake,
	// from the accept to the handshake's end (default
	// DefaultTLSHandshakeTimeout), so that clients that connect and say
	// nothing cannot hold MaxTCPConns slots for long. TLSServer and
	// DoQServer use it.
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

	// cache is Handler as a CacheAnswerer, if it is one (set by
	// withDefaults, so the hot path does not repeat the type assertion).
	cache CacheAnswerer
}

// ErrServerClosed is returned by Serve after Shutdown has been called.
var ErrServerClosed = errors.New("transport: server closed")

var errNoHandler = errors.New("transport: Config.Handler is nil")

// loopback is the ACL an empty AllowClients stands for.
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
	c.cache, _ = c.Handler.(CacheAnswerer)
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.TCPIdleTimeout <= 0 {
		c.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if c.MaxTCPConns <= 0 {
		c.MaxTCPConns = DefaultMaxTCPConns
	}
	if c.MaxConnsPerClient <= 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.MaxTCPInFlight <= 0 {
		c.MaxTCPInFlight = DefaultMaxTCPInFlight
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.MaxUDPInFlight <= 0 {
		c.MaxUDPInFlight = DefaultMaxUDPInFlight
	}
	return c
}

// allowed reports whether a client address passes the ACL. An invalid
// address (a transport that could not tell us) never does.
func (c *Config) allowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range c.AllowClients {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrOf extracts the IP address of a peer without allocating for the
// common UDP and TCP address types.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr()
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// logSocketError hands err to the ErrorLog hook, if any, after removing the
// addresses a *net.OpError carries.
func (c *Config) logSocketError(prefix string, err error) {
	if c.ErrorLog == nil || err == nil {
		return
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	c.ErrorLog(&socketError{prefix: prefix, err: err})
}

// socketError is what ErrorLog receives: a short context and the cause,
// stripped of addresses.
type socketError struct {
	prefix string
	err    error
}

func (e *socketError) Error() string { return e.prefix + ": " + e.err.Error() }
func (e *socketError) Unwrap() error { return e.err }
