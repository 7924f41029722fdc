package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hush-dns/hush/filter"
	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
)

// stage is what answers queries under one configuration: the answer
// policy (local data, hosts files, blocklists, RPZ), then the resolver.
// A reload builds a new stage and swaps it in whole; queries already
// running finish on the stage they started with, so none fails.
type stage struct {
	policy  *filter.Policy // nil: no policy
	res     *resolver.Resolver
	closers []io.Closer // what res holds open: forwarders' pools
}

// liveHandler holds the current stage.
type liveHandler struct {
	cur atomic.Pointer[stage]
}

func newLiveHandler(s *stage) *liveHandler {
	l := &liveHandler{}
	l.cur.Store(s)
	return l
}

// swap installs s and returns the stage it replaces.
func (l *liveHandler) swap(s *stage) *stage { return l.cur.Swap(s) }

func (l *liveHandler) stage() *stage { return l.cur.Load() }

// observed is the transport.Handler of one kind of listener: it answers
// through the current stage and counts what happened, by transport,
// never by whom or for what name.
type observed struct {
	live *liveHandler
	m    *metrics.Metrics
	t    metrics.Transport
}

var (
	_ transport.Handler       = (*observed)(nil)
	_ transport.CacheAnswerer = (*observed)(nil)
	_ transport.WireAnswerer  = (*observed)(nil)
)

// AppendCached is AnswerCached without a dns.Msg (transport.WireAnswerer),
// counted alike. The answer policy matches names of a dns.Msg, so with a
// policy every query goes the AnswerCached way instead.
func (o *observed) AppendCached(dst, qname []byte, qtype uint16, do, cd, ad bool) ([]byte, bool) {
	s := o.live.stage()
	if s.policy != nil {
		return dst, false
	}
	start := len(dst)
	out, ok := s.res.AppendCached(dst, qname, qtype, do, cd, ad)
	if !ok {
		return dst, false
	}
	flags := binary.BigEndian.Uint16(out[start+2:])
	o.m.Query(o.t, qtype)
	o.m.CacheHit()
	// A wire hit carries no EDE (those go the AnswerCached way) and AD
	// only where AnswerCached's answer would: statusOf's reading.
	status := metrics.Insecure
	if flags&(1<<5) != 0 {
		status = metrics.Secure
	}
	o.m.Answer(int(flags&0xF), status, -1, 0)
	return out, true
}

// AnswerCached answers from the policy or the cache, inline on the
// listener's goroutine (neither blocks). A miss is counted by ServeDNS,
// which the transport calls next.
//
// It reads no clock: a hit or a policy answer takes microseconds, below
// the latency histogram's first bucket, where it is counted; two clock
// reads would cost a tenth of the hit (measured on a VM's clock source).
func (o *observed) AnswerCached(q *dns.Msg) (*dns.Msg, bool) {
	s := o.live.stage()
	if r, ok := o.policy(s, q, time.Time{}); ok {
		return r, true
	}
	r, ok := s.res.AnswerCached(q)
	if !ok {
		return nil, false
	}
	o.m.Query(o.t, qtype(q))
	o.m.CacheHit()
	o.answered(r, time.Time{})
	return r, true
}

// ServeDNS answers from the policy, the cache (for transports that do not
// call AnswerCached first) or by resolving.
func (o *observed) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	start := time.Now()
	s := o.live.stage()
	if r, ok := o.policy(s, q, start); ok {
		return r, nil
	}
	o.m.Query(o.t, qtype(q))
	if r, ok := s.res.AnswerCached(q); ok {
		o.m.CacheHit()
		o.answered(r, start)
		return r, nil
	}
	o.m.CacheMiss()
	r, err := s.res.ServeDNS(ctx, q)
	if err != nil {
		ede := -1
		var xe transport.ExtendedError
		if errors.As(err, &xe) {
			code, _ := xe.ExtendedDNSError()
			ede = int(code)
		}
		o.m.Answer(dns.RcodeServerFailure, statusOf(nil, ede), ede, time.Since(start))
		return nil, err
	}
	o.answered(r, start)
	return r, nil
}

// policy answers q from the stage's policy when a rule other than
// passthru matches.
func (o *observed) policy(s *stage, q *dns.Msg, start time.Time) (*dns.Msg, bool) {
	if s.policy == nil {
		return nil, false
	}
	r, action := s.policy.Answer(q)
	if r == nil {
		return nil, false
	}
	o.m.Query(o.t, qtype(q))
	if action == filter.Local {
		o.m.Policy(metrics.LocalData)
	} else {
		o.m.Policy(metrics.Blocked)
	}
	o.answered(r, start)
	return r, true
}

// answered counts r, sent since start (zero: a fast-path answer, counted
// as taking no time).
func (o *observed) answered(r *dns.Msg, start time.Time) {
	ede := edeOf(r)
	if ede == int(dns.ExtendedErrorCodeStaleAnswer) || ede == int(dns.ExtendedErrorCodeStaleNXDOMAINAnswer) {
		// RFC 8767 answers say so with EDE 3 or 19 (RFC 8914).
		o.m.Stale()
	}
	var d time.Duration
	if !start.IsZero() {
		d = time.Since(start)
	}
	o.m.Answer(r.Rcode, statusOf(r, ede), ede, d)
}

func qtype(q *dns.Msg) uint16 {
	if len(q.Question) == 0 {
		return 0
	}
	return q.Question[0].Qtype
}

// edeOf returns the first Extended DNS Error code of r, or -1.
func edeOf(r *dns.Msg) int {
	opt := r.IsEdns0()
	if opt == nil {
		return -1
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			return int(e.InfoCode)
		}
	}
	return -1
}

// statusOf is the DNSSEC status an answer shows: Secure when it carries
// AD (the resolver sets it only for validated data and clients that asked
// with DO or AD), Bogus when its EDE is one of validation's failures
// (RFC 8914 §4.7-4.13), Insecure otherwise. Answers to clients that did
// not ask for DNSSEC count as Insecure even when the data was Secure.
func statusOf(r *dns.Msg, ede int) metrics.DNSSECStatus {
	switch {
	case r != nil && r.AuthenticatedData:
		return metrics.Secure
	case ede >= int(dns.ExtendedErrorCodeDNSBogus) && ede <= int(dns.ExtendedErrorCodeNSECMissing):
		return metrics.Bogus
	}
	return metrics.Insecure
}

// countingExchanger counts upstream queries, timeouts and round-trip
// times, by what happened: never by server or name.
type countingExchanger struct {
	ex resolver.Exchanger
	m  *metrics.Metrics
	h  *upstreamHealth // nil: not followed
}

func (c *countingExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	start := time.Now()
	r, err := c.ex.Exchange(ctx, network, server, q)
	c.h.observe(err)
	var ne net.Error
	switch {
	case err == nil:
		c.m.UpstreamQuery(time.Since(start))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		c.m.UpstreamTimeout()
	default:
		c.m.UpstreamError()
	}
	return r, err
}

// countingForwarder counts the questions handed to a forwarder as upstream
// queries, with the same outcomes as countingExchanger.
type countingForwarder struct {
	fw resolver.Forwarder
	m  *metrics.Metrics
	h  *upstreamHealth // nil: not followed
}

func (c *countingForwarder) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	start := time.Now()
	r, err := c.fw.Exchange(ctx, q)
	c.h.observe(err)
	var ne net.Error
	switch {
	case err == nil:
		c.m.UpstreamQuery(time.Since(start))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		c.m.UpstreamTimeout()
	default:
		c.m.UpstreamError()
	}
	return r, err
}
