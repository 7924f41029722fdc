package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// qstate is the budget and loop memory of one client query. A client
// query is resolved by one goroutine, sub-resolutions (name server
// addresses, CNAME targets) being plain nested calls, so it needs no lock.
type qstate struct {
	sent   int           // upstream queries sent
	depth  int           // nested sub-resolutions
	active map[qkey]bool // lookups on the current call stack
	lim    *Limits
	budget *dnssec.Budget // validation work; made on first use
	// bogusRetries counts servers asked again after a Bogus answer.
	bogusRetries int
}

type qkey struct {
	name  string // lowercased
	qtype uint16
}

func newQState(lim *Limits) *qstate {
	return &qstate{lim: lim, active: make(map[qkey]bool)}
}

// resolve answers (qname, qtype) from the cache or by iteration, following
// CNAME and DNAME chains across zones. The result holds the whole chain in
// its answer section and the rcode of the chain's last name.
func (r *Resolver) resolve(ctx context.Context, qs *qstate, qname string, qtype uint16) (*dns.Msg, cache.Meta, error) {
	var chain, proofs []dns.RR
	var meta cache.Meta
	status := dnssec.Status(0)
	name := qname
	seen := map[string]bool{}
	for links := 0; ; links++ {
		if links > qs.lim.MaxCNAME {
			return nil, meta, &Error{EDE: EDEOther, Err: fmt.Errorf("%w: CNAME chain longer than %d", ErrBudget, qs.lim.MaxCNAME)}
		}
		lname := strings.ToLower(name)
		if seen[lname] {
			return nil, meta, loopError(qname, chain, meta)
		}
		seen[lname] = true

		res, m, err := r.lookup(ctx, qs, name, qtype)
		if err != nil {
			return nil, meta, err
		}
		if links == 0 {
			status = dnssec.Status(m.Security)
		} else {
			status = combine(status, dnssec.Status(m.Security))
		}
		if m.EDE != 0 && (meta.EDE == 0 || dnssec.Status(m.Security) == dnssec.Bogus) {
			meta.EDE = m.EDE
		}
		meta.Security = uint8(status)
		// A DNAME that applies again further down the chain is the same
		// RRset: it appears once (RFC 2181 §5).
		for _, rr := range res.Answer {
			if !slices.ContainsFunc(chain, func(c dns.RR) bool { return dns.IsDuplicate(c, rr) }) {
				chain = append(chain, rr)
			}
		}
		end, data := chainEnd(res.Answer, name, qtype)
		if !data && qtype != dns.TypeCNAME && aliasAt(res.Answer, end) {
			// The chain never ends: a CNAME back to itself, here or
			// synthesised from a DNAME that targets its own owner.
			return nil, meta, loopError(qname, chain, meta)
		}
		if data || res.Rcode != dns.RcodeSuccess || strings.EqualFold(end, name) {
			out := new(dns.Msg)
			out.Question = []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}}
			out.Rcode = res.Rcode
			out.Answer = chain
			out.Ns = res.Ns
			for _, rr := range proofs {
				if !slices.ContainsFunc(out.Ns, func(c dns.RR) bool { return dns.IsDuplicate(c, rr) }) {
					out.Ns = append(out.Ns, rr)
				}
			}
			return out, meta, nil
		}
		// A link from a wildcard brings the proof that its name did not
		// exist (RFC 4035 §3.1.3.3): the client gets it with the rest of
		// the chain, as Unbound prepends it.
		if fromWildcard(res.Answer) {
			proofs = append(proofs, denialRecords(res.Ns)...)
		}
		// Links of the chain already seen mean a loop inside one answer.
		for _, rr := range res.Answer {
			if rr.Header().Rrtype == dns.TypeCNAME && !strings.EqualFold(rr.Header().Name, name) {
				if seen[strings.ToLower(rr.Header().Name)] {
					return nil, meta, loopError(qname, chain, meta)
				}
				seen[strings.ToLower(rr.Header().Name)] = true
				links++
			}
		}
		name = end
	}
}

// loopError is the error of a CNAME chain from qname that goes round in a
// circle. It carries the chain as far as it went, which the client gets
// with its SERVFAIL (as from Knot Resolver) to see the loop for itself,
// unless part of it is Bogus.
func loopError(qname string, chain []dns.RR, meta cache.Meta) *Error {
	e := &Error{EDE: EDEOther, Err: fmt.Errorf("%w: CNAME chain", ErrLoop)}
	if dnssec.Status(meta.Security) != dnssec.Bogus && len(chain) > 0 {
		e.chain = &partialChain{name: qname, answer: slices.Clone(chain)}
	}
	return e
}

// aliasAt reports whether answer holds a CNAME owned by name.
func aliasAt(answer []dns.RR, name string) bool {
	for _, rr := range answer {
		if rr.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// chainEnd follows the CNAME records of answer from name and reports the
// last name reached and whether records of qtype are there.
func chainEnd(answer []dns.RR, name string, qtype uint16) (string, bool) {
	cur := name
	for hops := 0; hops <= len(answer); hops++ {
		var next string
		for _, rr := range answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, cur) {
				continue
			}
			if matchesType(rr, qtype) {
				return cur, true
			}
			if c, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				next = c.Target
			}
		}
		if next == "" {
			break
		}
		cur = next
	}
	return cur, false
}

// lookup answers one name from the cache or by iterating from the closest
// known zone cut. The answer may end in a CNAME whose target lies outside
// the zone that answered; resolve follows it.
func (r *Resolver) lookup(ctx context.Context, qs *qstate, name string, qtype uint16) (*dns.Msg, cache.Meta, error) {
	now := r.now()
	key := r.fullKey(name, qtype)
	if m, meta, ok := r.cache.GetMsg(key, now); ok {
		if m.Rcode == dns.RcodeServerFailure {
			return nil, meta, &Error{EDE: EDECachedError, Err: fmt.Errorf("%w: cached failure", ErrNoReachable)}
		}
		return m, meta, nil
	}
	k := qkey{key.Name, qtype}
	if qs.active[k] {
		return nil, cache.Meta{}, &Error{EDE: EDEOther, Err: fmt.Errorf("%w: %s lookup needs itself", ErrLoop, dns.TypeToString[qtype])}
	}
	qs.active[k] = true
	defer delete(qs.active, k)

	if m, meta, ok := r.belowNXDomain(name, qtype, now); ok {
		r.store(key, m, meta)
		return m, meta, nil
	}
	if m, meta, ok := r.synthesise(name, qtype, now, r.budget(qs)); ok {
		r.store(key, m, meta)
		return m, meta, nil
	}
	if m, meta, ok := r.cachedSecure(name, qtype, now); ok {
		return m, meta, nil
	}
	if m, meta, ok := r.cachedAlias(name, qtype, now); ok {
		return m, meta, nil
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
	r.store(key, res.msg, res.meta)
	if r.cfg.DNSSEC && qtype == dns.TypeDNSKEY && dnssec.Status(res.meta.Security) == dnssec.Indeterminate {
		// A zone's own key set is judged by its chain of trust, which
		// zoneKeys builds.
		ks, err := r.zoneKeysWith(ctx, qs, name, res.msg)
		if err != nil {
			return nil, cache.Meta{}, err
		}
		res.meta.Security = uint8(ks.Status)
		if ks.Status == dnssec.Bogus {
			res.meta.EDE = ede(ks.Err, dnssecEDE(dnssec.ErrDNSKEYMissing))
		}
		r.store(key, res.msg, res.meta)
	}
	r.noteNXDomain(name, res)
	return res.msg, res.meta, nil
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
		if !ok || m.Rcode != dns.RcodeNameError || dnssec.Status(meta.Security) != dnssec.Secure {
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

// zoneCut is what the iterator knows of the zone it is querying.
type zoneCut struct {
	zone    string
	nsNames []string
	addrs   []netip.Addr
	// looked lists NS names whose addresses were looked up already.
	looked map[string]bool
	// tried lists servers that failed for this cut.
	tried map[netip.Addr]bool
	// nsLookups counts address lookups for glueless NS names (NXNSAttack).
	nsLookups int
	// parentGlue says the parent-side glue of the NS names was added.
	parentGlue bool
}

// minimisedType is the QTYPE of minimised queries. RFC 9156 §2.1 allows
// NS (RFC 7816's choice, Knot Resolver's) or A (Unbound's). NS is what a
// resolver walking the tree wants to know: a referral or an apex NS set
// from the parent's side, and NODATA at an empty non-terminal. It also
// says nothing of the client's type, as A would not for AAAA questions.
const minimisedType = dns.TypeNS

// How far QNAME minimisation is relaxed for one zone cut.
const (
	relaxNone  = iota // minimised, QTYPE minimisedType
	relaxTypeA        // minimised, QTYPE A
	relaxFull         // the full question
)

// relaxEntry remembers how far minimisation is relaxed for a zone.
type relaxEntry struct {
	level int
	until time.Time
}

// relaxFor is the relaxation remembered for zone, relaxNone if none.
func (r *Resolver) relaxFor(zone string) int {
	if e, ok := r.relaxed.Get(strings.ToLower(zone)); ok && r.now().Before(e.until) {
		return e.level
	}
	return relaxNone
}

// noteRelax remembers level for zone for as long as server statistics
// last. The root is never remembered as needing full names: one bad
// moment on the path to it must not send every name there for minutes.
func (r *Resolver) noteRelax(zone string, level int) {
	if zone == "." {
		level = min(level, relaxTypeA)
	}
	r.relaxed.Add(strings.ToLower(zone), relaxEntry{level: level, until: r.now().Add(serverStatsTTL)})
}

// reaskParent reports whether the parent may be asked again for zone's
// delegation now, and notes that it is.
func (r *Resolver) reaskParent(zone string) bool {
	now := r.now()
	key := strings.ToLower(zone)
	if until, ok := r.reasked.Get(key); ok && now.Before(until) {
		return false
	}
	r.reasked.Add(key, now.Add(holdDown))
	return true
}

// iterate walks down from the closest known zone cut to name, with QNAME
// minimisation (RFC 9156) unless configured off.
func (r *Resolver) iterate(ctx context.Context, qs *qstate, name string, qtype uint16) (result, error) {
	if r.fwdPorts != nil {
		return r.forward(ctx, qs, name, qtype)
	}
	cut := r.findCut(name, qtype)
	// cached says the cut came from the cache, not from a referral of
	// this walk.
	cached := true
	minimise := !r.cfg.NoQNameMinimisation
	// relax is how far minimisation is relaxed for the current cut, and
	// for it only: a referral starts the next zone minimised again, so
	// that one zone whose servers mishandle minimised queries (or a
	// middlebox that drops NS queries) does not send full names up and
	// down the tree.
	relax := r.relaxFor(cut.zone)
	labels := dns.CountLabel(name)
	// sendLabels is how much of name the next minimised query carries.
	sendLabels, steps := nextLabels(0, dns.CountLabel(cut.zone), labels, 0), 0
	newCut := func(next *zoneCut, fromCache bool) {
		cut, cached, relax = next, fromCache, r.relaxFor(next.zone)
		sendLabels, steps = nextLabels(0, dns.CountLabel(cut.zone), labels, 0), 0
	}
	// bogus is the last answer that failed validation, kept while other
	// servers of the zone are asked instead.
	var bogus *result
	for referrals := 0; ; {
		if err := ctx.Err(); err != nil {
			return result{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: %w", ErrBudget, err)}
		}
		sendName, sendType := name, qtype
		if minimise && relax < relaxFull && sendLabels < labels {
			sendName, sendType = suffix(name, sendLabels), minimisedType
			if relax == relaxTypeA {
				sendType = dns.TypeA
			}
		}
		resp, server, err := r.askZone(ctx, qs, cut, sendName, sendType)
		if err != nil {
			if bogus != nil && !errors.Is(err, ErrBudget) && ctx.Err() == nil {
				// No other server gave anything better: the answer is
				// Bogus, not unreachable.
				return *bogus, nil
			}
			retryable := errors.Is(err, ErrNoReachable) && !errors.Is(err, ErrBudget) && ctx.Err() == nil
			if retryable && (sendName != name || sendType != qtype) {
				// No server answered the minimised query, though the
				// zone's servers answer others: some drop queries for
				// names or types they do not expect. Ask minimised with
				// type A (Unbound's choice), and only then the full
				// question (RFC 9156 §2.3's relaxed mode), for this zone
				// only, and remember it for the zone, so that later
				// questions neither wait out the same timeouts nor, when
				// the servers are simply dead, pay the ladder again: a
				// dead zone costs the ladder once per serverStatsTTL,
				// then one query per server and question.
				if relax == relaxNone {
					relax = relaxTypeA
				} else {
					relax = relaxFull
				}
				r.noteRelax(cut.zone, relax)
				clear(cut.tried)
				continue
			}
			if retryable && cached && cut.zone != "." && r.reaskParent(cut.zone) {
				// None of the servers the cache knows for the zone
				// answers: their addresses may have outlived their use
				// (iter_ns_badip) while the parent knows better. Ask
				// the parent again for the delegation, as Unbound
				// falls back on parent-side NS and glue; once per zone
				// per hold-down period, so that a dead zone does not
				// cost its parent a query per name.
				newCut(r.cutAtOrAbove(parent(cut.zone)), true)
				continue
			}
			return result{}, err
		}
		kind := classify(resp, cut.zone)
		minimised := sendName != name || sendType != qtype
		if kind == kindLame && minimised && noCutHere(resp, cut.zone) {
			// No cut at the minimised name, said without AA or SOA:
			// nothing, or the zone's own NS set where a referral would
			// stand, as some servers answer for empty non-terminals.
			// Unbound takes the first for NODATA and the second for a
			// referral to the same zone; either way the walk goes on
			// with this cut, and the full question is judged strictly.
			kind = kindNoData
		}
		switch kind {
		case kindReferral:
			referrals++
			if referrals > qs.lim.MaxReferrals {
				return result{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: more than %d referrals", ErrBudget, qs.lim.MaxReferrals)}
			}
			next := r.takeReferral(resp, cut.zone)
			if next == nil || !dns.IsSubDomain(cut.zone, next.zone) || strings.EqualFold(next.zone, cut.zone) {
				r.servers.setLame(server, cut.zone, r.now())
				cut.tried[server] = true
				continue
			}
			if r.cfg.DNSSEC {
				r.noteReferralDS(ctx, qs, resp, cut.zone, next.zone)
			}
			newCut(next, false)
			continue
		case kindLame, kindFail:
			if kind == kindLame {
				r.servers.setLame(server, cut.zone, r.now())
			}
			cut.tried[server] = true
			continue
		}
		if minimised {
			if next := r.cutFromNSAnswer(resp, sendName, cut.zone); next != nil {
				// One server for parent and child answers the child's
				// apex NS rather than referring: a zone cut all the same
				// (RFC 9156 §3), whose keys and DS validation must use.
				newCut(next, false)
				continue
			}
			// A minimised query: it only told us whether the name exists.
			// NXDOMAIN or an alias there means the full name is what to
			// ask; so does anything odd (the relaxed fallback of RFC 9156
			// §2.3 for servers that answer minimised queries wrongly).
			if kind == kindNXDomain || len(resp.Answer) > 0 && resp.Answer[0].Header().Rrtype != sendType {
				relax = relaxFull
			}
			steps++
			sendLabels = nextLabels(sendLabels, dns.CountLabel(cut.zone), labels, steps)
			continue
		}
		m := r.finish(resp, kind)
		// A zone's key set, even from its parent's servers (one server
		// for both), is judged here by its chain of trust, so that a
		// server whose copy fails it can be passed over like any other.
		status, code, err := r.validateAnswer(ctx, qs, m, cut.zone, name, qtype, kind)
		if err != nil {
			return result{}, err
		}
		res := result{m, cache.Meta{Rank: cache.RankAnswer, Security: uint8(status), EDE: code}}
		if status == dnssec.Bogus && r.bogusRetryable(qs, cut.zone, qtype) {
			// The server may be the only broken one, or a forger on its
			// path: ask the zone's other servers before giving up, as
			// Unbound (its validator's blacklist of servers that gave
			// bogus data) and Knot Resolver (KR_SELECTION_DNSSEC_ERROR)
			// do. A Bogus key set judged here is not kept meanwhile.
			if qtype == dns.TypeDNSKEY {
				r.forgetBogusKeys(name)
			}
			qs.bogusRetries++
			bogus = &res
			cut.tried[server] = true
			continue
		}
		r.keepAnswerRRsets(resp, status)
		return res, nil
	}
}

// forward asks the forwarders (Config.Forwarders) for the whole question
// and takes what the first usable one answers. The forwarder speaks for
// every zone, so its answer is scrubbed as if it came from the root's
// servers, and validated record set by record set with the keys of each
// signer, fetched through the forwarders as well. A referral, a lame or
// a failed reply moves on to the next forwarder.
func (r *Resolver) forward(ctx context.Context, qs *qstate, name string, qtype uint16) (result, error) {
	cut := r.forwardCut()
	for {
		resp, server, err := r.askZone(ctx, qs, cut, name, qtype)
		if err != nil {
			return result{}, err
		}
		kind := classify(resp, ".")
		if kind == kindReferral || kind == kindLame || kind == kindFail {
			cut.tried[server] = true
			continue
		}
		m := r.finish(resp, kind)
		// A zone's own key set is judged by its chain of trust;
		// everything else is checked against its signers' keys, which
		// validate finds below the root.
		status, code, err := r.validateAnswer(ctx, qs, m, ".", name, qtype, kind)
		if err != nil {
			return result{}, err
		}
		r.keepAnswerRRsets(resp, status)
		return result{m, cache.Meta{Rank: cache.RankAnswerNonAuth, Security: uint8(status), EDE: code}}, nil
	}
}

// forwardCut is the zone cut forward queries: the forwarders, for the
// whole tree.
func (r *Resolver) forwardCut() *zoneCut {
	cut := &zoneCut{zone: ".", looked: map[string]bool{}, tried: map[netip.Addr]bool{}}
	for _, f := range r.cfg.Forwarders {
		if a := f.Addr().Unmap(); !containsAddr(cut.addrs, a) {
			cut.addrs = append(cut.addrs, a)
		}
	}
	return cut
}

// nextLabels returns how many labels of the name to send next when
// minimising: one more each step for the first four steps below a cut,
// then larger strides so that at most ten queries are spent (RFC 9156 §2.3,
// MINIMISE_ONE_LAB and MAX_MINIMISE_COUNT).
func nextLabels(prev, zoneLabels, labels, steps int) int {
	if prev <= zoneLabels {
		return min(zoneLabels+1, labels)
	}
	if steps < 4 {
		return min(prev+1, labels)
	}
	left := labels - prev
	rounds := max(10-steps, 1)
	return min(prev+(left+rounds-1)/rounds, labels)
}

// suffix returns the last n labels of name.
func suffix(name string, n int) string {
	idx := dns.Split(name)
	if n >= len(idx) {
		return name
	}
	return name[idx[len(idx)-n]:]
}

// finish turns an authoritative answer into the cacheable result: the
// answer chain, and for negative answers the SOA (RFC 2308) and DNSSEC
// records of the authority section. The servers' NS and glue stay out of
// what clients see.
func (r *Resolver) finish(resp *dns.Msg, kind respKind) *dns.Msg {
	out := new(dns.Msg)
	out.Question = resp.Question
	out.Rcode = resp.Rcode
	out.Answer = resp.Answer
	for _, rr := range resp.Ns {
		switch rr := rr.(type) {
		case *dns.NS:
			// A negative answer keeps the zone's NS set the server sent
			// beside its SOA, as Unbound and Knot Resolver pass it on;
			// answers with data drop it (minimal responses).
			if kind == kindNXDomain || kind == kindNoData {
				out.Ns = append(out.Ns, rr)
			}
		case *dns.NSEC, *dns.NSEC3:
			// Wildcard answers carry their proof too.
			out.Ns = append(out.Ns, rr)
		case *dns.RRSIG:
			if rr.TypeCovered != dns.TypeNS {
				out.Ns = append(out.Ns, rr)
			}
		default:
			if kind == kindNXDomain || kind == kindNoData {
				out.Ns = append(out.Ns, rr)
			}
		}
	}
	return out
}

// keepAnswerRRsets lets addresses and NS sets learned from a validated (or
// unvalidated but not Bogus) answer feed the iterator's view of name
// servers, and keeps its aliases for other questions (cachedAlias): with
// validation on, only aliases validated Secure or proven Insecure, since
// an alias answers every type at its name (a DNAME every name below) and
// an Indeterminate answer was not checked at all.
func (r *Resolver) keepAnswerRRsets(resp *dns.Msg, status dnssec.Status) {
	if status == dnssec.Bogus {
		return
	}
	aliases := !r.cfg.DNSSEC || status == dnssec.Secure || status == dnssec.Insecure
	meta := cache.Meta{Rank: cache.RankAnswer, Security: uint8(status)}
	switch {
	case status == dnssec.Secure:
		meta.Rank = cache.RankValidated
	case !resp.Authoritative:
		meta.Rank = cache.RankAnswerNonAuth
	}
	now := r.now()
	for _, set := range rrsets(resp.Answer) {
		h := set[0].Header()
		switch h.Rrtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeNS:
			// With their signatures: validated addresses answer
			// clients too (cachedSecure).
			for _, sig := range sigsFor(resp.Answer, h.Name, h.Rrtype) {
				set = append(set, sig)
			}
			r.cache.SetRRset(set, meta, now)
		case dns.TypeCNAME, dns.TypeDNAME:
			// Aliases hold whatever the type asked next (cachedAlias).
			// A CNAME synthesised from a DNAME is not the zone's own
			// record: the DNAME is kept instead.
			if !aliases || h.Rrtype == dns.TypeCNAME && underDNAME(resp.Answer, h.Name) {
				continue
			}
			for _, sig := range sigsFor(resp.Answer, h.Name, h.Rrtype) {
				set = append(set, sig)
			}
			r.cache.SetRRset(set, meta, now)
		}
	}
}

type respKind int

const (
	kindAnswer respKind = iota
	kindNoData
	kindNXDomain
	kindReferral
	kindLame
	kindFail
)

// classify tells what a scrubbed response from a server for zone is.
func classify(resp *dns.Msg, zone string) respKind {
	switch resp.Rcode {
	case dns.RcodeNameError:
		return kindNXDomain
	case dns.RcodeSuccess:
	case dns.RcodeYXDomain:
		// A DNAME whose substitution would make too long a name (RFC
		// 6672 §2.2) is an answer, the client's to see; the scrubbed
		// answer holds the DNAME only then.
		if slices.ContainsFunc(resp.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeDNAME }) {
			return kindAnswer
		}
		return kindFail
	default:
		return kindFail
	}
	if slices.ContainsFunc(resp.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeRRSIG }) ||
		len(resp.Answer) > 0 && len(resp.Question) == 1 && resp.Question[0].Qtype == dns.TypeRRSIG {
		return kindAnswer
	}
	// Signatures without the records they sign are no answer.
	var soa, down bool
	for _, rr := range resp.Ns {
		h := rr.Header()
		switch h.Rrtype {
		case dns.TypeSOA:
			soa = true
		case dns.TypeNS:
			if !strings.EqualFold(h.Name, zone) {
				down = true
			}
		}
	}
	switch {
	case soa:
		return kindNoData
	case down:
		return kindReferral
	case resp.Authoritative:
		return kindNoData
	}
	// Neither data, nor a denial, nor a step down: an upward referral or
	// an empty non-authoritative reply. The server is lame for the zone.
	return kindLame
}

// noCutHere reports whether resp, a scrubbed NOERROR reply from a server
// of zone, carries no answer and, in its authority section, nothing but
// NS records of zone itself. A reply with RA and no AA is excepted: a
// recursive server answering from its cache is lame (Unbound's
// RESPONSE_TYPE_REC_LAME).
func noCutHere(resp *dns.Msg, zone string) bool {
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) > 0 || resp.RecursionAvailable && !resp.Authoritative {
		return false
	}
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS || !strings.EqualFold(rr.Header().Name, zone) {
			return false
		}
	}
	return true
}

// takeReferral caches a referral from a server of zone, its NS set and
// glue, and returns the new cut. Glue from outside zone (there only with
// Config.OutOfZoneGlue) serves the new cut but is not cached.
func (r *Resolver) takeReferral(resp *dns.Msg, zone string) *zoneCut {
	var child string
	var ns []dns.RR
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS {
			continue
		}
		// The deepest NS owner is the delegation; scrub dropped any NS
		// that is not an ancestor of the question.
		if child == "" || dns.CountLabel(rr.Header().Name) > dns.CountLabel(child) {
			child, ns = rr.Header().Name, ns[:0]
		}
		if strings.EqualFold(rr.Header().Name, child) {
			ns = append(ns, rr)
		}
	}
	if child == "" {
		return nil
	}
	now := r.now()
	r.cache.SetRRset(ns, cache.Meta{Rank: cache.RankAuthorityReferral}, now)
	for _, set := range rrsets(resp.Extra) {
		if t := set[0].Header().Rrtype; (t == dns.TypeA || t == dns.TypeAAAA) && dns.IsSubDomain(zone, set[0].Header().Name) {
			r.cache.SetRRset(set, cache.Meta{Rank: cache.RankAdditional}, now)
			r.keepGlue(set, now)
		}
	}
	cut := r.cutFromNS(dns.CanonicalName(child), ns, now)
	// Glue the cache would not keep (TTL 0) still serves this walk
	// (RFC 1035 §3.2.1).
	for _, rr := range resp.Extra {
		if slices.Contains(cut.nsNames, dns.CanonicalName(rr.Header().Name)) {
			cut.addrs = appendAddrs(cut.addrs, []dns.RR{rr})
		}
	}
	return cut
}

// cutFromNSAnswer returns the zone cut an answer to a minimised NS query
// for name shows below zone, or nil: the NS RRset of name in the answer
// section of an authoritative reply, taken and cached as a referral
// would be.
func (r *Resolver) cutFromNSAnswer(resp *dns.Msg, name, zone string) *zoneCut {
	if !resp.Authoritative || strings.EqualFold(name, zone) {
		// Only the child's own servers speak for its apex; a cache's
		// non-authoritative copy is no cut.
		return nil
	}
	var ns []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == dns.TypeNS && strings.EqualFold(rr.Header().Name, name) {
			ns = append(ns, rr)
		}
	}
	if len(ns) == 0 {
		return nil
	}
	return r.takeReferral(&dns.Msg{Ns: ns, Extra: resp.Extra}, zone)
}

// maxGlueSeconds caps how long parent-side glue is kept: the cache's
// default maximum TTL.
const maxGlueSeconds = uint32(cache.DefaultMaxTTL / time.Second)

// glueEntry is the parent-side addresses of one name server name.
type glueEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

// keepGlue remembers set, A or AAAA glue of a referral, as the parent's
// side of its owner's addresses, beside what is kept already of the
// other type. Its lifetime is clamped as the cache clamps RRsets: a TTL
// with the top bit set counts as zero (RFC 2181 §8), and none is kept
// longer than the cache's default maximum, so that a referral cannot pin
// addresses for 136 years.
func (r *Resolver) keepGlue(set []dns.RR, now time.Time) {
	ttl := maxGlueSeconds
	for _, rr := range set {
		ttl = min(ttl, wireTTL(rr.Header().Ttl))
	}
	if ttl == 0 {
		return
	}
	name := dns.CanonicalName(set[0].Header().Name)
	e := glueEntry{expires: now.Add(time.Duration(ttl) * time.Second)}
	if old, ok := r.glue.Get(name); ok && now.Before(old.expires) {
		if old.expires.Before(e.expires) {
			e.expires = old.expires
		}
		for _, a := range old.addrs {
			if a.Is4() != (set[0].Header().Rrtype == dns.TypeA) {
				e.addrs = append(e.addrs, a)
			}
		}
	}
	e.addrs = appendAddrs(e.addrs, set)
	r.glue.Add(name, e)
}

// addParentGlue adds to cut, once, the parent-side addresses kept for its
// NS names that it lacks, and reports whether there were any: the last
// resort when the addresses the child gives for its servers all fail
// (iter_pcdiff), as Unbound falls back on parent-side glue.
func (r *Resolver) addParentGlue(cut *zoneCut) bool {
	if cut.parentGlue {
		return false
	}
	cut.parentGlue = true
	now := r.now()
	before := len(cut.addrs)
	for _, n := range cut.nsNames {
		e, ok := r.glue.Get(n)
		if !ok || !now.Before(e.expires) {
			continue
		}
		for _, a := range e.addrs {
			if !containsAddr(cut.addrs, a) {
				cut.addrs = append(cut.addrs, a)
			}
		}
	}
	return len(cut.addrs) > before
}

// cutFromNS builds a zone cut from an NS set, with the addresses the cache
// knows for its names.
func (r *Resolver) cutFromNS(zone string, ns []dns.RR, now time.Time) *zoneCut {
	cut := &zoneCut{zone: zone, looked: map[string]bool{}, tried: map[netip.Addr]bool{}}
	for _, rr := range ns {
		n, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		target := dns.CanonicalName(n.Ns)
		cut.nsNames = append(cut.nsNames, target)
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if rrs, _, ok := r.cache.GetRRset(target, t, dns.ClassINET, now); ok {
				cut.addrs = appendAddrs(cut.addrs, rrs)
			}
		}
	}
	return cut
}

func appendAddrs(dst []netip.Addr, rrs []dns.RR) []netip.Addr {
	for _, rr := range rrs {
		var a netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(rr.AAAA.To16())
		default:
			continue
		}
		if a.IsValid() && !containsAddr(dst, a) {
			dst = append(dst, a)
		}
	}
	return dst
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, b := range s {
		if b == a {
			return true
		}
	}
	return false
}

// findCut returns the closest enclosing zone cut the cache knows a usable
// delegation for, or the root from the hints. DS records live on the
// parent side of a cut, so a DS question starts from the parent.
func (r *Resolver) findCut(name string, qtype uint16) *zoneCut {
	z := dns.CanonicalName(name)
	if qtype == dns.TypeDS && z != "." {
		z = parent(z)
	}
	return r.cutAtOrAbove(z)
}

// cutAtOrAbove returns the closest zone cut at or above z the cache knows
// a usable delegation for, or the root from the hints.
func (r *Resolver) cutAtOrAbove(z string) *zoneCut {
	now := r.now()
	for {
		if ns, _, ok := r.cache.GetRRset(z, dns.TypeNS, dns.ClassINET, now); ok {
			cut := r.cutFromNS(z, ns, now)
			if len(cut.addrs) > 0 || hasOutOfZoneNS(cut) {
				return cut
			}
		}
		if z == "." {
			break
		}
		z = parent(z)
	}
	return r.rootCut(now)
}

// hasOutOfZoneNS reports whether some NS name of the cut can be looked up
// without the cut's own servers.
func hasOutOfZoneNS(cut *zoneCut) bool {
	for _, n := range cut.nsNames {
		if !dns.IsSubDomain(cut.zone, n) {
			return true
		}
	}
	return false
}

func (r *Resolver) rootCut(now time.Time) *zoneCut {
	cut := &zoneCut{zone: ".", looked: map[string]bool{}, tried: map[netip.Addr]bool{}}
	for _, rr := range r.cfg.RootHints {
		switch rr := rr.(type) {
		case *dns.NS:
			cut.nsNames = append(cut.nsNames, dns.CanonicalName(rr.Ns))
		case *dns.A, *dns.AAAA:
			cut.addrs = appendAddrs(cut.addrs, []dns.RR{rr})
		}
	}
	for _, n := range cut.nsNames {
		cut.looked[n] = true
	}
	return cut
}

func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// rrsets groups records by owner, type and class, keeping their order.
func rrsets(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		placed := false
		for i, set := range out {
			s := set[0].Header()
			if s.Rrtype == h.Rrtype && s.Class == h.Class && strings.EqualFold(s.Name, h.Name) {
				out[i] = append(set, rr)
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, []dns.RR{rr})
		}
	}
	return out
}
