//go:build !noquic

package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// QUIC reports whether this build has QUIC: DNS over QUIC and HTTP/3.
// Builds with -tags noquic (the router builds of make cross) leave
// quic-go out.
const QUIC = true

// DoQServer answers DNS queries over QUIC (DoQ, RFC 9250): TLS 1.3 inside
// QUIC with ALPN "doq", one query per client-initiated bidirectional
// stream, framed by a 2-octet length as over TCP, message ID 0, and one
// framed response after which the server closes its side of the stream.
// It runs the same checks, fast path and response building as the other
// servers, and pads responses (RFC 7830) to a multiple of 468 octets (RFC
// 8467 §4.1) when the query carries the Padding option.
//
// Queries in 0-RTT data are accepted: DNS queries are idempotent (RFC 9250
// §4.5), and a replayed one costs the attacker the answer it cannot read.
// A 0-RTT query that the CacheAnswerer does not answer waits for the
// handshake to complete, which proves the client's address, before it
// reaches ServeDNS; so a client outside Config.AllowClients cannot forge an
// allowed address to make hush resolve for it.
//
// A connection is closed with DOQ_PROTOCOL_ERROR (RFC 9250 §4.3.3) when a
// stream carries a message with an ID other than 0, a message shorter than
// a header, a response, a message with the edns-tcp-keepalive option
// (§5.5.2), more than one message, or a length prefix longer than what
// arrives before the client's FIN; and when a stream does not deliver its
// query and its FIN within Config.IdleTimeout of being opened. The
// server grants clients no unidirectional streams, so a client that opens
// one breaks QUIC's stream limit and quic-go closes the connection with
// STREAM_LIMIT_ERROR. A client that resets its stream before the query is
// read, or asks the server to stop sending (DOQ_REQUEST_CANCELLED, §4.3.1),
// cancels the query: its handler's context ends and its stream is reset
// with DOQ_REQUEST_CANCELLED.
//
// Limits, from Config: at most MaxConns connections per server, and
// MaxConnsPerClient per client, counted once the handshake has proved the
// client's address. One over MaxConnsPerClient is closed then with
// DOQ_EXCESSIVE_LOAD; one over MaxConns closes the connection idle the
// longest, with DOQ_NO_ERROR, or is closed with DOQ_EXCESSIVE_LOAD if
// every connection has a query in flight (see Config.MaxConns).
// Connections still in their handshake are counted apart, in one count
// for the server, since their addresses may be forged: from MaxConns/8
// of them on, a new client must first answer a Retry (RFC 9000 §8.1.2),
// which a forged address cannot, and at MaxConns new ones are refused.
// At most MaxInFlightPerConn streams are open at once per connection (QUIC's
// own stream limit, so a client waits for credit rather than being
// refused); the handshake ends within TLSHandshakeTimeout; a connection
// with no stream open for IdleTimeout after its handshake (the handshake's
// own time is not idle time) is closed with DOQ_NO_ERROR (RFC
// 9250 §5.5.2), as over TCP, even if the client keeps QUIC alive with
// PINGs; one that receives nothing for IdleTimeout (or QueryTimeout
// plus a second, if longer, so that a slow answer is never cut off) is
// closed by QUIC's idle timeout, silently as RFC 9000 §10.1 says. A
// stream carries at most one 65535-octet message, so its receive window
// is no larger than that, and the server's buffer for it grows with the
// octets that arrive, not with the length prefix.
//
// DoQServer does not reload certificates by itself: give the tls.Config a
// GetCertificate that does.
type DoQServer struct {
	cfg       Config
	pipe      *pipeline
	life      *lifecycle // listeners: doqListener; work: the connections
	tlsConfig *tls.Config
	quicConf  *quic.Config

	limit *connSlots // proven connections: MaxConns, MaxConnsPerClient
	// handshakes counts the connections not yet proven, and demands a
	// Retry when they are many.
	handshakes *quicHandshakes
	scratch    sync.Pool // *scratch
	streams    sync.Pool // *doqStreamState
}

// doqListener is a listener of DoQServer.Serve, as Shutdown sees it:
// closed when Shutdown starts (handshakes in progress are refused), its
// quic-go transport and socket closed at the end.
type doqListener struct {
	ln *quic.EarlyListener
	tr *quic.Transport
	pc net.PacketConn
}

func (l *doqListener) stop() { _ = l.ln.Close() }

func (l *doqListener) close() {
	_ = l.tr.Close()
	_ = l.pc.Close()
}

// NewDoQServer returns a DoQ server for cfg. It uses a clone of tlsConfig
// with TLS 1.3 as the lowest version (QUIC requires it) and ALPN "doq"
// unless tlsConfig names protocols itself; session tickets, which 0-RTT
// needs, are on unless disabled there. It does not listen: call Serve.
func NewDoQServer(cfg Config, tlsConfig *tls.Config) *DoQServer {
	tc := serverTLS(tlsConfig, tls.VersionTLS13, ALPNDoQ)
	s := &DoQServer{
		cfg:       cfg.withDefaults(),
		pipe:      newPipeline(cfg),
		life:      newLifecycle(),
		tlsConfig: tc,
	}
	// Admitted once its handshake is complete, a connection's first
	// stream is one idle timeout away.
	s.limit = newConnSlots(s.cfg.MaxConns, s.cfg.MaxConnsPerClient, s.cfg.IdleTimeout, s.cfg.IdleTimeout).withEvents(s.cfg.Events)
	s.handshakes = newQUICHandshakes(s.cfg.MaxConns, s.cfg.MaxConnsPerClient)
	c := &s.cfg
	s.quicConf = &quic.Config{
		// quic-go gives up on a handshake after twice this.
		HandshakeIdleTimeout:  max(c.TLSHandshakeTimeout/2, time.Millisecond),
		MaxIdleTimeout:        max(c.IdleTimeout, c.QueryTimeout+time.Second),
		MaxIncomingStreams:    int64(c.MaxInFlightPerConn),
		MaxIncomingUniStreams: -1, // none: RFC 9250 §4.3.3
		// One message per stream: a larger window only buffers a
		// protocol error.
		InitialStreamReceiveWindow: 2 + tcpMaxSize,
		MaxStreamReceiveWindow:     2 + tcpMaxSize,
		MaxConnectionReceiveWindow: 1 << 20,
		Allow0RTT:                  true,
	}
	s.scratch.New = func() any { return newScratch() }
	s.streams.New = func() any { return &doqStreamState{buf: make([]byte, 512), q: new(dns.Msg)} }
	return s
}

// Serve accepts QUIC connections on pc until Shutdown, then returns
// ErrServerClosed. It may be called for several sockets at once; each
// must be used by nothing else. Shutdown closes pc.
func (s *DoQServer) Serve(pc net.PacketConn) error {
	if s.cfg.Handler == nil {
		return errNoHandler
	}
	tc := s.tlsConfig
	if len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
		return errNoCertificate
	}
	l, err := s.listen(pc)
	if err != nil {
		return err
	}
	for {
		conn, err := l.ln.Accept(context.Background())
		if err != nil {
			if s.life.closing.Load() {
				return ErrServerClosed
			}
			s.life.removeListener(l)
			_ = l.ln.Close()
			_ = l.tr.Close()
			return fmt.Errorf("transport: doq accept: %w", err)
		}
		// The handshake may still be in progress (0-RTT): the client's
		// address is not proven, so the connection takes no limiter slot
		// until admit sees the handshake complete.
		dc := s.newConn(conn)
		if !s.life.addConn(dc) {
			_ = conn.CloseWithError(DoQNoError, "")
			return ErrServerClosed
		}
		go func() {
			defer s.life.leave()
			dc.serve()
			s.life.removeConn(dc)
		}()
	}
}

// listen starts a QUIC listener on pc and registers it for Shutdown. It
// returns ErrServerClosed once Shutdown has started.
func (s *DoQServer) listen(pc net.PacketConn) (*doqListener, error) {
	tr := &quic.Transport{
		Conn:                pc,
		VerifySourceAddress: s.handshakes.verifySourceAddress,
		ConnContext:         s.handshakes.connContext,
	}
	// Under the lifecycle's lock, so that Shutdown either sees the
	// listener or has refused it.
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	if s.life.closing.Load() {
		return nil, ErrServerClosed
	}
	ln, err := tr.ListenEarly(s.tlsConfig, s.quicConf)
	if err != nil {
		_ = tr.Close()
		return nil, fmt.Errorf("transport: doq listen: %w", err)
	}
	l := &doqListener{ln: ln, tr: tr, pc: pc}
	s.life.listeners[l] = struct{}{}
	return l, nil
}

// Shutdown closes the listeners (handshakes in progress are refused),
// stops accepting streams on every connection, waits for the queries in
// flight to be answered, closes the connections with DOQ_NO_ERROR and the
// sockets, and returns nil. If ctx ends first, it cancels the handlers'
// contexts, closes everything the same way and returns ctx's error
// without waiting further.
func (s *DoQServer) Shutdown(ctx context.Context) error { return s.life.shutdown(ctx) }

// What a reload changes (see live.go).

// SetAllowClients replaces Config.AllowClients for connections accepted
// from now on; see UDPServer.SetAllowClients.
func (s *DoQServer) SetAllowClients(prefixes []netip.Prefix) { s.pipe.setACL(prefixes) }

// SetConnLimits replaces Config.MaxConns and Config.MaxConnsPerClient;
// see TCPServer.SetConnLimits. The caps on QUIC handshakes follow.
func (s *DoQServer) SetConnLimits(maxConns, perClient int) {
	c := Config{MaxConns: maxConns, MaxConnsPerClient: perClient}.withDefaults()
	s.limit.setLimits(c.MaxConns, c.MaxConnsPerClient)
	s.handshakes.setLimits(c.MaxConns, c.MaxConnsPerClient)
}

// SetIdentity replaces Config.Chaos and Config.NSID; see
// UDPServer.SetIdentity.
func (s *DoQServer) SetIdentity(chaos map[string]string, nsid []byte) {
	s.pipe.ident.Store(newIdentity(chaos, nsid))
}
