package resolver

import (
	"context"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Serve-stale (RFC 8767): when the authorities of an expired answer fail
// or are slow, the client gets the expired answer rather than SERVFAIL,
// and the refresh goes on for the next client.

// DefaultStaleClientTimeout is how long a client waits for a refresh
// before it gets the stale answer: Unbound's serve-expired-client-timeout,
// RFC 8767 §5's suggestion.
const DefaultStaleClientTimeout = 1800 * time.Millisecond

// DefaultStaleMaxAge is how long an expired answer is kept for serving
// stale in the cache New makes (cache.Config.StaleFor): a day, RFC 8767
// §5's upper suggestion is a week, Unbound's serve-expired-ttl a day.
const DefaultStaleMaxAge = 24 * time.Hour

// EDEStaleNXDomain is RFC 8914's Stale NXDOMAIN Answer.
const EDEStaleNXDomain uint16 = 19

// serveStale answers q with the expired answer the cache keeps for it,
// if there is one that may be served, when resolve (the refresh, shared
// with every client asking) fails or does not finish within the stale
// client timeout; it reports false, having resolved nothing, when there
// is no such answer. When the refresh succeeds in time its answer is
// served, and when it finishes later it is cached for the next client.
func (r *Resolver) serveStale(ctx context.Context, q *dns.Msg, resolve func(context.Context) (result, error)) (*dns.Msg, bool) {
	if r.cfg.NoServeStale {
		return nil, false
	}
	qq := q.Question[0]
	do := false
	if opt := q.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	stale, meta, ok := r.cache.GetStaleMsg(cache.NewKey(qq.Name, qq.Qtype, qq.Qclass, do && r.cfg.DNSSEC, false), r.now())
	if !ok || stale.Rcode == dns.RcodeServerFailure || dnssec.Status(meta.Security) == dnssec.Bogus {
		return nil, false
	}
	type outcome struct {
		res result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := resolve(ctx)
		done <- outcome{res, err}
	}()
	wait := r.cfg.StaleClientTimeout
	if wait <= 0 {
		wait = DefaultStaleClientTimeout
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case o := <-done:
		if o.err == nil && o.res.msg.Rcode != dns.RcodeServerFailure {
			if m, err := r.clientView(q, r.cache.ClampMsg(qq.Qtype, o.res.msg, r.now()), o.res.meta); err == nil {
				return m, true
			}
		}
	case <-timer.C:
	case <-ctx.Done():
	}
	meta.EDE = EDEStaleAnswer
	if stale.Rcode == dns.RcodeNameError {
		meta.EDE = EDEStaleNXDomain
	}
	m, err := r.clientView(q, stale, meta)
	if err != nil {
		return nil, false
	}
	return m, true
}
