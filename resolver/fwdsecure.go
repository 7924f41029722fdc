package resolver

import (
	"context"
	"strings"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Through a forwarder, the zone cuts are unknown: the forwarder answers
// for every zone, and an RRset without signatures may be an unsigned
// zone's or a signed zone's whose signatures were stripped on the way.
// provenInsecure tells the two apart as Unbound's validator does: it walks
// down from the root asking for the DS of each ancestor of the name
// (through the forwarders, each answer validated in turn) until the chain
// of trust ends in a proven insecure delegation (a DS denial whose NSEC or
// NSEC3 shows NS and no SOA, or an opt-out span) or reaches the name with
// every zone on the way signed.

// provenInsecure reports whether name lies below a zone cut the chain of
// trust proves unsigned, or outside every trust anchor. An error means a
// DS could not be fetched.
func (r *Resolver) provenInsecure(ctx context.Context, qs *qstate, name string) (bool, error) {
	name = dns.CanonicalName(name)
	now := r.now()
	labels := dns.SplitDomainName(name)
	for i := len(labels) - 1; i >= 0; i-- {
		z := strings.Join(labels[i:], ".") + "."
		if dnssec.UnderNTA(r.cfg.NegativeAnchors, z, r.wall()) || r.anchors.Load().Closest(z) == nil {
			return true, nil
		}
		if e, ok := r.keys.Get(z); ok && r.live(e, now) {
			qs.unchecked = qs.unchecked || e.unchecked
			switch e.ks.Status {
			case dnssec.Insecure:
				return true, nil
			case dnssec.Secure:
				continue
			}
		}
		if r.anchors.Load().Lookup(z) != nil {
			continue
		}
		ds, meta, err := r.lookup(ctx, qs, z, dns.TypeDS)
		if err != nil {
			return false, err
		}
		switch dnssec.Status(meta.Security) {
		case dnssec.Insecure:
			// The DS answer itself is provably unsigned: an opt-out
			// span, or a parent already insecure.
			r.keepKeys(qs, z, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now)
			return true, nil
		case dnssec.Secure:
		default:
			return false, nil
		}
		if hasRRset(ds.Answer, z, dns.TypeDS) {
			continue // a signed zone: its children are judged below
		}
		if ds.Rcode == dns.RcodeNameError {
			// z is absent from the public tree: so is every name
			// below it, and one the operator routes to their own
			// servers (office.corp. below an absent corp.) is theirs,
			// unsigned.
			return r.private(z) || r.private(name), nil
		}
		if provesDelegation(ds, z, r.budget(qs)) {
			r.keepKeys(qs, z, dnssec.KeySet{Result: dnssec.Result{Status: dnssec.Insecure}}, now)
			return true, nil
		}
		// No DS and no cut: z is a name inside its parent's zone.
	}
	return false, nil
}
