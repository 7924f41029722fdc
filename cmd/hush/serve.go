package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
	"github.com/spf13/cobra"
)

var _ transport.Handler = (*resolver.Resolver)(nil)

// shutdownGrace is how long in-flight queries may finish after a signal.
const shutdownGrace = 5 * time.Second

// flagValue holds a serve flag's text as given; buildServeConfig parses
// it together with the config file so that both report errors alike.
type flagValue struct {
	vals []string
	list bool
	typ  string
}

func (f *flagValue) String() string { return strings.Join(f.vals, ",") }
func (f *flagValue) Type() string   { return f.typ }

// Set appends for a repeatable flag and replaces otherwise.
func (f *flagValue) Set(s string) error {
	if f.list {
		f.vals = append(f.vals, s)
	} else {
		f.vals = []string{s}
	}
	return nil
}

func newServeCmd(e *env) *cobra.Command {
	settings := serveSettings()
	values := make(map[string]*flagValue, len(settings))
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the recursive resolver",
		Long: "Run the recursive resolver until SIGINT or SIGTERM.\n\n" +
			"Settings come from the defaults, then the YAML file named by --config\n" +
			"(keys are the flag names without --), then the flags on the command line.\n" +
			"A flag replaces the file's value for the same key, lists included.\n" +
			"Relative file names in the config file are relative to its directory.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var file map[string]rawValue
			if cmd.Flags().Changed("config") {
				if configPath == "" {
					return usageErrorf("--config %q: empty file name", configPath)
				}
				var err error
				if file, err = loadConfigFile(configPath, settings); err != nil {
					return err
				}
			}
			flags := make(map[string]rawValue)
			for name, v := range values {
				if cmd.Flags().Changed(name) {
					flags[name] = rawValue{vals: v.vals}
				}
			}
			cfg, err := buildServeConfig(settings, file, flags)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("config") {
				cfg.Ops.file = configPath
				if abs, err := filepath.Abs(configPath); err == nil {
					cfg.Ops.file = abs
				}
			}
			// A reload reads the file again and applies the same flags
			// over it: the command line keeps its precedence.
			cfg.Ops.load = func() (serveConfig, error) {
				var file map[string]rawValue
				if cfg.Ops.file != "" {
					var err error
					if file, err = loadConfigFile(cfg.Ops.file, settings); err != nil {
						return serveConfig{}, err
					}
				}
				next, err := buildServeConfig(settings, file, flags)
				next.Ops.file, next.Ops.load = cfg.Ops.file, cfg.Ops.load
				return next, err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return e.serve(ctx, cfg, e.stdout, e.stderr)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	for _, s := range settings {
		v := &flagValue{list: s.kind == listSetting, typ: s.typ}
		values[s.name] = v
		fs.Var(v, s.name, s.usage)
		f := fs.Lookup(s.name)
		f.DefValue = s.def
		if s.kind == boolSetting {
			f.NoOptDefVal = "true"
		}
	}
	fs.StringVar(&configPath, "config", "", "YAML config `FILE`; flags given on the command line override it")
	return cmd
}

// runServe runs the resolver until ctx is cancelled (SIGINT, SIGTERM).
//
// Nothing it prints may name a query, an answer or a client.
func runServe(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) error {
	silenceLibraryLogs(stderr)
	setMemoryLimit(cfg.CacheBytes)
	// The trust anchor state (RFC 5011) is opened once, at start, from
	// the start's settings; every resolver a reload builds is attached
	// to it and starts from the anchors it tracks.
	floor, taState, err := openTrustAnchorState(cfg, stderr)
	if err != nil {
		return err
	}
	socks, err := openSockets(ctx, cfg.Listen)
	if err != nil {
		return err
	}
	defer socks.Close()
	// The encrypted listeners' certificate: made now if there are some,
	// by the reload that adds the first one otherwise.
	certs := newCertSource(stderr)
	if len(socks.TLS) > 0 || len(socks.HTTPS) > 0 || len(socks.QUIC) > 0 {
		o, err := certs.prepare(cfg.TLSCert, cfg.TLSKey, cfg.Listen)
		if err != nil {
			return err
		}
		certs.commit(o)
	}
	// The listeners in service, once serving: DDR describes them.
	var lset atomic.Pointer[listenerSet]
	designated := func() []*dns.SVCB {
		if s := lset.Load(); s != nil {
			return designatedResolvers(s.bound(), certs.leaf())
		}
		return designatedResolvers(socks.Bound, certs.leaf())
	}
	m := metrics.New(metrics.Options{Version: version, Listeners: connListeners})
	if w := hintsWarning(cfg); w != "" && cfg.Ops.LogLevel >= logWarn {
		fmt.Fprintln(stderr, w)
	}
	health := newUpstreamHealth(nil)
	guards, err := newGuards(cfg)
	if err != nil {
		return err
	}
	ops := &opsRuntime{
		version: version, started: time.Now(), stderr: stderr, m: m, load: cfg.Ops.load,
		cookies: guards.cookies, cookieRandom: guards.random, rate: guards.clients,
		newResolver: func(cfg serveConfig, ntas []dnssec.NTA, c *cache.Cache) (*resolver.Resolver, []io.Closer, error) {
			fwdZones, closers, err := forwarding(cfg, stderr)
			if err != nil {
				closeAll(closers)
				return nil, nil, err
			}
			for i := range fwdZones {
				fwdZones[i].Forwarder = &countingForwarder{fw: fwdZones[i].Forwarder, m: m, h: health}
			}
			rc := resolverConfig(cfg, ntas, c, designated(), fwdZones, trustState{floor, taState}, stderr)
			rc.Exchanger = &countingExchanger{ex: &resolver.NetExchanger{}, m: m, h: health}
			r, err := resolver.New(rc)
			if err != nil {
				closeAll(closers)
				return nil, nil, err
			}
			taState.attach(r)
			return r, closers, nil
		},
	}
	if ops.load == nil {
		// hush serve built without its command (tests): a reload
		// re-applies the same settings and re-reads their files.
		ops.load = func() (serveConfig, error) { return cfg, nil }
	}
	if err := ops.start(cfg); err != nil {
		return err
	}
	defer ops.close()
	ops.designated = designated
	certs.OnLeaf(func(*x509.Certificate) { ops.live.stage().res.SetDesignated(designated()) })
	healthCtx, stopHealth := context.WithCancel(ctx)
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		health.watch(healthCtx, func(line string) { ops.logf(logWarn, "%s", line) })
	}()
	defer func() { stopHealth(); <-healthDone }()
	reclaimDone := make(chan struct{})
	go func() {
		defer close(reclaimDone)
		reclaimAfterBursts(healthCtx, func(format string, args ...any) { ops.logf(logDebug, format, args...) }, os.Getenv("GOGC") == "")
	}()
	defer func() { stopHealth(); <-reclaimDone }()
	stopHUP := onHangup(ctx, certs, func() { _ = ops.Reload(ctx) })
	defer stopHUP()
	hooks := serveHooks{
		handler: func(t metrics.Transport) transport.Handler { return &observed{live: ops.live, m: m, t: t} },
		events:  func(t metrics.Transport) transport.Events { return &listenerEvents{l: m.Listener(t.String()), m: m} },
		infof:   func(format string, args ...any) { ops.logf(logInfo, format, args...) },
		listeners: func(s *listenerSet) {
			lset.Store(s)
			ops.setListeners(s)
		},
	}
	stopOps, err := startOps(ctx, cfg, ops, socks, &hooks, stderr)
	if err != nil {
		return err
	}
	defer stopOps()
	defer watchNetwork(ctx, ops.live.stage, stderr)()
	tc := transport.Config{
		AllowClients:      cfg.AllowClient,
		QueryTimeout:      cfg.Timeout,
		MaxConns:          cfg.MaxConns,
		MaxConnsPerClient: cfg.MaxConnsPerClient,
		Cookies:           guards.cookies,
		RateLimit:         guards.clients,
		Chaos:             cfg.Ops.chaos(),
		NSID:              []byte(cfg.Ops.NSID),
	}
	return serveSockets(ctx, socks, tc, certs, hooks, stderr)
}

// resolverConfig is the resolver.Config of cfg, with extra negative trust
// anchors, over the cache c.
func resolverConfig(cfg serveConfig, ntas []dnssec.NTA, c *cache.Cache, designated []*dns.SVCB, fwdZones []resolver.ForwardZone, ta trustState, stderr io.Writer) resolver.Config {
	hints := cfg.hints
	if hints == nil {
		hints = resolver.DefaultRootHints()
	}
	anchors := cfg.anchors
	if cfg.DNSSEC && anchors == nil && privateRoot(hints) {
		// The built-in keys are the internet root's; a root on loopback or
		// private addresses is a lab's or a private network's own, which
		// they cannot validate. Without its anchor there is nothing to
		// validate from (an attacker cannot move the user's root hints).
		anchors = dnssec.NewAnchors()
		fmt.Fprintln(stderr, "hush: the root hints name only private or loopback servers and no --trust-anchor was given: answers are not validated")
	}
	if ta.state != nil {
		anchors = ta.state.anchors()
	}
	return resolver.Config{
		No0x20:              !cfg.DNS0x20,
		NoUpstreamCookies:   !cfg.UpstreamCookies,
		ZoneRateLimit:       zoneLimiter(cfg),
		NoPrefetch:          !cfg.Prefetch,
		NoServeStale:        !cfg.ServeStale,
		StaleClientTimeout:  cfg.StaleClientTimeout,
		RootHints:           hints,
		ForwardZones:        fwdZones,
		StubZones:           cfg.StubZones,
		PrivateAddresses:    cfg.PrivateAddresses,
		PrivateDomains:      cfg.PrivateDomains,
		DNS64Prefix:         cfg.DNS64,
		AllowUpstream:       cfg.AllowUpstream,
		UpstreamPort:        cfg.UpstreamPort,
		NoQNameMinimisation: !cfg.QNameMin,
		DNSSEC:              cfg.DNSSEC,
		TrustAnchors:        anchors,
		NegativeAnchors:     append(slices.Clone(cfg.InsecureDomains), ntas...),
		DNSSECPolicy:        dnssec.Policy{DisableSHA1: cfg.NoSHA1},
		OnAnchorKeys:        ta.state.observer(),
		ClockNotBefore:      ta.floor,
		Limits:              resolver.Limits{Timeout: cfg.Timeout},
		Cache:               c,
		SideCaches:          sideCaches(cfg.CacheBytes, cfg.CacheSize),
		Designated:          designated,
	}
}

// trustState is what every resolver of a run shares about time and the
// root's trust anchor: the clock's floor and the RFC 5011 state (nil
// without --trust-anchor-state).
type trustState struct {
	floor time.Time
	state *anchorState
}

// openTrustAnchorState opens --trust-anchor-state, if set, and returns the
// clock's floor (raised to the state's last update).
func openTrustAnchorState(cfg serveConfig, stderr io.Writer) (time.Time, *anchorState, error) {
	floor := clockFloor()
	hints := cfg.hints
	if hints == nil {
		hints = resolver.DefaultRootHints()
	}
	anchors := cfg.anchors
	if cfg.DNSSEC && anchors == nil && privateRoot(hints) {
		anchors = dnssec.NewAnchors()
	}
	if anchors == nil {
		anchors = dnssec.RootAnchors()
	}
	switch {
	case !cfg.DNSSEC || cfg.TrustAnchorState == "":
		return floor, nil, nil
	case anchors.Lookup(".") == nil:
		fmt.Fprintln(stderr, "hush: no root trust anchor: --trust-anchor-state has nothing to track")
		return floor, nil, nil
	}
	taState, err := openAnchorState(cfg.TrustAnchorState, anchors, stderr)
	if err != nil {
		return floor, nil, err
	}
	// A root key set was validated then: the clock cannot be earlier.
	if lu := taState.tracker.LastUpdate(); lu.After(floor) {
		floor = lu
	}
	return floor, taState, nil
}

// onHangup makes SIGHUP reload: the certificate files (when there are
// some) and the configuration, the reload that service managers
// (systemctl reload, OpenWRT's procd) ask for. SIGHUP's default action
// would end the process; here it never does. The returned function stops
// listening for it.
func onHangup(ctx context.Context, certs *certSource, reload func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-quit:
				return
			case <-hup:
				if certs != nil {
					certs.Reload()
				}
				reload()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(hup)
			close(quit)
			<-done
		})
	}
}

// shutdowner is what every transport server offers for a graceful stop.
type shutdowner interface {
	Shutdown(ctx context.Context) error
}

// serveSockets runs the transports on socks until ctx ends, then shuts
// them down, letting in-flight queries finish. certs gives the tls://,
// https:// and quic:// listeners their certificate (nil when there may be
// none); each server clones its configuration and adds its own ALPN.
func serveSockets(ctx context.Context, socks *sockets, tc transport.Config, certs *certSource, hooks serveHooks, stderr io.Writer) error {
	infof := hooks.infof
	if infof == nil {
		infof = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	with := func(t metrics.Transport) transport.Config {
		c := tc
		c.Handler = hooks.handler(t)
		if hooks.events != nil {
			c.Events = hooks.events(t)
		}
		return c
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1) // the first error is enough
	run := func(serve func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(); err != nil && !errors.Is(err, transport.ErrServerClosed) {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
	ls := &listenerSet{ctx: ctx, run: run, with: with, infof: infof, certs: certs, byURL: make(map[listenURL]*listener),
		live: serverSettings{
			acl:      tc.AllowClients,
			maxConns: tc.MaxConns, perClient: tc.MaxConnsPerClient,
			rateLimit: tc.RateLimit,
			chaos:     tc.Chaos, nsid: tc.NSID,
		}}
	split := socks.split()
	for _, us := range split {
		if us.url.Scheme != "dns" && certs == nil {
			return fmt.Errorf("listen %s: %w", us.url, errNoCertificates)
		}
	}
	for _, us := range split {
		ls.start(us)
	}
	if hooks.listeners != nil {
		hooks.listeners(ls)
	}
	if hooks.ready != nil {
		hooks.ready(true)
	}
	notifyReady(stderr)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	if hooks.ready != nil {
		hooks.ready(false)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	errs := ls.shutdown(sctx)
	wg.Wait()
	if runErr != nil {
		return fmt.Errorf("serve: %w", runErr)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// privateRoot reports whether every root server address in hints is
// outside public address space.
func privateRoot(hints []dns.RR) bool {
	found := false
	for _, rr := range hints {
		switch rr.(type) {
		case *dns.A, *dns.AAAA:
		default:
			continue
		}
		if a, ok := hintAddr(rr); !ok || resolver.IsPublic(a) {
			return false
		}
		found = true
	}
	return found
}
