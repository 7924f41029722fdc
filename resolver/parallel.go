package resolver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// A cold answer waits for round trips, not for the CPU: a query walks
// from the root to the zone, and a glueless delegation, or a zone whose
// keys are not known yet, used to add its round trips one after the
// other. Two kinds of work therefore run beside the walk, each in a
// goroutine of the client query with a fork of its qstate:
//
//   - the addresses of a glueless delegation's NS names, several names
//     at once; the walk goes on with the first server address that
//     arrives (Unbound's target-fetch-policy starts with 3);
//   - the DS and DNSKEY of a zone the walk is about to query, fetched
//     while its servers answer the question, and shared through
//     keyflights with whatever else needs them (this query's
//     validation, or another query's).
//
// Both go through lookup and zoneKeys like any sub-resolution, so what
// they cache was scrubbed and validated the same way, and they spend the
// query's one set of budgets (qshared). None outlives the client query:
// resolveTopWith cancels them and waits for them before it returns.

// nsFanOut is how many glueless NS names of one cut have their
// addresses looked up at once.
const nsFanOut = 3

// qshared is what every goroutine of one client query spends: its
// budgets, and the goroutines running beside the walk. Safe for
// concurrent use.
type qshared struct {
	sent         atomic.Int64 // upstream queries sent
	bogusRetries atomic.Int32 // servers asked again after a Bogus answer
	wg           sync.WaitGroup

	mu sync.Mutex // guards the fields below
	// budget is the query's validation work, made on first use
	// (Resolver.budget); ignoreTime says it was made without signature
	// times.
	budget     *dnssec.Budget
	ignoreTime bool
}

// spendQuery reserves one upstream query of the query's budget, and
// reports false when none is left.
func (qs *qstate) spendQuery() bool {
	return qs.shared.sent.Add(1) <= int64(qs.lim.MaxQueries)
}

// spent returns the query's validation budget, nil if none was made.
func (s *qshared) spent() *dnssec.Budget {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.budget
}

// fork returns the qstate of a goroutine that starts beside qs at depth:
// the same budgets, a copy of the call stack (so that a lookup that
// needs itself is still caught), and none of qs's later changes.
func (qs *qstate) fork(depth int) *qstate {
	return &qstate{
		shared:     qs.shared,
		depth:      depth,
		active:     maps.Clone(qs.active),
		lim:        qs.lim,
		unchecked:  qs.unchecked,
		refresh:    qs.refresh,
		leads:      qs.leads,
		leadLabels: qs.leadLabels,
	}
}

// spawn runs fn in a goroutine of the query, which the query's end
// waits for (join).
func (qs *qstate) spawn(fn func()) {
	qs.shared.wg.Add(1)
	go func() {
		defer qs.shared.wg.Done()
		fn()
	}()
}

// join waits for every goroutine the query spawned. Their context must
// have been cancelled first, or join waits for them to finish their work.
func (qs *qstate) join() { qs.shared.wg.Wait() }

// nsFetch is the address lookups under way for the NS names of one cut.
type nsFetch struct {
	// results has room for every lookup the cut may start, so that a
	// lookup whose result nobody takes any more never blocks.
	results chan nsResult
	pending int // names whose lookup was started and its result not taken
	// limitErr is the budget error of a name the query's limits forbade
	// looking up; it stands once seen.
	limitErr error
}

type nsResult struct {
	addrs     []netip.Addr
	unchecked bool
	err       error
}

// addrTypes are the address types asked for name servers.
func (r *Resolver) addrTypes() []uint16 {
	switch {
	case r.cfg.NoIPv4:
		return []uint16{dns.TypeAAAA}
	case r.cfg.NoIPv6:
		return []uint16{dns.TypeA}
	}
	return []uint16{dns.TypeA, dns.TypeAAAA}
}

// lookupNSAddrs finds new addresses for cut: it starts the lookups of
// the next NS names that have no glue (up to nsFanOut names at once) and
// waits for the first that adds an address; the
// others go on and fill the cache, and a later call takes what they
// found. When no name is left it adds the parent-side glue of the NS
// names. It reports whether it found any new address; an error means
// the query's budget or time ran out.
func (r *Resolver) lookupNSAddrs(ctx context.Context, qs *qstate, cut *zoneCut) (bool, error) {
	if cut.fetch == nil {
		cut.fetch = &nsFetch{results: make(chan nsResult, max(qs.lim.MaxNSNames, 1))}
	}
	f := cut.fetch
	for {
		// Results already in first: a lookup started earlier may have
		// found what the servers tried meanwhile lacked.
		for drained := false; !drained; {
			select {
			case res := <-f.results:
				if found, err := r.takeNSResult(ctx, qs, cut, res); found || err != nil {
					return found, err
				}
			default:
				drained = true
			}
		}
		if err := r.startNSLookups(ctx, qs, cut); err != nil && f.limitErr == nil {
			f.limitErr = err
		}
		if f.pending == 0 {
			if f.limitErr != nil {
				return false, f.limitErr
			}
			return r.addParentGlue(cut), nil
		}
		select {
		case res := <-f.results:
			if found, err := r.takeNSResult(ctx, qs, cut, res); found || err != nil {
				return found, err
			}
		case <-ctx.Done():
			return false, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: %w", ErrNoReachable, ctx.Err())}
		}
	}
}

// takeNSResult adds the addresses one lookup found to cut and reports
// whether there were new ones; an error means the query's budget or
// time ran out.
func (r *Resolver) takeNSResult(ctx context.Context, qs *qstate, cut *zoneCut, res nsResult) (bool, error) {
	cut.fetch.pending--
	if res.err != nil {
		if ctx.Err() != nil {
			return false, res.err
		}
		if errors.Is(res.err, ErrBudget) {
			// A limit met by this name's lookup (its depth, its own NS
			// names, or the query's queries): fatal only once no other
			// lookup may still find a server (lookupNSAddrs).
			if cut.fetch.limitErr == nil {
				cut.fetch.limitErr = res.err
			}
		}
		return false, nil
	}
	before := len(cut.addrs)
	for _, a := range res.addrs {
		if !containsAddr(cut.addrs, a) {
			cut.addrs = append(cut.addrs, a)
		}
	}
	if len(cut.addrs) == before {
		return false, nil
	}
	// The walk goes on with these addresses: whatever they were
	// built from marks what it builds.
	qs.unchecked = qs.unchecked || res.unchecked
	return true, nil
}

// startNSLookups starts address lookups for the NS names of cut not
// looked up yet, while fewer than nsFanOut names are under way (fewer
// still in nested lookups). It
// returns a budget error when a name is left that the query's limits
// forbid looking up (NXNSAttack); the lookups started stand.
func (r *Resolver) startNSLookups(ctx context.Context, qs *qstate, cut *zoneCut) error {
	f := cut.fetch
	// Nested lookups (a name server's name whose own servers are
	// glueless) fan out less, as in Unbound's target-fetch-policy: their
	// lookups would multiply.
	width := max(1, nsFanOut-qs.depth)
	for _, n := range cut.nsNames {
		if f.pending >= width || ctx.Err() != nil {
			return nil
		}
		if cut.looked[n] {
			continue
		}
		cut.markLooked(n)
		// A name inside the zone without glue can only be found by asking
		// the zone's own servers, the ones we cannot reach; unless the
		// cache knows it for an alias, which leads elsewhere.
		if dnssec.IsSubDomain(cut.zone, n) {
			if _, _, ok := r.cachedAlias(n, dns.TypeA, r.now()); !ok {
				continue
			}
		}
		if cut.nsLookups >= qs.lim.MaxNSNames || qs.depth >= qs.lim.MaxDepth {
			// A limit of this query, not a fact about the zone: reported
			// as a budget error so that nothing is cached from it.
			return &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: name server lookups", ErrBudget)}
		}
		cut.nsLookups++
		f.pending++
		sub := qs.fork(qs.depth + 1)
		qs.spawn(func() { f.results <- r.nameAddrs(ctx, sub, n) })
	}
	return nil
}

// nameAddrs looks up the addresses of the name server name n: A, and
// AAAA only if there is no A (or the other way round without IPv4), one
// after the other. Asking both at once would save a round trip only for
// names without A, and costs the walk to n's zone twice whenever that
// is cold: two goroutines walking the same way, each fanning out again
// below a glueless cut of its own (measured on the simulated internet,
// 14 queries instead of 10 for a doubly glueless zone).
func (r *Resolver) nameAddrs(ctx context.Context, qs *qstate, n string) nsResult {
	var res nsResult
	for _, t := range r.addrTypes() {
		m, _, err := r.resolve(ctx, qs, n, t)
		if err == nil {
			res.addrs = appendAddrs(res.addrs, m.Answer)
		} else if errors.Is(err, ErrBudget) || ctx.Err() != nil {
			res.err = err
			break
		}
		if len(res.addrs) > 0 {
			break
		}
	}
	res.unchecked = qs.unchecked
	return res
}

// joinAsked moves to the front of order, the servers of a cut in the
// order to ask them, one that is being asked (name, qtype) already, by
// a lookup running beside this one or by another query: asking it is
// then no query at all (exchange shares the answer), where the next
// server in line would get a second one. It is one the cut could have
// picked anyway: order holds only the cut's servers.
func (r *Resolver) joinAsked(order []netip.Addr, name string, qtype uint16) []netip.Addr {
	lname := strings.ToLower(name)
	for i, a := range order {
		if i > 0 && r.exflights.running(exKey{addr: a, name: lname, qtype: qtype}) {
			copy(order[1:i+1], order[:i])
			order[0] = a
			break
		}
	}
	return order
}

// keysForCut starts fetching the keys of cut's zone the first time the
// walk asks its servers something (name, qtype): the answer will be
// judged with them. Not when the question is the keys themselves.
func (r *Resolver) keysForCut(ctx context.Context, qs *qstate, cut *zoneCut, name string, qtype uint16) {
	if cut.keysAsked {
		return
	}
	cut.keysAsked = true
	if qtype != dns.TypeDNSKEY || !strings.EqualFold(name, cut.zone) {
		r.prefetchKeys(ctx, qs, cut.zone)
	}
}

// prefetchKeys starts fetching the keys of zone (its DS through the
// parent, then its DNSKEY) beside the walk, which is about to ask the
// zone's servers and will need the keys to judge their answer. It does
// nothing when the keys are known, cannot be needed (validation off, no
// trust anchor above, a negative anchor, the operator's own zone), or
// are being fetched by this call stack already.
func (r *Resolver) prefetchKeys(ctx context.Context, qs *qstate, zone string) {
	if !r.cfg.DNSSEC || r.fwdPorts != nil || qs.leads || ctx.Err() != nil {
		return
	}
	zone = dns.CanonicalName(zone)
	if e, ok := r.keys.Peek(zone); ok && r.live(e, r.now()) {
		return
	}
	if qs.active[qkey{zone, dns.TypeDNSKEY}] || qs.active[qkey{zone, dns.TypeDS}] || r.private(zone) ||
		dnssec.UnderNTA(r.cfg.NegativeAnchors, zone, r.wall()) || r.anchors.Load().Closest(zone) == nil {
		return
	}
	sub := qs.fork(qs.depth)
	qs.spawn(func() { _, _ = r.zoneKeys(ctx, sub, zone) })
}
