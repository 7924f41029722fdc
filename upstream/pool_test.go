package upstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fake is an in-memory Upstream: it answers with rcode, fails with err,
// or blocks until ctx ends when hang is set.
type fake struct {
	name  string
	rcode int
	err   error
	hang  bool
	delay chan struct{} // when set, replies wait for it to close
	calls atomic.Int32
	// entered, when set, receives a value as each query arrives.
	entered chan struct{}
}

func (f *fake) String() string { return f.name }
func (f *fake) Close() error   { return nil }

func (f *fake) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	f.calls.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.delay != nil {
		select {
		case <-f.delay:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	r := new(dns.Msg)
	r.SetRcode(q, f.rcode)
	if f.rcode == dns.RcodeSuccess {
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN TXT " + f.name)
		r.Answer = append(r.Answer, rr)
	}
	return r, nil
}

func from(r *dns.Msg) string {
	if r == nil || len(r.Answer) == 0 {
		return ""
	}
	return r.Answer[0].(*dns.TXT).Txt[0]
}

func newTestPool(t *testing.T, policy Policy, ups ...*fake) (*Pool, *logBuf) {
	t.Helper()
	list := make([]Upstream, len(ups))
	for i, u := range ups {
		list[i] = u
	}
	var log logBuf
	p, err := NewPool(list, policy, 0, Options{Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	return p, &log
}

func TestPoolFailover(t *testing.T) {
	broken := errors.New("connection refused")
	tests := []struct {
		name   string
		policy Policy
		ups    []*fake
		want   string // answering upstream; "" for none
		rcode  int
		err    bool
	}{
		{"strict first", Strict, []*fake{{name: "a"}, {name: "b"}}, "a", dns.RcodeSuccess, false},
		{"strict next on error", Strict, []*fake{{name: "a", err: broken}, {name: "b"}}, "b", dns.RcodeSuccess, false},
		{"strict next on REFUSED", Strict, []*fake{{name: "a", rcode: dns.RcodeRefused}, {name: "b"}}, "b", dns.RcodeSuccess, false},
		{"strict next on SERVFAIL", Strict, []*fake{{name: "a", rcode: dns.RcodeServerFailure}, {name: "b"}}, "b", dns.RcodeSuccess, false},
		{"NXDOMAIN is an answer", Strict, []*fake{{name: "a", rcode: dns.RcodeNameError}, {name: "b"}}, "", dns.RcodeNameError, false},
		{"all SERVFAIL", Strict, []*fake{{name: "a", rcode: dns.RcodeServerFailure}, {name: "b", rcode: dns.RcodeServerFailure}}, "", dns.RcodeServerFailure, false},
		{"all fail", Strict, []*fake{{name: "a", err: broken}, {name: "b", err: broken}}, "", 0, true},
		{"silent one passed over", Strict, []*fake{{name: "a", hang: true}, {name: "b"}}, "b", dns.RcodeSuccess, false},
		{"fastest next on error", Fastest, []*fake{{name: "a", err: broken}, {name: "b", err: broken}, {name: "c"}}, "c", dns.RcodeSuccess, false},
		{"parallel", Parallel, []*fake{{name: "a", err: broken}, {name: "b", hang: true}, {name: "c"}}, "c", dns.RcodeSuccess, false},
		{"parallel all fail", Parallel, []*fake{{name: "a", err: broken}, {name: "b", rcode: dns.RcodeRefused}}, "", dns.RcodeRefused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestPool(t, tt.policy, tt.ups...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			r, err := p.Exchange(ctx, query("x.test", dns.TypeTXT))
			if tt.err {
				if err == nil || !errors.Is(err, ErrAllFailed) {
					t.Fatalf("got %v, %v; want ErrAllFailed", r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v", err)
			}
			if r.Rcode != tt.rcode || from(r) != tt.want {
				t.Errorf("got rcode %d from %q, want %d from %q", r.Rcode, from(r), tt.rcode, tt.want)
			}
		})
	}
}

// TestPoolHoldDown: a failed upstream is asked after the others until
// its hold-down ends, and logged once, by address only.
func TestPoolHoldDown(t *testing.T) {
	a := &fake{name: "a", err: errors.New("connection refused")}
	b := &fake{name: "b"}
	p, log := newTestPool(t, Strict, a, b)
	for range 5 {
		if r, err := ask(t, p, "secret.test"); err != nil || from(r) != "b" {
			t.Fatalf("got %v, %v; want b's answer", r, err)
		}
	}
	if n := a.calls.Load(); n != 1 {
		t.Errorf("held-down upstream asked %d times, want once", n)
	}
	lines := log.get()
	if len(lines) != 1 || !strings.Contains(lines[0], "upstream a") || strings.Contains(lines[0], "secret") {
		t.Errorf("log: got %q", lines)
	}
	// The hold-down ends: a is asked again and, working now, is back.
	p.members[0].mu.Lock()
	p.members[0].downUntil = time.Now().Add(-time.Second)
	p.members[0].mu.Unlock()
	a.err = nil
	if r, _ := ask(t, p, "x.test"); from(r) != "a" {
		t.Errorf("after the hold-down: got %q, want a", from(r))
	}
	if lines := log.get(); len(lines) != 2 || !strings.Contains(lines[1], "answers again") {
		t.Errorf("log: got %q", lines)
	}
}

// TestPoolFastest: the upstream with the lower smoothed RTT is asked
// first, and now and then (one in 20) the other, so that its estimate
// stays fresh. The order is checked directly: the fakes answer at once, so
// exchanges would measure the same RTT for both.
func TestPoolFastest(t *testing.T) {
	slow := &fake{name: "slow"}
	fast := &fake{name: "fast"}
	p, _ := newTestPool(t, Fastest, slow, fast)
	p.members[0].srtt = 200 * time.Millisecond
	p.members[1].srtt = 5 * time.Millisecond
	first := map[string]int{}
	for range 2000 {
		first[p.order(time.Now())[0].u.String()]++
	}
	if first["fast"] < 1800 || first["slow"] == 0 {
		t.Errorf("first in order: %v; want the fast one about 19 times in 20, the slow one sometimes", first)
	}
}

// TestPoolBounded: no more than maxInFlight queries reach the upstreams
// at once.
func TestPoolBounded(t *testing.T) {
	gate := make(chan struct{})
	f := &fake{name: "a", delay: gate, entered: make(chan struct{}, 5)}
	p, err := NewPool([]Upstream{f}, Strict, 2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); p.Exchange(ctx, query("x.test", dns.TypeA)) }()
	}
	// Two get through; the other three wait for a slot until cancelled.
	<-f.entered
	<-f.entered
	cancel()
	wg.Wait()
	if n := f.calls.Load(); n != 2 {
		t.Errorf("upstream saw %d queries at once, want 2", n)
	}
}

// TestPoolCertificateSaidOnce: a pool over an upstream whose certificate
// is refused logs one line, the upstream's, however many queries come.
func TestPoolCertificateSaidOnce(t *testing.T) {
	c, other := newCert(t), newCert(t)
	addr := startDoT(t, tconfig(&zone{}), c)
	var log logBuf
	opts := Options{Logf: log.logf}
	s, err := Parse("tls://" + addr.String() + "?pin=" + other.pin)
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPool([]Upstream{u}, Fastest, 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		if _, err := ask(t, p, "secret.test"); err == nil {
			t.Fatal("got an answer, want the certificate refused")
		}
	}
	if lines := log.get(); len(lines) != 1 || !strings.Contains(lines[0], "certificate refused") || strings.Contains(lines[0], "secret") {
		t.Errorf("log: got %q, want one certificate line", lines)
	}
}
