package resolver

import (
	"context"

	"github.com/miekg/dns"
)

// MaxPrefetches bounds the prefetches that run at once; one that would
// exceed it is skipped (the answer then expires and is resolved on
// demand, as without prefetch). With the cache handing out each answer's
// prefetch once (cache.Meta.Prefetch), prefetch traffic follows the
// answers that expire, never the queries that arrive.
const MaxPrefetches = 32

// prefetch refreshes the answer to (name, qtype) in the background,
// through the in-flight table, so that a client asking meanwhile shares
// the work. It never waits.
func (r *Resolver) prefetch(name string, qtype uint16) {
	if r.cfg.NoPrefetch {
		return
	}
	select {
	case r.prefetches <- struct{}{}:
	default:
		return
	}
	key := r.fullKey(name, qtype)
	go func() {
		defer func() { <-r.prefetches }()
		ctx, cancel := context.WithTimeout(context.Background(), r.lim.Timeout)
		defer cancel()
		_, _, _ = r.qflights.do(ctx, key, func() (result, error) {
			qs := newQState(&r.lim)
			qs.refresh = qkey{key.Name, qtype}
			return r.resolveTopWith(ctx, cancel, qs, key.Name, qtype)
		})
	}()
}

// prefetchWire is prefetch for a question name in wire form, from the
// listeners' hit path (AppendCached). Spelling the name allocates, which
// is why the hit path calls it only for the one read of an answer that
// carries Meta.Prefetch.
func (r *Resolver) prefetchWire(qname []byte, qtype uint16) {
	if r.cfg.NoPrefetch {
		return
	}
	name, _, err := dns.UnpackDomainName(qname, 0)
	if err != nil {
		return
	}
	r.prefetch(name, qtype)
}
