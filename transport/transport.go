// Package transport is hush's inbound side: listeners that read DNS queries
// from clients (UDP, TCP, DNS over TLS, DNS over HTTPS on HTTP/1.1, HTTP/2
// and HTTP/3, DNS over QUIC), apply the client ACL, framing, EDNS and
// truncation rules, and hand each query to a Handler. Every listener runs
// the same query pipeline (pipeline.go), so an answer differs between them
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
// so does a panic, which the transport recovers from.
//
// ServeDNS should return soon after ctx is done: ctx carries the per-query
// deadline (Config.QueryTimeout) and is cancelled when the client's
// connection goes away or a Shutdown runs out of time.
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

// ErrServerClosed is returned by Serve after Shutdown has been called.
var ErrServerClosed = errors.New("transport: server closed")

var errNoHandler = errors.New("transport: Config.Handler is nil")

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
