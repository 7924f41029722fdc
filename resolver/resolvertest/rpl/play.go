package rpl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Resolver is the server under test; transport.Handler and
// *resolver.Resolver have this method set.
type Resolver interface {
	ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
}

// Factory builds the resolver under test for scenario s. It must send
// every upstream query through ex and read the time from now; reading
// s.Config (stub-addr, trust-anchor, query-minimization…) is its business,
// and so is allowing the public-looking upstream addresses scenarios use.
type Factory func(s *Scenario, ex Exchanger, now func() time.Time) (Resolver, error)

// Result is the outcome of playing a scenario.
type Result struct {
	// Passed is true when every step ran and every check held.
	Passed bool
	// Skipped is true when the scenario uses something Play does not
	// support; Reason says what. A skipped scenario has not failed.
	Skipped bool
	// Step is the ID of the step that failed or was not supported.
	Step int
	// Reason says why the scenario failed or was skipped.
	Reason string
	// Unmatched lists the upstream queries nothing in the scenario
	// answered (see Network.Unmatched).
	Unmatched []string
}

// StartTime is the clock a scenario starts at: val-override-date
// (YYYYMMDDHHMMSS, UTC; an all-digit value of another length is read as
// Unix seconds, as some files do), else val-override-timestamp (Unix
// seconds), else 2020-01-01T00:00:00Z.
func StartTime(s *Scenario) (time.Time, error) {
	if v, ok := s.ConfigValue("val-override-date"); ok {
		if t, err := time.Parse("20060102150405", v); err == nil {
			return t, nil
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("rpl: val-override-date %q: not YYYYMMDDHHMMSS", v)
	}
	if v, ok := s.ConfigValue("val-override-timestamp"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("rpl: val-override-timestamp %q: %w", v, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), nil
}

// clock is the scenario's time, moved only by TIME_PASSES steps.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Play runs scenario s against the resolver f builds. QUERY steps send
// their entry to ServeDNS (an error becomes SERVFAIL, with an Extended DNS
// Error when the error has an ExtendedDNSError() (uint16, string) method;
// the header fields hush's transport owns — ID, QR, opcode, RD, CD, RA,
// the question, and AD for clients that did not ask — are then set as the
// transport sets them);
// CHECK_ANSWER steps compare the last answer by the entry's MATCH
// elements; TIME_PASSES steps move the clock; REPLY steps are left to
// the Network, and CHECK_OUT_QUERY steps are ignored, as in Deckard. Other
// step types skip the scenario. RAW queries are sent only if they unpack,
// and leave no answer to check: Deckard does not wait for one.
//
// In strict mode a query nothing answers, or a MANDATORY entry left
// unused at the end, fails the scenario; otherwise the network stays
// silent for such queries and Result.Unmatched lists them.
func Play(ctx context.Context, s *Scenario, f Factory, strict bool) Result {
	start, err := StartTime(s)
	if err != nil {
		return Result{Skipped: true, Reason: err.Error()}
	}
	clk := &clock{t: start}
	nw := NewNetwork(s)
	res, err := f(s, nw, clk.now)
	if err != nil {
		return Result{Skipped: true, Reason: fmt.Sprintf("factory: %v", err)}
	}
	p := player{ctx: ctx, s: s, nw: nw, clk: clk, res: res, strict: strict}
	r := p.run()
	r.Unmatched = nw.Unmatched()
	return r
}

type player struct {
	ctx    context.Context
	s      *Scenario
	nw     *Network
	clk    *clock
	res    Resolver
	strict bool
	last   *dns.Msg // the last answer, nil if none
	// answers are the answers no CHECK_ANSWER has matched yet
	// (testbound's answer list).
	answers []*dns.Msg
}

func (p *player) run() Result {
	for i, st := range p.s.Steps {
		if err := p.ctx.Err(); err != nil {
			return Result{Step: st.ID, Reason: err.Error()}
		}
		p.nw.SetStep(st.ID)
		if p.s.Testbound && st.Type == "QUERY" && i+1 < len(p.s.Steps) {
			// testbound moves to the next moment before it sends the
			// query, so the upstream queries it causes are matched
			// against the ranges of the next step.
			p.nw.SetStep(p.s.Steps[i+1].ID)
		}
		switch st.Type {
		case "QUERY":
			if st.Entry == nil {
				return Result{Skipped: true, Step: st.ID, Reason: "QUERY without an entry"}
			}
			if r, stop := p.query(st); stop {
				return r
			}
			if u := p.nw.Unmatched(); p.strict && len(u) > 0 {
				return Result{Step: st.ID, Reason: "unanswered upstream query: " + u[0]}
			}
		case "CHECK_ANSWER":
			if st.Entry == nil {
				return Result{Skipped: true, Step: st.ID, Reason: "CHECK_ANSWER without an entry"}
			}
			if p.last == nil {
				return Result{Step: st.ID, Reason: "no answer to check"}
			}
			want := st.Entry
			if !p.strict && nonMinimal(p.s) {
				want = minimalView(want)
			}
			if p.s.Testbound {
				// testbound checks each answer once, and against any
				// answer not yet checked (queries may be answered out of
				// order): the first that matches.
				found := false
				for i, a := range p.answers {
					if Mismatch(want, a, "") == "" {
						p.answers = append(p.answers[:i:i], p.answers[i+1:]...)
						found = true
						break
					}
				}
				if found {
					continue
				}
			}
			if why := Mismatch(want, p.last, ""); why != "" {
				return Result{Step: st.ID, Reason: why + "\nanswer:\n" + p.last.String()}
			}
		case "TIME_PASSES":
			if st.Unsupported != "" {
				return Result{Skipped: true, Step: st.ID, Reason: st.Unsupported}
			}
			p.clk.advance(st.Elapse)
		case "REPLY", "CHECK_OUT_QUERY", "NOTHING", "TRAFFIC":
			// The Network answers from REPLY steps; Deckard ignores
			// CHECK_OUT_QUERY, a testbound step; testbound does nothing
			// at NOTHING and TRAFFIC steps.
		default:
			return Result{Skipped: true, Step: st.ID, Reason: "unsupported step type " + strings.Join(append([]string{st.Type}, st.Args...), " ")}
		}
	}
	if lines := p.nw.UnusedMandatory(); p.strict && len(lines) > 0 {
		return Result{Reason: fmt.Sprintf("MANDATORY entry at line %d not used", lines[0])}
	}
	return Result{Passed: true}
}

// nonMinimal reports whether s expects Unbound's minimal-responses: no,
// which adds the zone's NS RRset and its addresses to positive answers.
func nonMinimal(s *Scenario) bool {
	v, ok := s.ConfigValue("minimal-responses")
	return ok && strings.EqualFold(v, "no")
}

// minimalView is e as a resolver that always gives minimal responses
// (RFC 4472 §4.4, hush) would answer: for a NOERROR answer without SOA
// (a positive one, or one emptied by rebinding protection), without the
// NS records of the authority section and the address records of the
// additional section, and their signatures. Negative answers keep their
// authority section: the SOA and proofs are no extra. Lenient mode
// compares with it, so that the option hush does not have does not hide
// what the scenario checks otherwise.
func minimalView(e *Entry) *Entry {
	if e.Rcode != dns.RcodeSuccess || slices.ContainsFunc(e.Ns, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeSOA }) {
		return e
	}
	drop := func(rrs []dns.RR, types ...uint16) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if sig, ok := rr.(*dns.RRSIG); ok {
				t = sig.TypeCovered
			}
			if !slices.Contains(types, t) {
				out = append(out, rr)
			}
		}
		return out
	}
	c := *e
	c.Ns = drop(e.Ns, dns.TypeNS)
	c.Extra = drop(e.Extra, dns.TypeA, dns.TypeAAAA)
	return &c
}

// query sends a QUERY step's message; stop is set when the scenario
// cannot go on.
func (p *player) query(st *Step) (r Result, stop bool) {
	q, err := Query(st.Entry, uint16(st.ID))
	if err != nil {
		// Deckard sends such bytes and expects no answer; ServeDNS
		// takes only parsed messages.
		if st.Entry.Raw != nil {
			p.last = nil
			return Result{}, false
		}
		return Result{Skipped: true, Step: st.ID, Reason: err.Error()}, true
	}
	a, err := p.res.ServeDNS(p.ctx, q)
	if st.Entry.Raw != nil && !p.s.Testbound {
		// Deckard does not wait for the answer to a RAW query;
		// testbound checks the answer to a HEX_ANSWER one.
		p.last = nil
		return Result{}, false
	}
	if err != nil {
		a = servfail(q, err)
	}
	if a == nil {
		return Result{Step: st.ID, Reason: "ServeDNS returned neither an answer nor an error"}, true
	}
	p.last = clientView(q, a)
	p.answers = append(p.answers, p.last)
	return Result{}, false
}

// Query builds the message a QUERY step sends: Message(e) with the given
// ID. A RAW entry is unpacked instead.
func Query(e *Entry, id uint16) (*dns.Msg, error) {
	if e.Raw != nil {
		m := new(dns.Msg)
		if err := m.Unpack(e.Raw); err != nil {
			return nil, fmt.Errorf("rpl: raw query: %w", err)
		}
		return m, nil
	}
	m := Message(e)
	m.Id = id
	return m, nil
}

// clientView is the answer as a client sees it through hush's transport,
// which owns some header fields and rebuilds them from the query: ID, QR,
// opcode, RD, CD, RA and the question. AD reaches only clients that set
// AD or DO (RFC 6840 §5.8). The rcode, AA and the sections are the
// resolver's. a is not modified.
func clientView(q, a *dns.Msg) *dns.Msg {
	m := a.Copy()
	m.Id, m.Response, m.Opcode = q.Id, true, q.Opcode
	m.RecursionDesired, m.CheckingDisabled, m.RecursionAvailable = q.RecursionDesired, q.CheckingDisabled, true
	do := q.IsEdns0() != nil && q.IsEdns0().Do()
	m.AuthenticatedData = a.AuthenticatedData && (q.AuthenticatedData || do)
	m.Question = append([]dns.Question(nil), q.Question...)
	return m
}

// servfail is the answer a server gives when the resolver fails: SERVFAIL
// with the Extended DNS Error the error carries, if any.
func servfail(q *dns.Msg, err error) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	m.CheckingDisabled = q.CheckingDisabled
	var ede interface{ ExtendedDNSError() (uint16, string) }
	if q.IsEdns0() != nil {
		m.SetEdns0(4096, q.IsEdns0().Do())
		if errors.As(err, &ede) {
			code, text := ede.ExtendedDNSError()
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: code, ExtraText: text})
		}
	}
	return m
}
