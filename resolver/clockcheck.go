package resolver

import (
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

// A router boots with its clock in 1970, or at its firmware's build date,
// until NTP answers; and NTP needs DNS. A validator that checked signature
// times then would fail every signed answer, NTP's included, and never
// get out. While the wall clock is before Config.ClockNotBefore (hush's
// build time, at least), hush validates everything but signature times,
// answers what passes without AD and with EDE 5 saying why, and marks all
// it caches meanwhile (cache.Meta.Unchecked). The clock is looked at per
// query, so the first query after NTP has set it is validated in full,
// and the marked data is passed over from then on: nothing validated
// without times outlives the switch.

// EDEDNSSECIndeterminate is RFC 8914's "DNSSEC Indeterminate" (5):
// validation was attempted and ended neither Secure nor Bogus. It is the
// code for answers checked without signature times: everything else was
// verified, so "Bogus" (6) would be false and make clients fail, and
// "Signature Expired/Not Yet Valid" (7, 8) would claim a check that was
// not made. The EXTRA-TEXT names the cause.
const EDEDNSSECIndeterminate uint16 = 5

// clockUnsetText is the EXTRA-TEXT of EDE 5 on answers validated without
// signature times.
const clockUnsetText = "clock not set: signature times not checked"

// ClockPlausible reports whether the wall clock (Config.Now) is at or
// after Config.ClockNotBefore and after the inception of every root
// signature seen to verify, so that signature times can be checked. It
// is cheap enough to call per query.
func (r *Resolver) ClockPlausible() bool {
	nb := r.cfg.ClockNotBefore
	if f := r.clockFloor.Load(); f != 0 && f > nb.Unix() {
		nb = time.Unix(f, 0)
	}
	return nb.IsZero() || !r.wall().Before(nb)
}

// noteClock raises the clock's floor to the inception of a root signature
// the query found valid but for its time (dnssec.Budget.FutureInception):
// the root signs nothing ahead of time, so a clock before that is behind,
// as on a router whose clock came back from a file's date at boot. What
// was judged by the wrong clock (Bogus answers and keys) is forgotten, so
// that the next query validates without times (no AD, EDE 5) rather than
// failing. It reports whether it raised the floor: then the query's own
// answer, judged by the wrong clock too, is not to be cached.
func (r *Resolver) noteClock(qs *qstate) bool {
	t, ok := qs.shared.spent().FutureInception(r.wall())
	if !ok {
		return false
	}
	for {
		old := r.clockFloor.Load()
		if t.Unix() <= old {
			return false
		}
		if r.clockFloor.CompareAndSwap(old, t.Unix()) {
			// Rare (at most once per boot, in practice), and the cache
			// of a machine that just booted holds little.
			r.FlushAll()
			return true
		}
	}
}

// usable reports whether cached data with meta may be used: data validated
// without signature times may not once the clock can be trusted.
func (r *Resolver) usable(meta cache.Meta) bool {
	return !meta.Unchecked || !r.ClockPlausible()
}

// mark returns meta marked Unchecked if it or the query is, and marks the
// query if meta was: whatever a query builds from unchecked data is
// unchecked too.
func (qs *qstate) mark(meta cache.Meta) cache.Meta {
	qs.unchecked = qs.unchecked || meta.Unchecked
	meta.Unchecked = qs.unchecked
	return meta
}

// uncheckedEDE returns the EDE for an answer validated without signature
// times, or nil. An answer whose own EDE says more (an unsupported
// algorithm, say) keeps it.
func uncheckedEDE(meta cache.Meta) *dns.EDNS0_EDE {
	if !meta.Unchecked || meta.EDE != 0 {
		return nil
	}
	return &dns.EDNS0_EDE{InfoCode: EDEDNSSECIndeterminate, ExtraText: clockUnsetText}
}
