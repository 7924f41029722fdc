package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// qstate is the budget and loop memory of one client query, as seen by
// one goroutine of it. A client query is resolved by one goroutine, its
// sub-resolutions (CNAME targets, most name server addresses) being plain
// nested calls, plus the few it runs beside itself (parallel.go): name
// server addresses of a glueless delegation, a zone's keys. Each of those
// has a fork of the qstate: its own call stack (depth, active), and the
// query's one set of budgets (shared), which is safe for concurrent use.
type qstate struct {
	shared *qshared
	depth  int           // nested sub-resolutions
	active map[qkey]bool // lookups on the current call stack
	lim    *Limits
	// unchecked: the query validated without signature times (the wall
	// clock was implausible when its budget was made) or used data so
	// validated. Everything it caches is marked so (cache.Meta.Unchecked).
	unchecked bool
	// refresh is the question a prefetch refreshes: lookup asks the
	// authorities for it rather than answer it from the cache.
	refresh qkey
	// leads says this call stack (or the one it was forked from) does a
	// key fetch for others to share (keyflights); leadLabels is the
	// fewest labels of the zones whose keys it fetches. It waits only
	// for fetches of zones with fewer labels still (see sharedKeys).
	leads      bool
	leadLabels int
	// top is the client's question when resolveTopWith made qs (zero
	// otherwise, and in forks): its whole answer is stored under it at the
	// end, so lookup does not store a complete first link there too
	// (storeLink).
	top qkey
}

type qkey struct {
	name  string // lowercased
	qtype uint16
}

func newQState(lim *Limits) *qstate {
	return &qstate{lim: lim, active: make(map[qkey]bool), shared: &qshared{}}
}

// lookup answers one name from the cache or by iterating from the closest
// known zone cut. The answer may end in a CNAME whose target lies outside
// the zone that answered; resolve follows it.
func (r *Resolver) lookup(ctx context.Context, qs *qstate, name string, qtype uint16) (*dns.Msg, cache.Meta, error) {
	now := r.now()
	key := r.fullKey(name, qtype)
	k := qkey{key.Name, qtype}
	refresh := qs.refresh == k
	if m, meta, ok := r.cache.GetMsg(key, now); ok && r.usable(meta) && !refresh {
		if meta.Prefetch {
			// Read on the way to another answer (a name server's
			// address, say): refreshed all the same.
			r.prefetch(name, qtype)
		}
		if m.Rcode == dns.RcodeServerFailure {
			return nil, meta, &Error{EDE: EDECachedError, Err: fmt.Errorf("%w: cached failure", ErrNoReachable)}
		}
		return m, qs.mark(meta), nil
	}
	if qs.active[k] {
		return nil, cache.Meta{}, &Error{EDE: EDEOther, Err: fmt.Errorf("%w: %s lookup needs itself", ErrLoop, dns.TypeToString[qtype])}
	}
	qs.active[k] = true
	defer delete(qs.active, k)

	if !refresh {
		if m, meta, ok := r.shortcut(qs, key, name, qtype, now); ok {
			return m, meta, nil
		}
	}
	res, err := r.iterate(ctx, qs, name, qtype)
	if err != nil {
		var e *Error
		// Remember that nobody could answer, briefly (RFC 2308 §7.1), so a
		// dead zone does not cost a full iteration per query. Budget and
		// cancellation errors say nothing about the zone.
		if errors.As(err, &e) && errors.Is(err, ErrNoReachable) && !errors.Is(err, ErrBudget) && ctx.Err() == nil {
			fail := new(dns.Msg)
			fail.SetQuestion(name, qtype)
			fail.Rcode = dns.RcodeServerFailure
			r.cache.SetMsg(key, fail, cache.Meta{}, now)
		}
		return nil, cache.Meta{}, err
	}
	res.meta = qs.mark(res.meta)
	res.msg = r.rebindFilter(res.msg, &res.meta)
	r.storeLink(qs, key, res.msg, res.meta)
	r.noteNXDomain(name, res)
	return res.msg, res.meta, nil
}

// shortcut answers (name, qtype) without asking anyone when what the
// resolver knows suffices: below a proven NXDOMAIN (RFC 8020), by
// aggressive NSEC synthesis (RFC 8198), or from cached secure or alias
// data.
//
// A name the operator routes to servers of their own (lan., or
// office.corp. below an absent corp.) is not answered from the public
// tree's proofs that it, or a name above it, does not exist: those are
// exactly what makes such a zone private.
func (r *Resolver) shortcut(qs *qstate, key cache.Key, name string, qtype uint16, now time.Time) (*dns.Msg, cache.Meta, bool) {
	if !r.privateRoute(name, qtype) {
		if m, meta, ok := r.belowNXDomain(name, qtype, now); ok {
			meta = qs.mark(meta)
			r.storeLink(qs, key, m, meta)
			return m, meta, true
		}
		if m, meta, ok := r.synthesise(name, qtype, now, r.budget(qs)); ok {
			meta = qs.mark(meta)
			r.storeLink(qs, key, m, meta)
			return m, meta, true
		}
	}
	if m, meta, ok := r.cachedSecure(name, qtype, now); ok {
		return m, qs.mark(meta), true
	}
	if m, meta, ok := r.cachedAlias(name, qtype, now); ok {
		return m, qs.mark(meta), true
	}
	return nil, cache.Meta{}, false
}

// nxName is the query type under which the cache remembers that a name
// does not exist at all, whatever the type asked (RFC 8020).
const nxName = dns.TypeNone

// noteNXDomain remembers a validated NXDOMAIN for name itself (not for
// the end of a CNAME chain), so that names below it need no query.
func (r *Resolver) noteNXDomain(name string, res result) {
	if res.msg.Rcode != dns.RcodeNameError || len(res.msg.Answer) > 0 ||
		dnssec.Status(res.meta.Security) != dnssec.Secure {
		return
	}
	m := new(dns.Msg)
	*m = *res.msg
	m.Question = []dns.Question{{Name: name, Qtype: nxName, Qclass: dns.ClassINET}}
	r.cache.SetMsg(r.fullKey(name, nxName), m, res.meta, r.now())
}

// belowNXDomain answers NXDOMAIN for a name below one that is known, by
// a validated NXDOMAIN, not to exist: RFC 8020 says nothing can exist
// below it. Only DNSSEC-proven NXDOMAINs count, as in Unbound's
// harden-below-nxdomain, since some servers answer NXDOMAIN for empty
// non-terminals.
func (r *Resolver) belowNXDomain(name string, qtype uint16, now time.Time) (*dns.Msg, cache.Meta, bool) {
	if !r.cfg.DNSSEC {
		return nil, cache.Meta{}, false
	}
	for anc := parent(dns.CanonicalName(name)); anc != "."; anc = parent(anc) {
		m, meta, ok := r.cache.GetMsg(r.fullKey(anc, nxName), now)
		if !ok || !r.usable(meta) || m.Rcode != dns.RcodeNameError || dnssec.Status(meta.Security) != dnssec.Secure {
			continue
		}
		out := new(dns.Msg)
		out.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
		out.Rcode = dns.RcodeNameError
		out.Ns = m.Ns
		return out, meta, true
	}
	return nil, cache.Meta{}, false
}

// iterate walks down from the closest known zone cut to name, with QNAME
// minimisation (RFC 9156) unless configured off. It forwards the whole
// question instead when forwarders are configured.
func (r *Resolver) iterate(ctx context.Context, qs *qstate, name string, qtype uint16) (result, error) {
	zone, how := r.route(name, qtype)
	switch how {
	case routeLegacy:
		return r.forward(ctx, qs, name, qtype)
	case routeForward:
		return r.forwardTo(ctx, qs, zone, r.routes.fwd[zone], name, qtype)
	}
	w := &walk{r: r, qs: qs, name: name, qtype: qtype, labels: dns.CountLabel(name),
		minimise: !r.cfg.NoQNameMinimisation}
	w.setCut(r.findCut(name, qtype), true)
	for {
		if err := ctx.Err(); err != nil {
			return result{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: %w", ErrBudget, err)}
		}
		sendName, sendType := w.question()
		resp, server, err := r.askZone(ctx, qs, w.cut, sendName, sendType)
		var res result
		var done bool
		if err != nil {
			res, done, err = w.onError(ctx, err, sendName != name || sendType != qtype)
		} else {
			res, done, err = w.onResponse(ctx, resp, server, sendName, sendType)
		}
		if done || err != nil {
			return res, err
		}
	}
}

// walk is the state of one descent from a zone cut towards a name, kept
// between the queries it sends (Unbound's iter_qstate). Its methods take
// one outcome of a query each and say whether the walk is done; if not,
// the walk asks again, at the cut and with the question they leave.
type walk struct {
	r      *Resolver
	qs     *qstate
	name   string
	qtype  uint16
	labels int // of name

	cut *zoneCut
	// cached says the cut came from the cache, not from a referral of
	// this walk.
	cached   bool
	minimise bool
	// relax is how far minimisation is relaxed for the current cut, and
	// for it only: a referral starts the next zone minimised again, so
	// that one zone whose servers mishandle minimised queries (or a
	// middlebox that drops NS queries) does not send full names up and
	// down the tree.
	relax int
	// sendLabels is how much of name the next minimised query carries;
	// steps counts the minimised queries sent below the cut.
	sendLabels, steps int
	referrals         int
	// brokenMin says a server of the cut answered a minimised question
	// with an error rcode.
	brokenMin bool
	// parentSide says the walk fell back on a parent's delegation
	// already (once per walk is enough: it is the same for every try).
	parentSide bool
	// bogus is the last answer that failed validation, kept while other
	// servers of the zone are asked instead.
	bogus *result
}

// setCut moves the walk to cut, minimised from its top again.
func (w *walk) setCut(cut *zoneCut, fromCache bool) {
	w.cut, w.cached, w.relax = cut, fromCache, w.r.relaxFor(cut.zone)
	w.brokenMin = false
	w.sendLabels, w.steps = nextLabels(0, dns.CountLabel(cut.zone), w.labels, 0), 0
}

// question is what to ask the cut's servers next: the name minimised to
// sendLabels, or the full question.
func (w *walk) question() (string, uint16) {
	if w.minimise && w.relax < relaxFull && w.sendLabels < w.labels {
		if w.relax == relaxTypeA {
			return suffix(w.name, w.sendLabels), dns.TypeA
		}
		return suffix(w.name, w.sendLabels), minimisedType
	}
	return w.name, w.qtype
}

// onError handles a query that no server of the cut answered.
func (w *walk) onError(ctx context.Context, err error, minimised bool) (result, bool, error) {
	if w.bogus != nil && !errors.Is(err, ErrBudget) && ctx.Err() == nil {
		// No other server gave anything better: the answer is
		// Bogus, not unreachable.
		return *w.bogus, true, nil
	}
	retryable := errors.Is(err, ErrNoReachable) && !errors.Is(err, ErrBudget) && ctx.Err() == nil
	if retryable && minimised {
		switch {
		case w.relax == relaxNone:
			// No server answered the minimised NS query: some drop
			// queries for types they do not expect. Ask minimised
			// with type A (Unbound's choice), which tells the
			// servers no more of the name, and remember it for the
			// zone, so that later questions neither wait out the
			// same timeouts nor, when the servers are simply dead,
			// pay for it again.
			w.relax = relaxTypeA
			w.r.noteRelax(w.cut.zone, w.relax)
			clear(w.cut.tried)
			return result{}, false, nil
		case w.relax == relaxTypeA && w.brokenMin && !topZone(w.cut.zone):
			// The servers answered the minimised question with an
			// error: RFC 9156 §2.3's broken servers. Send them the
			// full question, for this query only (a timeout proves
			// nothing of the kind, and the root and the TLDs are
			// never sent full names).
			w.relax = relaxFull
			clear(w.cut.tried)
			return result{}, false, nil
		}
	}
	if retryable && w.cached && w.cut.zone != "." && !w.parentSide {
		// The servers the cache knows for the zone (the child's own
		// NS set, which replaced the parent's delegation there) fail:
		// fall back on the parent's delegation, as remembered, for
		// this query and every other one, without asking the parent.
		if alt := w.r.parentSideCut(w.cut); alt != nil {
			w.parentSide = true
			w.setCut(alt, true)
			return result{}, false, nil
		}
	}
	if retryable && w.cached && w.cut.zone != "." && w.r.reaskParent(w.cut.zone) {
		// None of the servers the cache knows for the zone
		// answers: their addresses may have outlived their use
		// (iter_ns_badip) while the parent knows better. Ask
		// the parent again for the delegation, as Unbound
		// falls back on parent-side NS and glue; once per zone
		// per hold-down period, so that a dead zone does not
		// cost its parent a query per name.
		w.setCut(w.r.cutAtOrAbove(parent(w.cut.zone)), true)
		return result{}, false, nil
	}
	return result{}, true, err
}

// onResponse handles a scrubbed response from server to the question
// (sendName, sendType), minimised or not.
func (w *walk) onResponse(ctx context.Context, resp *dns.Msg, server netip.Addr, sendName string, sendType uint16) (result, bool, error) {
	minimised := sendName != w.name || sendType != w.qtype
	kind := classify(resp, w.cut.zone)
	if kind == kindLame && minimised && noCutHere(resp, w.cut.zone) {
		// No cut at the minimised name, said without AA or SOA:
		// nothing, or the zone's own NS set where a referral would
		// stand, as some servers answer for empty non-terminals.
		// Unbound takes the first for NODATA and the second for a
		// referral to the same zone; either way the walk goes on
		// with this cut, and the full question is judged strictly.
		kind = kindNoData
	}
	switch {
	case kind == kindReferral:
		return result{}, false, w.onReferral(ctx, resp, server)
	case minimised && kind == kindNXDomain && topZone(w.cut.zone):
		// The root or a TLD says the minimised name does not exist:
		// nor does anything below it (RFC 8020). Its denial answers
		// the full question, which it is never sent (RFC 9156 §2.3's
		// fallback is for broken servers, and those are not).
		full := *resp
		full.Question = []dns.Question{{Name: w.name, Qtype: w.qtype, Qclass: dns.ClassINET}}
		return w.onAnswer(ctx, &full, kind, server)
	case kind == kindLame || kind == kindFail:
		if kind == kindFail && minimised {
			w.brokenMin = true
		}
		if kind == kindLame {
			w.r.servers.setLame(server, w.cut.zone, w.r.now())
		}
		w.cut.markTried(server)
		return result{}, false, nil
	case minimised:
		w.onMinimised(resp, kind, sendName, sendType)
		return result{}, false, nil
	}
	return w.onAnswer(ctx, resp, kind, server)
}

// onReferral follows a referral from server down to the next cut, or
// marks the server lame for a referral that leads nowhere below.
func (w *walk) onReferral(ctx context.Context, resp *dns.Msg, server netip.Addr) error {
	w.referrals++
	if w.referrals > w.qs.lim.MaxReferrals {
		return &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: more than %d referrals", ErrBudget, w.qs.lim.MaxReferrals)}
	}
	next := w.r.takeReferral(resp, w.cut.zone)
	if next == nil || !dnssec.IsSubDomain(w.cut.zone, next.zone) || strings.EqualFold(next.zone, w.cut.zone) {
		w.r.servers.setLame(server, w.cut.zone, w.r.now())
		w.cut.markTried(server)
		return nil
	}
	if w.r.cfg.DNSSEC {
		w.r.noteReferralDS(ctx, w.qs, resp, w.cut.zone, next.zone)
	}
	w.setCut(next, false)
	return nil
}

// onMinimised takes the answer to a minimised query (sendName,
// sendType): a zone cut there, or one label more (or the full question)
// to ask next.
func (w *walk) onMinimised(resp *dns.Msg, kind respKind, sendName string, sendType uint16) {
	if next := w.r.cutFromNSAnswer(resp, sendName, w.cut.zone); next != nil {
		// One server for parent and child answers the child's
		// apex NS rather than referring: a zone cut all the same
		// (RFC 9156 §3), whose keys and DS validation must use.
		w.setCut(next, false)
		return
	}
	// A minimised query: it only told us whether the name exists.
	// NXDOMAIN or an alias there means the full name is what to
	// ask; so does anything odd (the relaxed fallback of RFC 9156
	// §2.3 for servers that answer minimised queries wrongly).
	if kind == kindNXDomain || len(resp.Answer) > 0 && resp.Answer[0].Header().Rrtype != sendType {
		w.relax = relaxFull
	}
	w.steps++
	w.sendLabels = nextLabels(w.sendLabels, dns.CountLabel(w.cut.zone), w.labels, w.steps)
}

// onAnswer validates the answer to the full question from server and
// returns it, unless it is Bogus and another server of the zone may
// give a better one.
func (w *walk) onAnswer(ctx context.Context, resp *dns.Msg, kind respKind, server netip.Addr) (result, bool, error) {
	m := w.r.finish(resp, kind)
	// A zone's key set, even from its parent's servers (one server
	// for both), is judged here by its chain of trust, so that a
	// server whose copy fails it can be passed over like any other.
	status, code, err := w.r.validateAnswer(ctx, w.qs, m, w.cut.zone, w.name, w.qtype, kind)
	if err != nil {
		return result{}, true, err
	}
	res := result{m, cache.Meta{Rank: cache.RankAnswer, Security: cache.Security(status), EDE: code}}
	if status == dnssec.Bogus && w.r.retryBogus(w.qs, w.cut.zone, w.name, w.qtype) {
		// The server may be the only broken one, or a forger on its
		// path: ask the zone's other servers before giving up, as
		// Unbound (its validator's blacklist of servers that gave
		// bogus data) and Knot Resolver (KR_SELECTION_DNSSEC_ERROR)
		// do.
		w.bogus = &res
		w.cut.markTried(server)
		return result{}, false, nil
	}
	w.r.keepAnswerRRsets(resp, status, w.qs.unchecked)
	return res, true, nil
}
