package resolver

import (
	"context"

	"github.com/hush-dns/hush/cache"
)

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
			cut.markTried(server)
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
		r.keepAnswerRRsets(resp, status, qs.unchecked)
		return result{m, cache.Meta{Rank: cache.RankAnswerNonAuth, Security: cache.Security(status), EDE: code}}, nil
	}
}

// forwardCut is the zone cut forward queries: the forwarders, for the
// whole tree.
func (r *Resolver) forwardCut() *zoneCut {
	cut := &zoneCut{zone: "."}
	for _, f := range r.cfg.Forwarders {
		if a := f.Addr().Unmap(); !containsAddr(cut.addrs, a) {
			cut.addrs = append(cut.addrs, a)
		}
	}
	return cut
}
