//go:build !nohttp

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// DoH defaults and limits.
const (
	// DefaultDoHPath is the path RFC 8484 §3 uses in its examples and
	// that clients (kdig, dig, curl, browsers) assume.
	DefaultDoHPath = "/dns-query"

	// DefaultAltSvcMaxAge is how long HTTP/1.1 and HTTP/2 clients may
	// remember that HTTP/3 is on offer (the Alt-Svc ma parameter).
	DefaultAltSvcMaxAge = 24 * time.Hour

	// dohMaxHeaderBytes bounds a request's header block, request line
	// included: room for a GET of a 4 KiB query (5.5 KiB of base64);
	// larger queries must be POSTed. net/http answers 431 beyond it.
	dohMaxHeaderBytes = 8 << 10

	// dohMaxUniStreams is HTTP/3's need of unidirectional streams: the
	// control stream and the two QPACK streams, with room to spare.
	dohMaxUniStreams = 8

	// h3NoError closes an idle HTTP/3 connection to make room for
	// another (RFC 9114 §8.1, H3_NO_ERROR).
	h3NoError = 0x0100

	// h3ExcessiveLoad is the HTTP/3 error code a connection over the
	// per-client or total cap is closed with (RFC 9114 §8.1,
	// H3_EXCESSIVE_LOAD).
	h3ExcessiveLoad = 0x0107

	// dohShutdownLinger is how long Shutdown leaves HTTP/3 connections
	// open once every request is answered, for the last answers to
	// arrive and clients to leave after GOAWAY, before it closes them.
	dohShutdownLinger = 500 * time.Millisecond
)

// Media types of RFC 8484 §6 and of the JSON form.
const (
	mediaDNSMessage = "application/dns-message"
	mediaDNSJSON    = "application/dns-json"
)

// Header values shared by every response: the maps are written, never the
// slices.
var (
	hdrDNSMessage = []string{mediaDNSMessage}
	hdrDNSJSON    = []string{mediaDNSJSON}
	hdrNoStore    = []string{"no-store"}
	hdrAllow      = []string{"GET, POST"}
	hdrTextPlain  = []string{"text/plain; charset=utf-8"}
	hdrJSON       = []string{"application/json"}
)

// DoHOptions are the settings of a DoHServer that the other transports do
// not have. Zero fields take the documented defaults.
type DoHOptions struct {
	// Path is the one path queries are answered on (default
	// DefaultDoHPath); every other path is 404.
	Path string

	// MaxConnsPerClient caps the open connections of one client (an IPv4
	// address or an IPv6 /64), HTTP/1.1, HTTP/2 and HTTP/3 together
	// (default Config.MaxConnsPerClient; a browser needs one or two).
	// Config.MaxConns caps them all.
	MaxConnsPerClient int

	// AltSvcMaxAge is the ma parameter of the Alt-Svc header that
	// advertises HTTP/3 (default DefaultAltSvcMaxAge).
	AltSvcMaxAge time.Duration
}

// DoHServer answers DNS queries over HTTPS (DoH, RFC 8484): HTTP/1.1 and
// HTTP/2 over TLS on TCP listeners (Serve), HTTP/3 on UDP sockets
// (ServeQUIC), with one http.Handler behind them all. A DoHServer serves
// one URL: its TCP listeners and UDP sockets should share a port, which
// HTTP/1.1 and HTTP/2 responses advertise with Alt-Svc once ServeQUIC runs.
//
// Requests, on Path only (404 elsewhere):
//
//   - GET with dns=, the query in base64url without padding (RFC 8484
//     §4.1; trailing '=' is tolerated); bad base64 is 400;
//   - POST of a body of type application/dns-message (else 415) of at most
//     65535 octets (else 413);
//   - GET with name= (and type=, do=, cd=, ct=): the JSON form of Google's
//     and Cloudflare's resolvers. The parameters choose the form, so the
//     Accept header is not needed; a bad name, type or flag is 400 with
//     {"error": "..."}. ct=application/dns-message asks for the answer in
//     wire format;
//   - any other method, HEAD included, is 405 with Allow: GET, POST (a
//     HEAD would cost a resolution for nothing);
//   - a message that is not a DNS query (shorter than a header, or QR set)
//     is 400; everything else is 200 with a DNS message, whatever its
//     rcode, exactly as the other transports answer it: the same ACL
//     (REFUSED with EDE 18), FORMERR rules, cache fast path and EDNS
//     padding to 468-octet blocks when the query asks for it. The message
//     ID is echoed (clients send 0).
//
// Cache-Control (RFC 8484 §5.1): max-age is the smallest TTL of the
// answer section; without answer records, the smallest of the authority
// section's TTLs and its SOA's MINIMUM (RFC 2308), 0 without either.
// Errors other than NXDOMAIN (SERVFAIL, REFUSED, FORMERR, ...) and HTTP
// errors are no-store: they describe the moment or the client, not the
// name.
//
// The ACL uses the connection's address, never a header such as
// X-Forwarded-For. HTTP/3 requests in 0-RTT data are read before the
// QUIC handshake has proved that address: those the cache answers (and
// REFUSED ones) are answered at once, since a forger cannot read the
// answer; one that needs the handler waits for the handshake to complete
// and is answered 425 Too Early (RFC 8470) if the connection ends first.
//
// A connection beyond DoHOptions.MaxConnsPerClient, or beyond
// Config.MaxConns when every connection has a request in flight, is closed
// at once: a TCP connection before its TLS handshake (the client sees the
// connection closed), a QUIC one with H3_EXCESSIVE_LOAD once its
// handshake completes. Otherwise a connection beyond Config.MaxConns
// closes the one idle the longest (an HTTP/3 one with H3_NO_ERROR), and
// under that pressure idle connections are closed sooner (see
// Config.MaxConns). A QUIC connection counts against these caps only
// from then on, because its address may be forged before: until then it
// counts among the QUIC handshakes under way, of which there may be at
// most MaxConns (more are refused), and from MaxConns/8 of them on new
// clients must first prove their address with a Retry (RFC 9000 §8.1.2),
// which costs them a round trip and stops forged Initials from adding to
// them; handshakes of clients a Retry proved count per client (see
// quicHandshakes, shared with DoQServer). So forged UDP packets cannot
// take the slots TCP clients need. HTTP/2 and HTTP/3 connections take at
// most Config.MaxInFlightPerConn concurrent streams. Timeouts: the TLS
// handshake and a request's header within Config.TLSHandshakeTimeout; its
// body within Config.IdleTimeout more; the response within
// Config.QueryTimeout plus IdleTimeout; idle connections are closed after
// IdleTimeout. HTTP/3 has no timeout for a request's header (quic-go
// offers no hook before the handler): the stream and connection
// caps bound what a slow client holds.
//
// The handler's context is cancelled when the client goes away. Nothing
// is logged: net/http's error log goes to Config.ErrorLog with addresses
// removed, and TLS handshake failures (scanners, wrong certificates) and
// broken HTTP/2 prefaces are dropped as TLSServer drops failed handshakes.
type DoHServer struct {
	cfg  Config
	pipe *pipeline
	// life's listeners are the quic-go transports of ServeQUIC; its work
	// is the requests in flight. net/http and http3 track the
	// connections.
	life     *lifecycle
	path     string
	altSvcMA time.Duration
	limit    *connSlots

	h12 *http.Server
	h3  dohH3 // HTTP/3: doh_h3.go, or nothing with -tags noquic

	tlsTCP *tls.Config // ALPN h2, http/1.1

	work sync.Pool // *dohWork

	altSvc struct {
		sync.RWMutex
		v []string // nil until ServeQUIC runs
	}
}

// dohWork is what one request needs, pooled: the response scratch, the
// query message (replaced when a handler takes it) and the buffer the
// request's query is read or packed into.
type dohWork struct {
	sc  *scratch
	q   *dns.Msg
	buf []byte
}

// NewDoHServer returns a DoH server for cfg. It uses two clones of
// tlsConfig with TLS 1.2 as the lowest version: one with ALPN h2 and
// http/1.1 for TCP, one with h3 for QUIC (TLS 1.3 only). Certificates are
// taken from the clones as tlsConfig would give them, GetCertificate
// included. It does not listen: call Serve and ServeQUIC.
func NewDoHServer(cfg Config, tlsConfig *tls.Config, opts DoHOptions) *DoHServer {
	s := &DoHServer{
		cfg:      cfg.withDefaults(),
		pipe:     newPipeline(cfg),
		life:     newLifecycle(),
		path:     opts.Path,
		altSvcMA: opts.AltSvcMaxAge,
	}
	if s.path == "" {
		s.path = DefaultDoHPath
	}
	if s.altSvcMA <= 0 {
		s.altSvcMA = DefaultAltSvcMaxAge
	}
	perClient := opts.MaxConnsPerClient
	if perClient <= 0 {
		perClient = s.cfg.MaxConnsPerClient
	}
	c := &s.cfg
	// A new connection's first request comes after its handshake.
	s.limit = newConnSlots(c.MaxConns, perClient, c.IdleTimeout, c.TLSHandshakeTimeout+c.IdleTimeout).withEvents(c.Events)
	s.work.New = func() any {
		return &dohWork{sc: newScratch(), q: new(dns.Msg), buf: make([]byte, tcpMaxSize+1)}
	}

	tc := serverTLS(tlsConfig, tls.VersionTLS12)
	// DoH speaks what net/http serves, whatever tlsConfig offers.
	tc.NextProtos = []string{"h2", "http/1.1"}
	s.tlsTCP = tc

	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	s.h12 = &http.Server{
		Handler:           s,
		Protocols:         &protos,
		ReadHeaderTimeout: c.TLSHandshakeTimeout,
		ReadTimeout:       c.TLSHandshakeTimeout + c.IdleTimeout,
		WriteTimeout:      c.QueryTimeout + c.IdleTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    dohMaxHeaderBytes,
		// Requests tell their connection's slot when they are in
		// flight.
		ConnContext: slotContext,
		ErrorLog:    log.New(&httpErrorLog{report: c.ErrorLog}, "", 0),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: c.MaxInFlightPerConn,
			// Queries and answers fit one frame; a bigger
			// window only lets a client park more data here.
			MaxReceiveBufferPerStream:     tcpMaxSize + 1,
			MaxReceiveBufferPerConnection: 1 << 20,
		},
	}
	s.initH3(tc, perClient)
	return s
}

// Serve accepts TCP connections on l and serves HTTP/1.1 and HTTP/2 over
// TLS on them until Shutdown, then returns ErrServerClosed. l must be a
// plain TCP listener: the TLS is the server's. It may be called for
// several listeners at once. Shutdown closes l.
func (s *DoHServer) Serve(l net.Listener) error {
	if err := s.check(); err != nil {
		return err
	}
	err := s.h12.Serve(tls.NewListener(&limitListener{Listener: l, limit: s.limit}, s.tlsTCP))
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	if err != nil {
		return fmt.Errorf("transport: doh: %w", err)
	}
	return nil
}

// check refuses to serve without a handler or a certificate.
func (s *DoHServer) check() error {
	if s.cfg.Handler == nil {
		return errNoHandler
	}
	tc := s.tlsTCP
	if len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
		return errNoCertificate
	}
	return nil
}

// Shutdown stops accepting connections and requests (HTTP/2 and HTTP/3
// clients get GOAWAY), waits for the requests in flight to be answered
// and returns nil. If ctx ends first, it returns ctx's error, cancels the
// handlers' contexts and closes every connection. HTTP/3 connections are
// closed by their clients after GOAWAY (quic-go's do so once their last
// request is answered); the ones still open half a second after the last
// request was answered (clients that ignore GOAWAY, handshakes that never
// finish) are closed then, or when ctx ends if that is sooner.
func (s *DoHServer) Shutdown(ctx context.Context) error {
	s.life.begin()
	h12 := make(chan error, 1)
	go func() { h12 <- s.h12.Shutdown(ctx) }()
	h3 := s.shutdownH3(ctx)

	err := s.life.wait(ctx)
	if e := <-h12; e != nil {
		// Out of time: Shutdown leaves active connections open.
		_ = s.h12.Close()
	}
	if err == nil {
		linger := time.NewTimer(dohShutdownLinger)
		select {
		case e := <-h3:
			h3 <- e
		case <-linger.C:
		case <-ctx.Done():
		}
		linger.Stop()
	}
	s.closeH3()
	<-h3
	s.life.end(false)
	return err
}

// What a reload changes (see live.go).

// SetAllowClients replaces Config.AllowClients for requests read from now
// on (DoH judges each request by its connection's address).
func (s *DoHServer) SetAllowClients(prefixes []netip.Prefix) { s.pipe.setACL(prefixes) }

// SetConnLimits replaces Config.MaxConns and, for HTTP/1.1, HTTP/2 and
// HTTP/3 together, the per-client cap (DoHOptions.MaxConnsPerClient
// included); see TCPServer.SetConnLimits. The caps on QUIC handshakes
// follow.
func (s *DoHServer) SetConnLimits(maxConns, perClient int) {
	c := Config{MaxConns: maxConns, MaxConnsPerClient: perClient}.withDefaults()
	s.limit.setLimits(c.MaxConns, c.MaxConnsPerClient)
	s.setH3Limits(c.MaxConns, c.MaxConnsPerClient)
}

// SetIdentity replaces Config.Chaos and Config.NSID; see
// UDPServer.SetIdentity.
func (s *DoHServer) SetIdentity(chaos map[string]string, nsid []byte) {
	s.pipe.ident.Store(newIdentity(chaos, nsid))
}
