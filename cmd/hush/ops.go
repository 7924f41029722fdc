package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/hush-dns/hush/cookie"
	"io"
	"net"
	"net/netip"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/control"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/filter"
	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// opsRuntime is what a reload, hush ctl and the health check share: the
// configuration in force, the live stage and the cache that outlives
// stages.
type opsRuntime struct {
	version string
	started time.Time
	stderr  io.Writer
	m       *metrics.Metrics
	live    *liveHandler
	// load re-reads the config file (if any) and re-applies the flags.
	load func() (serveConfig, error)
	// cookies holds the UDP listeners' server cookie maker, which a
	// reload replaces (rotation without a restart, on and off); random is
	// its secret when the settings name none.
	cookies      *cookie.Keeper
	cookieRandom cookie.Secret
	// newResolver builds a resolver for cfg with extra negative trust
	// anchors over the cache c.
	// The closers are the forwarders' connection pools, closed when the
	// resolver is retired.
	newResolver func(cfg serveConfig, ntas []dnssec.NTA, c *cache.Cache) (*resolver.Resolver, []io.Closer, error)

	// level is cfg.Ops.LogLevel, readable without mu.
	level atomic.Int32

	// mu serialises reloads and NTA changes, and guards cfg, cache and
	// ntas.
	mu    sync.Mutex
	cfg   serveConfig
	cache *cache.Cache
	ntas  []dnssec.NTA // added by hush ctl nta add
	// portal is the open captive-portal window (portal.go), or nil.
	portal *portalWindow
	ls     *listenerSet // the listeners, once serving
	// endpoints are the control socket and the metrics listener.
	endpoints *opsEndpoints
	rate      *ratelimit.Clients // the UDP rate limiter in force; nil: off
	// designated returns the DDR records of the listeners in service.
	designated func() []*dns.SVCB
}

// setListeners receives the listeners, and gives them the settings in
// force, which a reload may have changed while they were made.
func (o *opsRuntime) setListeners(ls *listenerSet) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ls = ls
	ls.set(settingsOf(&o.cfg, o.rate))
}

// newCache makes the cache cfg asks for.
func newCache(cfg serveConfig) *cache.Cache {
	staleFor := cfg.StaleMaxAge
	if !cfg.ServeStale {
		staleFor = 0
	}
	return cache.New(cache.Config{MaxBytes: cfg.CacheBytes, MaxEntries: cfg.CacheSize, MinTTL: cfg.MinTTL, MaxTTL: cfg.MaxTTL, StaleFor: staleFor})
}

// buildPolicy reads the policy's files; nil when cfg has none.
func buildPolicy(cfg serveConfig) (*filter.Policy, error) {
	return filter.Load(cfg.Ops.filterConfig())
}

// start builds the first stage.
func (o *opsRuntime) start(cfg serveConfig) error {
	o.cfg, o.cache = cfg, newCache(cfg)
	o.level.Store(int32(cfg.Ops.LogLevel))
	policy, err := buildPolicy(cfg)
	if err != nil {
		return err
	}
	res, closers, err := o.newResolver(cfg, nil, o.cache)
	if err != nil {
		return err
	}
	o.live = newLiveHandler(&stage{policy: policy, res: res, closers: closers})
	if n := policy.Stats(); n.Names > 0 {
		o.logf(logInfo, "hush: policy: %d names, %d local records, %d lines skipped, %d KiB", n.Names, n.Records, n.Skipped, n.Bytes>>10)
		releaseBuildMemory(n)
	}
	return nil
}

// releaseBuildMemory returns to the system what building a large policy
// used and dropped (the builder's doubling arrays, and on a reload the
// previous policy), so that a router's resident memory is the policy's
// size and not three times it. A forced GC costs tens of milliseconds,
// once per load.
func releaseBuildMemory(n filter.Stats) {
	if n.Bytes >= 1<<20 {
		debug.FreeOSMemory()
	}
}

func (o *opsRuntime) logf(l logLevel, format string, args ...any) {
	if int32(l) <= o.level.Load() {
		fmt.Fprintf(o.stderr, format+"\n", args...)
	}
}

// retire closes what the replaced stage s holds open (forwarders'
// connection pools) once the queries that started on it are done: after
// the longest a query may take, and a margin.
func (o *opsRuntime) retire(s *stage, timeout time.Duration) {
	if s == nil || len(s.closers) == 0 {
		return
	}
	time.AfterFunc(timeout+shutdownGrace, func() { closeAll(s.closers) })
}

// close closes what the current stage holds open, when hush stops.
func (o *opsRuntime) close() {
	o.mu.Lock()
	if o.portal != nil {
		o.portal.timer.Stop()
		o.portal = nil
	}
	o.mu.Unlock()
	if o.live != nil {
		closeAll(o.live.stage().closers)
	}
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}

// reloadEffect is what a changed setting needs.
type reloadEffect int

const (
	applied      reloadEffect = iota // the new stage has it
	newCacheNeed                     // a new, empty cache
	flushNeed                        // cached validation results are wrong
	restartNeed                      // kept as they are until a restart
	listenNeed                       // listeners or their certificate
)

// reloadKeys are the settings a reload compares, with what a change of
// each needs. Settings not listed are applied by rebuilding the stage,
// which every reload does.
var reloadKeys = []struct {
	key    string
	get    func(c *serveConfig) any
	effect reloadEffect
}{
	{"listen", func(c *serveConfig) any { return c.Listen }, listenNeed},
	{"allow-client", func(c *serveConfig) any { return c.AllowClient }, applied},
	{"max-connections", func(c *serveConfig) any { return c.MaxConns }, applied},
	{"max-connections-per-client", func(c *serveConfig) any { return c.MaxConnsPerClient }, applied},
	{"tls-cert", func(c *serveConfig) any { return c.TLSCert }, listenNeed},
	{"tls-key", func(c *serveConfig) any { return c.TLSKey }, listenNeed},
	{"metrics-listen", func(c *serveConfig) any { return c.Ops.MetricsListen }, applied},
	{"control-socket", func(c *serveConfig) any { return c.Ops.ControlSocket }, applied},
	{"identity", func(c *serveConfig) any { return c.Ops.Identity }, applied},
	{"version-string", func(c *serveConfig) any { return c.Ops.Version }, applied},
	{"nsid", func(c *serveConfig) any { return c.Ops.NSID }, applied},
	{"cache-size", func(c *serveConfig) any { return [2]int64{int64(c.CacheSize), c.CacheBytes} }, newCacheNeed},
	{"min-ttl", func(c *serveConfig) any { return c.MinTTL }, newCacheNeed},
	{"max-ttl", func(c *serveConfig) any { return c.MaxTTL }, newCacheNeed},
	{"dnssec", func(c *serveConfig) any { return c.DNSSEC }, flushNeed},
	{"trust-anchor", func(c *serveConfig) any { return c.TrustAnchor }, flushNeed},
	{"trust-anchor-state", func(c *serveConfig) any { return c.TrustAnchorState }, restartNeed},
	{"dnssec-sha1", func(c *serveConfig) any { return c.NoSHA1 }, flushNeed},
	{"insecure-domain", func(c *serveConfig) any { return c.InsecureDomains }, flushNeed},
	{"root-hints", func(c *serveConfig) any { return c.hints }, applied},
	{"forward", func(c *serveConfig) any { return c.Forward }, applied},
	{"forward-ca", func(c *serveConfig) any { return c.ForwardCA }, applied},
	{"forward-zone", func(c *serveConfig) any { return c.ForwardZones }, applied},
	{"stub-zone", func(c *serveConfig) any { return c.StubZones }, applied},
	{"forward-policy", func(c *serveConfig) any { return c.ForwardPolicy }, applied},
	{"private-address", func(c *serveConfig) any { return c.PrivateAddresses }, applied},
	{"private-domain", func(c *serveConfig) any { return c.PrivateDomains }, applied},
	{"dns64", func(c *serveConfig) any { return c.DNS64 }, flushNeed},
	{"allow-upstream", func(c *serveConfig) any { return c.AllowUpstream }, applied},
	{"upstream-port", func(c *serveConfig) any { return c.UpstreamPort }, applied},
	{"qname-minimisation", func(c *serveConfig) any { return c.QNameMin }, applied},
	{"timeout", func(c *serveConfig) any { return c.Timeout }, applied},
	{"blocklist", func(c *serveConfig) any { return c.Ops.Blocklists }, applied},
	{"rpz", func(c *serveConfig) any { return c.Ops.RPZ }, applied},
	{"hosts", func(c *serveConfig) any { return c.Ops.Hosts }, applied},
	{"local-data", func(c *serveConfig) any { return c.Ops.LocalData }, applied},
	{"block-answer", func(c *serveConfig) any { return c.Ops.BlockMode }, applied},
	{"block-ede", func(c *serveConfig) any { return c.Ops.BlockEDE }, applied},
	{"log-level", func(c *serveConfig) any { return c.Ops.LogLevel }, applied},
	{"cookie-secret", func(c *serveConfig) any { return c.cookieSecrets }, applied},
	{"server-cookies", func(c *serveConfig) any { return c.ServerCookies }, applied},
	{"rate-limit", func(c *serveConfig) any { return clientRate(c) }, applied},
	{"zone-rate-limit", func(c *serveConfig) any { return c.ZoneRateLimit }, applied},
	{"upstream-cookies", func(c *serveConfig) any { return c.UpstreamCookies }, applied},
	{"dns0x20", func(c *serveConfig) any { return c.DNS0x20 }, applied},
	{"prefetch", func(c *serveConfig) any { return c.Prefetch }, applied},
	{"serve-stale", func(c *serveConfig) any { return c.ServeStale }, newCacheNeed},
	{"serve-stale-max-age", func(c *serveConfig) any { return c.StaleMaxAge }, newCacheNeed},
	{"serve-stale-client-timeout", func(c *serveConfig) any { return c.StaleClientTimeout }, applied},
}

// errReload prefixes every reload failure: the running configuration
// stays.
var errReload = errors.New("reload failed, still running the previous configuration")

// Reload re-reads the configuration and applies it: a new stage (policy
// files re-read, a resolver with the new upstreams, anchors and limits)
// swapped in over the same cache, unless cache settings changed (a new,
// empty cache) or validation settings did (the cache is flushed).
// Listeners added are opened and served, listeners removed stop
// accepting and finish the queries in flight. The settings a reload
// cannot change are kept until a restart, and the one line it prints
// says so. A configuration that does not load or build leaves everything
// as it was; the error says why in one line.
func (o *opsRuntime) Reload(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.reloadLocked(ctx)
	o.m.Reload(err == nil)
	if err != nil {
		err = fmt.Errorf("%w: %s", errReload, oneLine(err.Error()))
		o.logf(logError, "hush: %v", err)
	}
	return err
}

func (o *opsRuntime) reloadLocked(ctx context.Context) error {
	start := time.Now()
	next, err := o.load()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var changed, restart []string
	newCacheNeeded, flush, relisten := false, false, false
	for _, k := range reloadKeys {
		if reflect.DeepEqual(k.get(&o.cfg), k.get(&next)) {
			continue
		}
		switch k.effect {
		case restartNeed:
			restart = append(restart, k.key)
			continue
		case newCacheNeed:
			newCacheNeeded = true
		case flushNeed:
			flush = true
		case listenNeed:
			relisten = true
		}
		changed = append(changed, k.key)
	}
	keepListenerSettings(&next, &o.cfg)
	c := o.cache
	if newCacheNeeded {
		c = newCache(next)
	}
	policy, err := buildPolicy(next)
	if err != nil {
		return err
	}
	rate := o.rate
	if clientRate(&next) != clientRate(&o.cfg) {
		// A new rate: a new limiter, which starts with no client over
		// it.
		if rate, err = clientLimiter(next); err != nil {
			return err
		}
	}
	res, closers, err := o.build(next, o.ntas, c)
	if err != nil {
		return err
	}
	// The sockets last: nothing can fail after them.
	lc, err := o.applySocketsLocked(ctx, &next, relisten)
	if err != nil {
		closeAll(closers)
		return err
	}
	if o.designated != nil {
		res.SetDesignated(o.designated())
	}
	o.retire(o.live.swap(&stage{policy: policy, res: res, closers: closers}), o.cfg.Timeout)
	if flush && !newCacheNeeded {
		res.FlushAll()
		o.mainCacheToo(func(c *cache.Cache) { c.Purge() })
	}
	releaseBuildMemory(policy.Stats())
	// The secret file re-read: the first secret makes cookies from now
	// on, and the others are still accepted.
	o.cookies.Set(cookieServer(next, o.cookieRandom))
	if next.CacheBytes != o.cfg.CacheBytes {
		// The memory limit follows the cache's size (memlimit.go).
		setMemoryLimit(next.CacheBytes)
	}
	o.cfg, o.cache, o.rate = next, c, rate
	o.level.Store(int32(next.Ops.LogLevel))
	if o.ls != nil {
		o.ls.set(settingsOf(&next, rate))
	}
	o.logf(logInfo, "%s", reloadReport{
		file: next.Ops.file, changed: changed, restart: restart,
		newCache: newCacheNeeded, flush: flush, listen: lc,
		names: policy.Stats().Names, took: time.Since(start),
	})
	return nil
}

// applySocketsLocked opens the control socket, metrics listener and
// listeners next asks for and the running ones lack, and closes those it
// no longer wants (relisten: the listeners or their certificate
// changed). A port that cannot be opened or a certificate that does not
// load fails it with nothing changed. o.mu is held.
func (o *opsRuntime) applySocketsLocked(ctx context.Context, next *serveConfig, relisten bool) (listenChange, error) {
	var lc listenChange
	var ends *endpointChange
	if o.endpoints != nil {
		var err error
		if ends, err = o.endpoints.prepare(ctx, next); err != nil {
			return lc, err
		}
	}
	switch {
	case relisten && o.ls == nil:
		// Not serving yet: the listeners will be the start's.
		next.Listen, next.TLSCert, next.TLSKey = o.cfg.Listen, o.cfg.TLSCert, o.cfg.TLSKey
	case relisten:
		var err error
		if lc, err = o.ls.apply(next.Listen, next.TLSCert, next.TLSKey); err != nil {
			if ends != nil {
				ends.abort()
			}
			return lc, err
		}
	}
	if ends != nil {
		ends.commit()
	}
	return lc, nil
}

// reloadReport is what a reload did, as the one line it prints says it.
// Scripts read the line: it starts "hush: reloaded".
type reloadReport struct {
	file             string
	changed, restart []string
	newCache, flush  bool
	listen           listenChange
	names            int
	took             time.Duration
}

func (r reloadReport) String() string {
	var sb strings.Builder
	sb.WriteString("hush: reloaded")
	if r.file != "" {
		fmt.Fprintf(&sb, " %s", r.file)
	}
	if len(r.changed) == 0 {
		sb.WriteString(": no setting changed, files re-read")
	} else {
		fmt.Fprintf(&sb, ": %s changed", strings.Join(r.changed, ", "))
	}
	switch {
	case r.newCache:
		sb.WriteString("; new empty cache")
	case r.flush:
		sb.WriteString("; cache flushed (validation settings changed)")
	default:
		sb.WriteString("; cache kept")
	}
	if len(r.listen.added) > 0 {
		fmt.Fprintf(&sb, "; serving %s", strings.Join(r.listen.added, ", "))
	}
	if len(r.listen.removed) > 0 {
		fmt.Fprintf(&sb, "; stopped %s", strings.Join(r.listen.removed, ", "))
	}
	if len(r.restart) > 0 {
		fmt.Fprintf(&sb, "; %s changed but take effect at restart", strings.Join(r.restart, ", "))
	}
	if r.names > 0 {
		fmt.Fprintf(&sb, "; policy: %d names", r.names)
	}
	fmt.Fprintf(&sb, " (%v)", r.took.Round(time.Millisecond))
	return sb.String()
}

// keepListenerSettings copies into next the settings a reload does not
// change (the trust anchor state), so that the configuration in force
// describes what runs.
func keepListenerSettings(next, cur *serveConfig) {
	next.TrustAnchorState = cur.TrustAnchorState
}

// The control.Backend methods.

var _ control.Backend = (*opsRuntime)(nil)

func (o *opsRuntime) Status(context.Context) (control.Status, error) {
	o.mu.Lock()
	file, c, portal := o.cfg.Ops.file, o.cache, o.portalUntil()
	o.mu.Unlock()
	t := o.m.Totals()
	return control.Status{
		Version:      o.version,
		Uptime:       time.Since(o.started),
		ConfigFile:   file,
		CacheEntries: c.Len(),
		CacheBytes:   c.Bytes(),
		Counters: []control.Counter{
			{Name: "queries", Value: t.Queries},
			{Name: "cache-hits", Value: t.CacheHits},
			{Name: "cache-misses", Value: t.CacheMisses},
			{Name: "servfail", Value: t.Servfail},
			{Name: "blocked", Value: t.Blocked},
			{Name: "local-data", Value: t.LocalData},
			{Name: "upstream-queries", Value: t.UpstreamQueries},
			{Name: "upstream-timeouts", Value: t.UpstreamTimeouts},
			{Name: "stale-answers", Value: t.Stale},
			{Name: "policy-names", Value: uint64(o.live.stage().policy.Stats().Names)},
		},
		PortalUntil: portal,
	}, nil
}

func (o *opsRuntime) Flush(_ context.Context, name string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.live.stage().res.FlushName(name)
	o.mainCacheToo(func(c *cache.Cache) { c.FlushName(dns.CanonicalName(name)) })
	return nil
}

func (o *opsRuntime) FlushZone(_ context.Context, zone string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushZoneLocked(zone)
	return nil
}

func (o *opsRuntime) FlushAll(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.live.stage().res.FlushAll()
	o.mainCacheToo(func(c *cache.Cache) { c.Purge() })
	return nil
}

// flushZoneLocked drops what is cached at or below zone, from the main
// cache too during a captive-portal window.
func (o *opsRuntime) flushZoneLocked(zone string) {
	o.live.stage().res.FlushZone(zone)
	o.mainCacheToo(func(c *cache.Cache) {
		if z := dns.CanonicalName(zone); z == "." {
			c.Purge()
		} else {
			c.FlushZone(z)
		}
	})
}

func (o *opsRuntime) FlushInfra(context.Context) error {
	o.live.stage().res.FlushInfra()
	return nil
}

// NTAAdd adds or extends a negative trust anchor: a new resolver with it
// over the same cache and policy, then what is cached under the name
// (Bogus answers, most likely) is dropped.
func (o *opsRuntime) NTAAdd(_ context.Context, name string, until time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	ntas := slices.DeleteFunc(slices.Clone(o.ntas), func(n dnssec.NTA) bool { return n.Name == name })
	ntas = append(ntas, dnssec.NTA{Name: name, Expires: until})
	if err := o.replaceResolverLocked(ntas); err != nil {
		return err
	}
	o.flushZoneLocked(name)
	return nil
}

// NTARemove removes a negative trust anchor hush ctl added; those of the
// configuration are removed there (and by a reload).
func (o *opsRuntime) NTARemove(_ context.Context, name string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := slices.IndexFunc(o.ntas, func(n dnssec.NTA) bool { return n.Name == name })
	if i < 0 {
		if slices.ContainsFunc(o.cfg.InsecureDomains, func(n dnssec.NTA) bool { return n.Name == name }) {
			return fmt.Errorf("%s is an insecure-domain of the configuration: remove it there and reload", name)
		}
		return fmt.Errorf("no negative trust anchor %s", name)
	}
	ntas := slices.Delete(slices.Clone(o.ntas), i, i+1)
	if err := o.replaceResolverLocked(ntas); err != nil {
		return err
	}
	o.flushZoneLocked(name)
	return nil
}

func (o *opsRuntime) replaceResolverLocked(ntas []dnssec.NTA) error {
	res, closers, err := o.build(o.cfg, ntas, o.cache)
	if err != nil {
		return err
	}
	o.retire(o.live.swap(&stage{policy: o.live.stage().policy, res: res, closers: closers}), o.cfg.Timeout)
	o.ntas = ntas
	return nil
}

// NTAList lists the negative trust anchors in force, the configuration's
// and hush ctl's; expired ones are left out.
func (o *opsRuntime) NTAList(context.Context) ([]control.NTA, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	var out []control.NTA
	for _, n := range append(slices.Clone(o.cfg.InsecureDomains), o.ntas...) {
		if !n.Expires.IsZero() && !now.Before(n.Expires) {
			continue
		}
		out = append(out, control.NTA{Name: n.Name, Until: n.Expires})
	}
	return out, nil
}

func (o *opsRuntime) CacheStats(context.Context) (control.CacheStats, error) {
	o.mu.Lock()
	c, capacity := o.cache, o.cfg.CacheBytes
	o.mu.Unlock()
	t := o.m.Totals()
	return control.CacheStats{Entries: c.Len(), Bytes: c.Bytes(), Capacity: capacity, Hits: t.CacheHits, Misses: t.CacheMisses}, nil
}

// probe is the health check's: the resolver answers localhost. A from
// its own data (no network needed), and the first dns:// listener, asked
// over UDP from loopback, answers at all (REFUSED from an ACL that
// leaves loopback out still proves the listener serves).
func (o *opsRuntime) probe(listener netip.AddrPort) metrics.ProbeFunc {
	return func(ctx context.Context) error {
		q := new(dns.Msg)
		q.SetQuestion("localhost.", dns.TypeA)
		r, err := o.live.stage().res.ServeDNS(ctx, q)
		if err != nil {
			return fmt.Errorf("probe: resolver: %w", err)
		}
		if r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("probe: resolver answered %s", dns.RcodeToString[r.Rcode])
		}
		if !listener.IsValid() {
			return nil
		}
		a := listener.Addr()
		if a.IsUnspecified() {
			a = netip.IPv6Loopback()
			if listener.Addr().Is4() {
				a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
			}
		}
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(a, listener.Port()).String())
		if err != nil {
			return fmt.Errorf("probe: listener: %w", err)
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		q.Id = dns.Id()
		if _, _, err := c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn}); err != nil {
			return fmt.Errorf("probe: listener: %w", err)
		}
		return nil
	}
}
