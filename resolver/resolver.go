// Package resolver is hush's iterative core: it answers a question by
// walking the DNS tree from the root servers, following referrals, CNAME and
// DNAME, with QNAME minimisation, server selection by RTT, coalescing of
// identical in-flight work, per-query budgets and a cache.
//
// It sends packets only through an Exchanger and never learns who asked: it
// imports no transport, no net/http and no logging package.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/clock"
	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Resolver answers questions by iteration from the root. It is safe for
// concurrent use.
type Resolver struct {
	cfg       Config
	lim       Limits
	ex        Exchanger
	cache     *cache.Cache
	servers   *servers
	port      uint16
	now       func() time.Time // the age clock (Config.AgeClock)
	wall      func() time.Time // the wall clock (Config.Now)
	exflights flights[exKey, *dns.Msg]
	qflights  flights[cache.Key, result]
	// keyflights shares the fetch of a zone's keys (sharedKeys).
	keyflights flights[string, keyFlight]

	// fwdPorts maps each forwarder to its port; nil when iterating.
	fwdPorts map[netip.Addr]uint16
	// prefetches holds a token per prefetch running (Config.NoPrefetch).
	prefetches chan struct{}
	// guard adds 0x20 and cookies to queries toward authorities; nil
	// when both are off or when forwarding.
	guard *upstreamGuard
	// routes are the forward and stub zones (fwdzones.go).
	routes zoneRoutes

	anchors atomic.Pointer[dnssec.Anchors] // see SetTrustAnchors
	// clockFloor is the latest inception of a root signature seen to
	// verify, in Unix seconds (0: none): see noteClock.
	clockFloor   atomic.Int64
	dnssecLimits dnssec.Limits
	// side are the bounds of sigs, keys and nsec (Config.SideCaches,
	// defaults filled in); set by newResolver, read-only after.
	side      SideCaches
	sigs      *dnssec.SigCache                  // signature checks that succeeded
	keys      *cache.Sharded[string, keyEntry]  // validated zone keys
	nsec      *cache.Sharded[string, *zoneNSEC] // validated NSEC, per zone (RFC 8198)
	nsecBound nsecBound                         // bytes nsec holds, and its bound
	nsecSwept atomic.Int64                      // when sweepNSEC last ran, Unix ns
	// glue keeps the addresses referrals gave for name server names (the
	// parent's side), apart from the cache, where the child's own answer
	// replaces them: the last resort when the child's addresses fail.
	glue *cache.Sharded[string, glueEntry]
	// delegs keeps, per zone, the NS names of the parent's delegation
	// (the parent's side), which the child's own NS set replaces in the
	// cache: the fallback when the child's set is unusable.
	delegs *cache.Sharded[string, delegEntry]
	// reasked notes, per zone, until when the parent is not asked again
	// for the delegation (see reaskParent).
	reasked *cache.Sharded[string, time.Time]
	// relaxed remembers zones whose servers drop minimised queries.
	relaxed *cache.Sharded[string, relaxEntry]

	// designated holds the DDR records (Config.Designated, or what
	// SetDesignated put there since).
	designated atomic.Pointer[[]*dns.SVCB]
}

// SetTrustAnchors replaces the trust anchors (Config.TrustAnchors) for
// the queries that start validating a zone from now on; keys already
// validated stay until their TTL ends. Safe for concurrent use.
func (r *Resolver) SetTrustAnchors(a *dnssec.Anchors) {
	if a == nil {
		a = dnssec.NewAnchors()
	}
	r.anchors.Store(a)
}

// SideCaches returns the bounds of the caches kept besides the answer
// cache (Config.SideCaches, with the defaults filled in).
func (r *Resolver) SideCaches() SideCaches { return r.side }

// SetDesignated replaces the DDR records (see Config.Designated), for
// instance after a certificate with other names was loaded. Safe for
// concurrent use with queries.
func (r *Resolver) SetDesignated(rrs []*dns.SVCB) {
	rrs = slices.Clone(rrs)
	r.designated.Store(&rrs)
}

// result is a resolution's answer with its cache metadata (DNSSEC status
// and EDE).
type result struct {
	msg  *dns.Msg
	meta cache.Meta
}

// New returns a Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	rootForwarded := slices.ContainsFunc(cfg.ForwardZones, func(f ForwardZone) bool { return dns.CanonicalName(dns.Fqdn(f.Zone)) == "." })
	if len(cfg.RootHints) == 0 && len(cfg.Forwarders) == 0 && !rootForwarded {
		return nil, fmt.Errorf("resolver: no root hints")
	}
	if cfg.NoIPv4 && cfg.NoIPv6 {
		return nil, fmt.Errorf("resolver: both IPv4 and IPv6 upstream turned off")
	}
	r := newResolver(cfg)
	if err := r.setRoutes(cfg); err != nil {
		return nil, err
	}
	if err := r.setPolicy(cfg); err != nil {
		return nil, err
	}
	if len(cfg.Forwarders) > 0 && rootForwarded {
		return nil, fmt.Errorf("resolver: both Forwarders and a forward zone for the root")
	}
	if rootForwarded {
		return r, nil
	}
	if len(cfg.Forwarders) > 0 {
		if err := r.setForwarders(cfg.Forwarders); err != nil {
			return nil, err
		}
		return r, nil
	}
	if !slices.ContainsFunc(r.rootCut(r.now()).addrs, r.familyOK) {
		return nil, fmt.Errorf("resolver: root hints have no usable addresses")
	}
	if !cfg.No0x20 || !cfg.NoUpstreamCookies {
		r.guard = &upstreamGuard{random: !cfg.No0x20}
		if !cfg.NoUpstreamCookies {
			r.guard.jar = cookie.NewJar(0)
		}
	}
	return r, nil
}

// newResolver fills in what every Resolver has, whatever its routes: the
// exchanger, cache, clocks, limits and the per-zone tables.
func newResolver(cfg Config) *Resolver {
	r := &Resolver{cfg: cfg, ex: cfg.Exchanger, cache: cfg.Cache, port: cfg.UpstreamPort, now: cfg.AgeClock, wall: cfg.Now}
	if r.ex == nil {
		r.ex = &NetExchanger{}
	}
	if r.cache == nil {
		staleFor := DefaultStaleMaxAge
		if cfg.NoServeStale {
			staleFor = 0
		}
		r.cache = cache.New(cache.Config{MaxEntries: DefaultCacheEntries, StaleFor: staleFor})
	}
	if r.port == 0 {
		r.port = 53
	}
	switch {
	case r.now != nil:
	case r.wall != nil:
		r.now = r.wall
	default:
		r.now = clock.Boot()
	}
	if r.wall == nil {
		r.wall = time.Now
	}
	r.lim = cfg.Limits.withDefaults()
	r.prefetches = make(chan struct{}, MaxPrefetches)
	r.servers = newServers()
	if cfg.TrustAnchors == nil {
		r.anchors.Store(dnssec.RootAnchors())
	} else {
		r.anchors.Store(cfg.TrustAnchors)
	}
	r.dnssecLimits = cfg.DNSSECLimits
	if r.dnssecLimits == (dnssec.Limits{}) {
		r.dnssecLimits = dnssec.DefaultLimits()
	}
	// A query's budget lives as long as the query, network waits
	// included, so its clock must be the query's own: a wall-clock cap
	// shorter than that would call slow networks bogus.
	r.dnssecLimits.MaxTime = max(r.dnssecLimits.MaxTime, r.lim.Timeout)
	r.side = cfg.SideCaches.withDefaults()
	r.sigs = dnssec.NewSigCache(r.side.SigEntries)
	r.keys = newKeyCache(r.side.KeyBytes)
	r.nsecBound.max = r.side.NSECBytes
	r.nsec = newNSECStore(&r.nsecBound)
	r.glue = cache.NewSharded[string, glueEntry](4096, 0, nil)
	r.delegs = cache.NewSharded[string, delegEntry](4096, 0, nil)
	r.reasked = cache.NewSharded[string, time.Time](1024, 0, nil)
	r.relaxed = cache.NewSharded[string, relaxEntry](1024, 0, nil)
	r.SetDesignated(cfg.Designated)
	return r
}

// setPolicy checks and keeps the answer policy: the DNS64 prefix and the
// private domains of rebinding protection, canonical.
func (r *Resolver) setPolicy(cfg Config) error {
	if p := cfg.DNS64Prefix; p.IsValid() && (p.Bits() != 96 || !p.Addr().Is6() || p.Addr().Is4In6()) {
		return fmt.Errorf("resolver: DNS64 prefix %s: want an IPv6 /96", p)
	}
	r.cfg.PrivateDomains = make([]string, len(cfg.PrivateDomains))
	for i, d := range cfg.PrivateDomains {
		z, err := canonicalZone(d)
		if err != nil {
			return fmt.Errorf("resolver: private domain: %w", err)
		}
		r.cfg.PrivateDomains[i] = z
	}
	return nil
}

// setForwarders keeps the plain forwarders (Config.Forwarders) by address.
func (r *Resolver) setForwarders(fwds []netip.AddrPort) error {
	r.fwdPorts = make(map[netip.Addr]uint16)
	for _, f := range fwds {
		a := f.Addr().Unmap()
		if !a.IsValid() || f.Port() == 0 {
			return fmt.Errorf("resolver: forwarder %s: want an address and a port", f)
		}
		if _, dup := r.fwdPorts[a]; dup {
			return fmt.Errorf("resolver: forwarder %s listed twice", a)
		}
		r.fwdPorts[a] = f.Port()
	}
	if !slices.ContainsFunc(r.forwardCut().addrs, r.familyOK) {
		return fmt.Errorf("resolver: no forwarder of a usable address family")
	}
	return nil
}

// ServeDNS answers a client's query (transport.Handler). The query has one
// question; the response carries rcode, answer and authority sections, and
// RA. Failures come back as *Error, which carries the Extended DNS Error.
func (r *Resolver) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if r.cfg.DNS64Prefix.IsValid() {
		return r.serve64(ctx, q)
	}
	return r.serveDNS(ctx, q)
}

// serveDNS is ServeDNS without DNS64.
func (r *Resolver) serveDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if len(q.Question) != 1 {
		return nil, &Error{EDE: EDEOther, Err: errors.New("resolver: want exactly one question")}
	}
	qq := q.Question[0]
	if m, ok := r.special(q, qq); ok {
		return m, nil
	}
	if m, ok := r.AnswerCached(q); ok {
		return m, nil
	}
	// A listener gives each query a deadline of its own, the same
	// timeout as a rule: a second one here would cost a context and a
	// timer per uncached query for nothing.
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > r.lim.Timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.lim.Timeout)
		defer cancel()
	}
	key := r.fullKey(qq.Name, qq.Qtype)
	resolve := func(ctx context.Context) (result, error) {
		res, _, err := r.qflights.do(ctx, key, func() (result, error) {
			// The work is shared with every client asking the same
			// question meanwhile: one client hanging up must not fail
			// the others, and a refresh outlives the stale answer.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.lim.Timeout)
			defer cancel()
			return r.resolveTopWith(wctx, cancel, newQState(&r.lim), key.Name, qq.Qtype)
		})
		return res, err
	}
	if m, ok := r.serveStale(ctx, q, resolve); ok {
		return m, nil
	}
	res, err := resolve(ctx)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.chain != nil && strings.EqualFold(e.chain.name, qq.Name) {
			return loopView(q, e), nil
		}
		return nil, clientError(ctx, err)
	}
	// The answer did not come from the cache: give it the TTLs the
	// cache gives it (MaxTTL, RFC 2181 §8), so that the first client
	// is told what every later one is.
	return r.clientView(q, r.cache.ClampMsg(qq.Qtype, res.msg, r.now()), res.meta)
}

// loopView is the SERVFAIL a client gets for a CNAME loop: the chain up
// to where it loops in the answer section (RFC 1034 §3.6.2 asks for the
// loop to be signalled as an error; Knot Resolver shows it so) and the
// EDE of e.
func loopView(q *dns.Msg, e *Error) *dns.Msg {
	out := new(dns.Msg)
	out.SetRcode(q, dns.RcodeServerFailure)
	out.RecursionAvailable = true
	out.Answer = e.chain.answer
	if opt := q.IsEdns0(); opt == nil || !opt.Do() {
		out.Answer = withoutDNSSEC(out.Answer, q.Question[0].Qtype)
	}
	code, text := e.ExtendedDNSError()
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: code, ExtraText: text}}
	out.Extra = []dns.RR{opt}
	return out
}

// resolveTopWith resolves a client question and caches the whole answer,
// CNAME chain included, under it, so that a repeat is one cache hit. The
// one entry serves clients without DO too: the cache leaves out the DNSSEC
// records for them (RFC 4035 §3.2.1).
//
// qs is the query's state (a prefetch's asks the authorities although the
// cache still has the answer), and cancel cancels ctx: the caller's own,
// so that no context is made per query for it. resolveTopWith calls it
// when the walk is done, so that what the query started beside its walk
// (parallel.go) ends with it.
func (r *Resolver) resolveTopWith(ctx context.Context, cancel context.CancelFunc, qs *qstate, name string, qtype uint16) (result, error) {
	qs.top = qkey{r.fullKey(name, qtype).Name, qtype}
	m, meta, err := r.resolve(ctx, qs, name, qtype)
	cancel()
	qs.join()
	wrongClock := r.noteClock(qs)
	if err != nil {
		return result{}, err
	}
	meta = qs.mark(meta)
	m = r.rebindFilter(m, &meta)
	meta.Partial = false
	if !wrongClock {
		// Judged by a clock found wrong meanwhile: not kept.
		r.storeMsg(r.fullKey(name, qtype), m, meta)
	}
	return result{m, meta}, nil
}

// fullKey is the cache key of a whole answer, DNSSEC records included
// when validating: what the iterator stores and clients with DO get.
func (r *Resolver) fullKey(name string, qtype uint16) cache.Key {
	return cache.NewKey(name, qtype, dns.ClassINET, r.cfg.DNSSEC, false)
}

// store caches m, a link of a resolution, keeping a Bogus answer only
// briefly.
//
// resolveTopWith's whole answer replaces a link stored under the same key. A
// link that ends in an alias it does not resolve (the next link is another
// lookup) is marked Partial, so that AnswerCached never gives a client the
// start of a chain as its answer (which it did for a CNAME loop, whose
// whole answer is never stored).
func (r *Resolver) store(key cache.Key, m *dns.Msg, meta cache.Meta) {
	meta.Partial = partial(m, key.Name, key.Type)
	r.storeMsg(key, m, meta)
}

// storeLink is store for a lookup of qs, except that a complete answer to
// the client's own question (qs.top) is left to resolveTopWith, which
// stores the whole answer under the same key once the lookup returns:
// storing it here too packed and cached every plain answer twice, the
// first copy garbage at once (SetMsg was 15 % of the CPU of a flood of
// uncached names, half of it this second store). A partial link is still
// stored: the chain's next lookup may fail, and a retry then starts from
// it.
func (r *Resolver) storeLink(qs *qstate, key cache.Key, m *dns.Msg, meta cache.Meta) {
	meta.Partial = partial(m, key.Name, key.Type)
	if !meta.Partial && qs.depth == 0 && qs.top == (qkey{key.Name, key.Type}) {
		return
	}
	r.storeMsg(key, m, meta)
}

// partial reports whether m, an answer for (name, qtype), ends in an
// alias to another name without data of qtype for it or an error: a link
// of a chain, not a whole answer. A chain that ends in NODATA inside m
// counts as partial too; resolveTopWith stores the whole answer over it.
func partial(m *dns.Msg, name string, qtype uint16) bool {
	if m.Rcode != dns.RcodeSuccess {
		return false
	}
	end, data := chainEnd(m.Answer, name, qtype)
	return !data && !strings.EqualFold(end, name)
}

// storeMsg caches m as it is, keeping a Bogus answer only briefly.
func (r *Resolver) storeMsg(key cache.Key, m *dns.Msg, meta cache.Meta) {
	if dnssec.Status(meta.Security) == dnssec.Bogus {
		m = clampTTL(m, bogusTTL)
	}
	r.cache.SetMsg(key, m, meta, r.now())
}

// clientError makes sure what reaches the transport carries an EDE.
func clientError(ctx context.Context, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if ctx.Err() != nil {
		return &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: %w", ErrNoReachable, err)}
	}
	return &Error{EDE: EDEOther, Err: err}
}

// AnswerCached answers q from the cache alone, without waiting; it reports
// false on a miss. Cached failures and Bogus answers are misses here, so
// that ServeDNS turns them into an error with an EDE.
//
// AppendCached is its wire form: a condition added here belongs there too.
func (r *Resolver) AnswerCached(q *dns.Msg) (*dns.Msg, bool) {
	if len(q.Question) != 1 {
		return nil, false
	}
	qq := q.Question[0]
	if qq.Qclass != dns.ClassINET {
		return nil, false
	}
	do := false
	if opt := q.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	key := cache.NewKey(qq.Name, qq.Qtype, qq.Qclass, do && r.cfg.DNSSEC, false)
	m, meta, ok := r.cache.GetMsg(key, r.now())
	if !ok || meta.Partial || m.Rcode == dns.RcodeServerFailure || !r.usable(meta) {
		return nil, false
	}
	if meta.Prefetch {
		r.prefetch(qq.Name, qq.Qtype)
	}
	out, err := r.clientView(q, m, meta)
	if err != nil || r.needs64(q, out) {
		// A DNS64 synthesis needs the A records: ServeDNS does it.
		return nil, false
	}
	if _, ok := r.ptr64(qq); ok && !validatingClient(q) {
		// Answered from in-addr.arpa by ServeDNS, not from the cache
		// of the ip6.arpa name.
		return nil, false
	}
	return out, true
}

// clientView shapes a result for the client that asked q (RFC 4035 §3.2,
// RFC 6840 §5.7–5.9): a Bogus answer is an error unless the client set CD;
// AD only for Secure answers to clients that sent DO or AD and not CD;
// trust anchor sentinels (RFC 8509) are applied; DNSSEC records
// only for clients that sent DO. m may be shared with other callers, so
// clientView copies what it changes and leaves the records alone.
func (r *Resolver) clientView(q, m *dns.Msg, meta cache.Meta) (*dns.Msg, error) {
	status := dnssec.Status(meta.Security)
	if status == dnssec.Bogus && !q.CheckingDisabled {
		code := meta.EDE
		if code == 0 {
			code = EDEDNSSECBogus
		}
		return nil, &Error{EDE: code, Err: fmt.Errorf("resolver: %w", dnssec.ErrBogus)}
	}
	if err := r.sentinel(q, status); err != nil {
		return nil, err
	}
	out := new(dns.Msg)
	*out = *m
	out.Id = q.Id
	out.Response = true
	out.RecursionAvailable = true
	out.Authoritative = false
	out.Question = q.Question
	do := false
	if opt := q.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	// With CD the client validates for itself and gets no AD from us,
	// as from Knot Resolver and Unbound.
	out.AuthenticatedData = status == dnssec.Secure && (do || q.AuthenticatedData) && !q.CheckingDisabled && !meta.Unchecked
	if ede := uncheckedEDE(meta); ede != nil || meta.EDE != 0 {
		// Information for the client, such as an unsupported algorithm
		// that made the answer Insecure; the transport keeps only this
		// option of the OPT record.
		if ede == nil {
			ede = &dns.EDNS0_EDE{InfoCode: meta.EDE, ExtraText: metaEDEText(meta.EDE)}
		}
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.Option = []dns.EDNS0{ede}
		out.Extra = append(append([]dns.RR(nil), m.Extra...), opt)
	}
	if !do {
		qtype := q.Question[0].Qtype
		out.Answer = withoutDNSSEC(m.Answer, qtype)
		out.Ns = withoutDNSSEC(m.Ns, qtype)
	}
	return out, nil
}

// withoutDNSSEC drops the records a client that did not set DO must not
// get (RFC 4035 §3.2.1), unless it asked for that type. It returns rrs
// itself when there is nothing to drop.
func withoutDNSSEC(rrs []dns.RR, qtype uint16) []dns.RR {
	drop := func(rr dns.RR) bool {
		t := rr.Header().Rrtype
		return t != qtype && (t == dns.TypeRRSIG || t == dns.TypeNSEC || t == dns.TypeNSEC3)
	}
	n := 0
	for _, rr := range rrs {
		if drop(rr) {
			n++
		}
	}
	if n == 0 {
		return rrs
	}
	out := make([]dns.RR, 0, len(rrs)-n)
	for _, rr := range rrs {
		if !drop(rr) {
			out = append(out, rr)
		}
	}
	return out
}

// reply shapes a locally made answer for the client: recursion available,
// not authoritative, no DNSSEC status.
func reply(q, m *dns.Msg) *dns.Msg {
	m.Id = q.Id
	m.Response = true
	m.RecursionAvailable = true
	m.Question = q.Question
	return m
}

// familyOK reports whether a may be queried given NoIPv4 and NoIPv6.
func (r *Resolver) familyOK(a netip.Addr) bool {
	if a.Unmap().Is4() {
		return !r.cfg.NoIPv4
	}
	return !r.cfg.NoIPv6
}
