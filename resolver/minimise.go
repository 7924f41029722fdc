package resolver

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// QNAME minimisation (RFC 9156): how much of the name each query carries
// and how far minimisation is relaxed for a zone whose servers mishandle
// it.

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
// last, at most relaxTypeA: a zone is never remembered as needing full
// names (one bad moment must not send every name there for minutes);
// full names are a per-query fallback (walk.onError).
func (r *Resolver) noteRelax(zone string, level int) {
	level = min(level, relaxTypeA)
	r.relaxed.Add(strings.ToLower(zone), relaxEntry{level: level, until: r.now().Add(serverStatsTTL)})
}

// topZone reports whether zone is the root or a top-level domain, whose
// servers are never sent more of a name than minimisation gives them.
func topZone(zone string) bool { return dns.CountLabel(zone) <= 1 }

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

// suffix returns the last n labels of name; the root for n <= 0 (two
// names with no label in common, such as a name and the root NSEC's
// next name ".", whose common ancestor is the root).
func suffix(name string, n int) string {
	if n <= 0 {
		return "."
	}
	idx := dns.Split(name)
	if n >= len(idx) {
		return name
	}
	return name[idx[len(idx)-n]:]
}
