package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/hush-dns/hush/transport"
)

// listenerSet is every --listen URL's servers and sockets, which a reload
// may add or remove: each URL has its own servers (a dns:// URL a UDP and
// a TCP server, a https:// URL one DoH server for HTTP/1.1, HTTP/2 and
// HTTP/3), so one can stop without touching the others, and a removed one
// lets its connections finish the queries in flight. The encrypted
// listeners share one certificate source.
type listenerSet struct {
	ctx   context.Context
	run   func(serve func() error)
	with  func(metrics.Transport) transport.Config
	infof func(format string, args ...any)
	// certs gives the encrypted listeners their certificate; nil when
	// none may be served (hush demo).
	certs *certSource

	// mu guards everything below.
	mu     sync.Mutex
	byURL  map[listenURL]*listener
	order  []listenURL // byURL's keys, in the order configured
	live   serverSettings
	closed bool
}

// serverSettings are what a reload changes in running servers, and what
// the servers a reload adds start with.
type serverSettings struct {
	acl                 []netip.Prefix
	maxConns, perClient int
	rateLimit           *ratelimit.Clients // nil: off
	chaos               map[string]string
	nsid                []byte
}

// settingsOf is the serverSettings of cfg, with rate as its rate limiter.
func settingsOf(cfg *serveConfig, rate *ratelimit.Clients) serverSettings {
	return serverSettings{
		acl:      cfg.AllowClient,
		maxConns: cfg.MaxConns, perClient: cfg.MaxConnsPerClient,
		rateLimit: rate,
		chaos:     cfg.Ops.chaos(), nsid: []byte(cfg.Ops.NSID),
	}
}

// The setters of what serverSettings holds; a server has those that
// apply to it (only UDP has a rate limit, UDP no connection caps).
type (
	connLimitSetter interface{ SetConnLimits(maxConns, perClient int) }
	rateLimitSetter interface{ SetRateLimit(*ratelimit.Clients) }
	identitySetter  interface {
		SetIdentity(chaos map[string]string, nsid []byte)
	}
)

// apply gives srv the settings.
func (st serverSettings) apply(srv server) {
	srv.SetAllowClients(st.acl)
	if c, ok := srv.(connLimitSetter); ok {
		c.SetConnLimits(st.maxConns, st.perClient)
	}
	if r, ok := srv.(rateLimitSetter); ok {
		r.SetRateLimit(st.rateLimit)
	}
	if i, ok := srv.(identitySetter); ok {
		i.SetIdentity(st.chaos, st.nsid)
	}
}

// listener is the servers and sockets of one configured URL (several
// sockets when the URL is listed more than once with port 0).
type listener struct {
	socks   []urlSockets
	servers []server
}

// server is what the set needs of a transport server.
type server interface {
	shutdowner
	aclSetter
}

// errNoCertificate is apply's error when an encrypted listener is asked
// of a serve that has no certificate source.
var errNoCertificates = errors.New("no certificate for encrypted listeners here")

// start serves the sockets of one URL. s.mu is held, or the set is not
// yet shared.
func (s *listenerSet) start(us urlSockets) {
	var servers []server
	switch us.url.Scheme {
	case "dns":
		udp := transport.NewUDPServer(s.with(metrics.UDP))
		tcp := transport.NewTCPServer(s.with(metrics.TCP))
		servers = []server{udp, tcp}
		for _, pc := range us.udp {
			s.run(func() error { return udp.Serve(pc) })
		}
		s.run(func() error { return tcp.Serve(us.tcp) })
		s.infof("hush: serving dns://%s (UDP and TCP)", us.tcp.Addr())
	case "tls":
		t := transport.NewTLSServer(s.with(metrics.TLS), s.certs.config())
		servers = []server{t}
		s.run(func() error { return t.Serve(us.tcp) })
		s.infof("hush: serving tls://%s (DNS over TLS)", us.tcp.Addr())
	case "https":
		d := transport.NewDoHServer(s.with(metrics.HTTPS), s.certs.config(), transport.DoHOptions{Path: us.url.Path})
		servers = []server{d}
		s.run(func() error { return d.Serve(us.tcp) })
		if us.pc != nil {
			s.run(func() error { return d.ServeQUIC(us.pc) })
			s.infof("hush: serving %s (DNS over HTTPS: HTTP/1.1, HTTP/2, HTTP/3)", us.bound)
		} else { // a build without QUIC (-tags noquic) opens no UDP socket
			s.infof("hush: serving %s (DNS over HTTPS: HTTP/1.1, HTTP/2)", us.bound)
		}
	case "quic":
		q := transport.NewDoQServer(s.with(metrics.QUIC), s.certs.config())
		servers = []server{q}
		s.run(func() error { return q.Serve(us.pc) })
		s.infof("hush: serving quic://%s (DNS over QUIC)", us.pc.LocalAddr())
	}
	for _, srv := range servers {
		s.live.apply(srv)
	}
	l := s.byURL[us.url]
	if l == nil {
		l = &listener{}
		s.byURL[us.url] = l
		s.order = append(s.order, us.url)
	}
	l.socks = append(l.socks, us)
	l.servers = append(l.servers, servers...)
}

// shutdown stops l's servers, letting queries in flight finish until ctx
// is done, closes its sockets and returns the errors.
func (l *listener) shutdown(ctx context.Context) []error {
	errs := shutdownAll(ctx, l.servers)
	for _, us := range l.socks {
		us.close()
	}
	return errs
}

// shutdownAll shuts the servers down at once, so that none accepts new
// work while another drains, and returns the errors.
func shutdownAll[S shutdowner](ctx context.Context, servers []S) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// set gives every listener, and those added later, the settings.
func (s *listenerSet) set(st serverSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = st
	for _, l := range s.byURL {
		for _, srv := range l.servers {
			st.apply(srv)
		}
	}
}

// bound returns the URLs served, with their bound ports, in the order
// configured.
func (s *listenerSet) bound() []listenURL {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []listenURL
	for _, u := range s.order {
		for _, us := range s.byURL[u].socks {
			out = append(out, us.bound)
		}
	}
	return out
}

// listenChange is what apply did.
type listenChange struct {
	added, removed []string
	// cert is set when the certificate's origin changed.
	cert bool
}

// apply makes the listeners those of want, their certificate the one
// certFile and keyFile name (a self-signed one when both are empty): new
// URLs are opened and served, URLs no longer wanted stop accepting and
// close once the queries in flight are answered (within shutdownGrace),
// and new handshakes get the new certificate. On an error (a port taken,
// a certificate that does not load) nothing was changed.
func (s *listenerSet) apply(want []listenURL, certFile, keyFile string) (listenChange, error) {
	var ch listenChange
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ch, errors.New("shutting down")
	}
	wanted := make(map[listenURL]bool)
	var open []listenURL
	encrypted := false
	for _, u := range want {
		encrypted = encrypted || u.Scheme != "dns"
		if wanted[u] {
			continue
		}
		wanted[u] = true
		if s.byURL[u] == nil {
			open = append(open, u)
		}
	}
	var origin *certOrigin
	if encrypted {
		if s.certs == nil {
			return ch, errNoCertificates
		}
		var err error
		if origin, err = s.certs.prepare(certFile, keyFile, want); err != nil {
			return ch, err
		}
	}
	socks, err := openSocketsAmong(s.ctx, open, want)
	if err != nil {
		return ch, err
	}
	// Nothing fails from here on.
	if origin != nil {
		ch.cert = s.certs.commit(origin)
	}
	for _, us := range socks.split() {
		s.start(us)
		ch.added = append(ch.added, us.url.String())
	}
	for _, u := range slices.Clone(s.order) {
		if wanted[u] {
			continue
		}
		l := s.byURL[u]
		delete(s.byURL, u)
		s.order = slices.DeleteFunc(s.order, func(o listenURL) bool { return o == u })
		ch.removed = append(ch.removed, u.String())
		// Through run, so that serve waits for it before it returns.
		s.run(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			l.shutdown(ctx)
			return nil
		})
	}
	return ch, nil
}

// shutdown stops every listener, letting queries in flight finish until
// ctx is done, and returns the errors. A reload can change nothing after
// it.
func (s *listenerSet) shutdown(ctx context.Context) []error {
	s.mu.Lock()
	s.closed = true
	ls := make([]*listener, 0, len(s.byURL))
	for _, l := range s.byURL {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	var all []server
	for _, l := range ls {
		all = append(all, l.servers...)
	}
	errs := shutdownAll(ctx, all)
	for _, l := range ls {
		for _, us := range l.socks {
			us.close()
		}
	}
	return errs
}
