package upstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Policy is how a Pool chooses among its upstreams.
type Policy int

const (
	// Fastest, the default, asks the upstream with the lowest smoothed
	// round-trip time first, now and then (one query in 20) another one
	// so that its estimate stays fresh, and moves on to the next on
	// failure. It is the default because it sends each query to one
	// upstream only (the least traffic and the least exposure of what is
	// asked) while still following the quickest.
	Fastest Policy = iota
	// Parallel asks every upstream that is not held down at once; the
	// first usable reply wins. The quickest answers at the cost of
	// telling every upstream every query.
	Parallel
	// Strict asks the upstreams in the order given, the next only when
	// the one before failed: for a primary and a backup.
	Strict
)

func (p Policy) String() string {
	switch p {
	case Parallel:
		return "parallel"
	case Strict:
		return "strict"
	}
	return "fastest"
}

// ParsePolicy parses "fastest", "parallel" or "strict".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "fastest", "":
		return Fastest, nil
	case "parallel":
		return Parallel, nil
	case "strict":
		return Strict, nil
	}
	return 0, fmt.Errorf("policy %q: want fastest, parallel or strict", s)
}

// DefaultMaxInFlight bounds the queries a Pool has in flight at once.
const DefaultMaxInFlight = 1024

// ErrAllFailed is returned when no upstream gave a reply.
var ErrAllFailed = errors.New("every upstream failed")

// Pool spreads queries over several upstreams and fails over. It is an
// Upstream itself.
//
// An upstream that fails (no reply, a refused certificate, a malformed
// reply, or REFUSED) is held down: it is asked only after the others, for
// 1 s after its first failure, doubling with each further one up to
// 2 minutes, and a success ends the hold-down. A query whose upstream
// fails goes to the next one within ctx's deadline; an upstream is given
// a share of the remaining time based on its round-trip time when others
// remain, so that a silent one cannot eat the whole budget. A SERVFAIL
// reply also moves the query on (it may be that upstream's problem) but
// holds nothing down; when every upstream fails, the last SERVFAIL (with
// its Extended DNS Error) is the answer, and only when none replied at
// all is the result an error.
type Pool struct {
	members []*member
	policy  Policy
	opts    Options
	sem     chan struct{}
}

type member struct {
	u Upstream

	mu        sync.Mutex
	srtt      time.Duration // mu guards; 0 until the first reply
	fails     int           // mu guards; consecutive failures
	downUntil time.Time     // mu guards
}

// NewPool returns a pool of ups (which it now owns: Close closes them).
// maxInFlight <= 0 means DefaultMaxInFlight.
func NewPool(ups []Upstream, policy Policy, maxInFlight int, opts Options) (*Pool, error) {
	if len(ups) == 0 {
		return nil, errors.New("upstream pool: no upstreams")
	}
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	p := &Pool{policy: policy, opts: opts, sem: make(chan struct{}, maxInFlight)}
	for _, u := range ups {
		p.members = append(p.members, &member{u: u})
	}
	return p, nil
}

// Upstreams returns the pool's upstreams in the order given.
func (p *Pool) Upstreams() []Upstream {
	out := make([]Upstream, len(p.members))
	for i, m := range p.members {
		out[i] = m.u
	}
	return out
}

// String names the upstreams.
func (p *Pool) String() string {
	names := make([]string, len(p.members))
	for i, m := range p.members {
		names[i] = m.u.String()
	}
	return strings.Join(names, ",")
}

// Close closes every upstream.
func (p *Pool) Close() error {
	var errs []error
	for _, m := range p.members {
		errs = append(errs, m.u.Close())
	}
	return errors.Join(errs...)
}

// ResetConnections forgets what the pool learnt about its upstreams (round
// trip times, failures, hold-downs) and has every upstream that can drop
// its open connections do so, for a machine that has moved to another
// network (hush's netwatch): those were measured and opened on the old one.
// Queries in flight are not interrupted.
func (p *Pool) ResetConnections() {
	for _, m := range p.members {
		m.mu.Lock()
		m.srtt, m.fails, m.downUntil = 0, 0, time.Time{}
		m.mu.Unlock()
		if r, ok := m.u.(interface{ ResetConnections() }); ok {
			r.ResetConnections()
		}
	}
}

// Exchange implements Upstream.
func (p *Pool) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("upstream pool: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("upstream pool: %w", ctx.Err())
	}
	order := p.order(time.Now())
	if p.policy == Parallel && len(order) > 1 {
		return p.parallel(ctx, q, order)
	}
	var (
		last    *dns.Msg
		lastErr error
	)
	for i, m := range order {
		if ctx.Err() != nil {
			break
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if i < len(order)-1 {
			actx, cancel = context.WithTimeout(ctx, m.budget(ctx))
		}
		r, err := p.ask(actx, ctx, m, q)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if !usable(r) {
			last = r
			continue
		}
		return r, nil
	}
	if last != nil {
		return last, nil
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, fmt.Errorf("%w: %w", ErrAllFailed, lastErr)
}

func (p *Pool) parallel(ctx context.Context, q *dns.Msg, order []*member) (*dns.Msg, error) {
	// Only the upstreams not held down, unless all are.
	now := time.Now()
	live := slices.DeleteFunc(slices.Clone(order), func(m *member) bool { return m.down(now) })
	if len(live) == 0 {
		live = order
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		r   *dns.Msg
		err error
	}
	ch := make(chan res, len(live))
	for _, m := range live {
		go func() {
			r, err := p.ask(ctx, ctx, m, q)
			ch <- res{r, err}
		}()
	}
	var (
		last    *dns.Msg
		lastErr error
	)
	for range live {
		x := <-ch
		switch {
		case x.err != nil:
			lastErr = x.err
		case usable(x.r):
			return x.r, nil
		default:
			last = x.r
		}
	}
	if last != nil {
		return last, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrAllFailed, lastErr)
}

// ask asks one member and books the outcome. parent is the caller's
// context: a timeout that is the caller's, not the attempt's, blames
// nobody.
func (p *Pool) ask(actx, parent context.Context, m *member, q *dns.Msg) (*dns.Msg, error) {
	start := time.Now()
	r, err := m.u.Exchange(actx, q)
	switch {
	case err != nil:
		if parent.Err() == nil {
			p.failed(m, err)
		}
		return nil, err
	case r.Rcode == dns.RcodeRefused:
		p.failed(m, errors.New("answered REFUSED"))
	default:
		p.worked(m, time.Since(start))
	}
	return r, nil
}

// usable reports whether r ends the search: anything but SERVFAIL,
// REFUSED, NOTIMP and FORMERR.
func usable(r *dns.Msg) bool {
	switch r.Rcode {
	case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
		return false
	}
	return true
}

const (
	firstHoldDown = time.Second
	maxHoldDown   = 2 * time.Minute
	// defaultRTT stands for an upstream not yet measured.
	defaultRTT = 300 * time.Millisecond
)

func (p *Pool) failed(m *member, err error) {
	m.mu.Lock()
	m.fails++
	hold := min(firstHoldDown<<min(m.fails-1, 10), maxHoldDown)
	m.downUntil = time.Now().Add(hold)
	first := m.fails == 1
	// A failure also weighs on the estimate, so that a flaky upstream
	// sinks in the order.
	m.srtt = min(max(m.srtt, defaultRTT)*2, 10*time.Second)
	m.mu.Unlock()
	// A refused certificate is said once by the upstream itself.
	if first && p.opts.Logf != nil && !errors.Is(err, ErrCertificate) {
		p.opts.Logf("upstream %s: held down: %v", m.u, err)
	}
}

func (p *Pool) worked(m *member, rtt time.Duration) {
	m.mu.Lock()
	wasDown := m.fails > 0
	m.fails = 0
	m.downUntil = time.Time{}
	if m.srtt == 0 {
		m.srtt = rtt
	} else {
		// RFC 6298's smoothing, as the iterator's server selection does.
		m.srtt = (7*m.srtt + rtt) / 8
	}
	m.mu.Unlock()
	if wasDown && p.opts.Logf != nil {
		p.opts.Logf("upstream %s: answers again", m.u)
	}
}

func (m *member) down(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return now.Before(m.downUntil)
}

func (m *member) rtt() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.srtt
}

// budget is how long m may take when others remain: four times its
// smoothed RTT (at least 400 ms, to let an upstream resolve a cache miss),
// at most half the time left.
func (m *member) budget(ctx context.Context) time.Duration {
	est := m.rtt()
	if est == 0 {
		est = defaultRTT
	}
	b := max(4*est, 400*time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		b = min(b, max(time.Until(dl)/2, time.Millisecond))
	}
	return b
}

// order is the order in which to ask: by policy, the held-down ones last.
func (p *Pool) order(now time.Time) []*member {
	up := make([]*member, 0, len(p.members))
	var down []*member
	for _, m := range p.members {
		if m.down(now) {
			down = append(down, m)
		} else {
			up = append(up, m)
		}
	}
	if p.policy == Fastest && len(up) > 1 {
		rtts := make(map[*member]time.Duration, len(up))
		for _, m := range up {
			rtts[m] = m.rtt()
		}
		// Unmeasured upstreams (RTT 0) come first: they get measured.
		slices.SortStableFunc(up, func(a, b *member) int { return cmp.Compare(rtts[a], rtts[b]) })
		if rand.IntN(20) == 0 {
			i := 1 + rand.IntN(len(up)-1)
			up[0], up[i] = up[i], up[0]
		}
	}
	// The held-down ones by when they come back.
	slices.SortStableFunc(down, func(a, b *member) int {
		a.mu.Lock()
		ta := a.downUntil
		a.mu.Unlock()
		b.mu.Lock()
		tb := b.downUntil
		b.mu.Unlock()
		return ta.Compare(tb)
	})
	return append(up, down...)
}
