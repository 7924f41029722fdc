package resolvertest

import (
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// DNSSEC in the answering engine, for queries with DO set to a signed zone
// (one with RRSIGs at its apex, NSD's zone_is_secure). It follows NSD 4's
// query.c and nsec3.c so that TestSignedMatchesNSD holds:
//
//   - every RRset added from zone data brings the RRSIGs at its owner
//     that cover its type (renamed with it for wildcard answers);
//   - referral: the DS RRset at the cut, else the proof that there is
//     none (the NSEC at the cut; the NSEC3 matching the cut, or for an
//     opt-out cut the closest provable encloser's plus the one covering
//     the next closer name);
//   - NODATA: the NSEC at or before the name (for an empty non-terminal,
//     the one before it); the NSEC3 matching the name, the DS proof above
//     for DS, the closest encloser's and the wildcard's for wildcard NODATA;
//   - NXDOMAIN: the NSECs covering the name and the wildcard at the
//     closest encloser; the three NSEC3s of the closest encloser proof
//     (RFC 5155 §7.2.2);
//   - wildcard answer: the NSEC covering the name, or the NSEC3 covering
//     the next closer name (RFC 5155 §7.2.6).
//
// Without DO nothing of this is added, as NSD adds none of it.

// dnssecIndex is what a zone's DNSSEC answers need.
type dnssecIndex struct {
	secure bool            // RRSIGs at the apex
	nsec   []string        // owners of NSEC RRsets, canonical order
	nsec3  *dns.NSEC3PARAM // nil: no NSEC3 chain
	hashes []string        // first labels of the NSEC3 owners, sorted
}

func indexDNSSEC(z *zone) dnssecIndex {
	var x dnssecIndex
	apex := z.nodes[z.origin]
	x.secure = apex.rrset(dns.TypeRRSIG) != nil
	for name, n := range z.nodes {
		if n.rrset(dns.TypeNSEC) != nil {
			x.nsec = append(x.nsec, name)
		}
		if n.rrset(dns.TypeNSEC3) != nil {
			label, _, _ := strings.Cut(name, ".")
			x.hashes = append(x.hashes, label)
		}
	}
	slices.SortFunc(x.nsec, canonicalCompare)
	slices.Sort(x.hashes)
	if p := apex.rrset(dns.TypeNSEC3PARAM); p != nil && len(x.hashes) > 0 {
		x.nsec3 = p[0].(*dns.NSEC3PARAM)
	}
	return x
}

// onlyNSEC3 reports whether n holds nothing but an NSEC3 and its RRSIG:
// NSD answers such a hashed owner name as if it did not exist.
func onlyNSEC3(n *node) bool {
	for _, t := range n.order {
		if t != dns.TypeNSEC3 && t != dns.TypeRRSIG {
			return false
		}
	}
	return n.rrset(dns.TypeNSEC3) != nil
}

// secure reports whether DNSSEC records go into this reply for zone z.
func (b *build) secure(z *zone) bool { return b.do && z.sec.secure }

// addSet adds the RRset of type t at name in z (renamed to owner when not
// empty) and, for DO queries, the RRSIGs that cover it.
func (b *build) addSet(z *zone, sec *[]dns.RR, name string, t uint16, owner string) bool {
	n := z.nodes[name]
	if !b.add(sec, n.rrset(t), owner) {
		return false
	}
	b.addSigs(z, sec, name, t, owner)
	return true
}

// addSigs adds the RRSIGs at name in z covering t, for DO queries.
func (b *build) addSigs(z *zone, sec *[]dns.RR, name string, t uint16, owner string) {
	if !b.secure(z) {
		return
	}
	var sigs []dns.RR
	for _, rr := range z.nodes[name].rrset(dns.TypeRRSIG) {
		if rr.(*dns.RRSIG).TypeCovered == t {
			sigs = append(sigs, rr)
		}
	}
	if len(sigs) == 0 {
		return
	}
	spelled := owner
	if spelled == "" {
		spelled = sigs[0].Header().Name
	}
	k := rrKey{"rrsig " + dns.TypeToString[t] + " " + strings.ToLower(spelled), dns.TypeRRSIG}
	switch sec {
	case &b.m.Extra:
		k.owner = "additional:" + k.owner
	case &b.m.Ns:
		k.owner = "authority:" + k.owner
	}
	if b.added[k] {
		return
	}
	b.added[k] = true
	for _, rr := range sigs {
		c := dns.Copy(rr)
		if owner != "" {
			c.Header().Name = owner
		}
		*sec = append(*sec, c)
	}
}

// nsecAt returns the owner of the NSEC that matches or covers name: the
// greatest NSEC owner not after it ("" when there is none).
func (x *dnssecIndex) nsecAt(name string) string {
	i := sort.Search(len(x.nsec), func(i int) bool { return canonicalCompare(x.nsec[i], name) > 0 })
	if i == 0 {
		return ""
	}
	return x.nsec[i-1]
}

// addNSEC adds the NSEC matching or covering name.
func (b *build) addNSEC(z *zone, name string) {
	if o := z.sec.nsecAt(name); o != "" {
		b.addSet(z, &b.m.Ns, o, dns.TypeNSEC, "")
	}
}

// hash is name's NSEC3 hash label in z, lowercased.
func (z *zone) hash(name string) string {
	p := z.sec.nsec3
	return strings.ToLower(dns.HashName(name, p.Hash, p.Iterations, p.Salt))
}

// hasExact reports whether z has an NSEC3 matching name.
func (z *zone) hasExact(name string) bool {
	_, ok := slices.BinarySearch(z.sec.hashes, z.hash(name))
	return ok
}

// addExact adds the NSEC3 matching name, if any.
func (b *build) addExact(z *zone, name string) bool {
	h := z.hash(name)
	if _, ok := slices.BinarySearch(z.sec.hashes, h); !ok {
		return false
	}
	b.addSet(z, &b.m.Ns, h+"."+z.origin, dns.TypeNSEC3, "")
	return true
}

// addCover adds the NSEC3 covering name: the greatest hash below its
// own, wrapping to the last. A match (a hash collision for a name that
// does not exist) adds nothing.
func (b *build) addCover(z *zone, name string) {
	h := z.hash(name)
	i, ok := slices.BinarySearch(z.sec.hashes, h)
	if ok {
		return
	}
	i = (i - 1 + len(z.sec.hashes)) % len(z.sec.hashes)
	b.addSet(z, &b.m.Ns, z.sec.hashes[i]+"."+z.origin, dns.TypeNSEC3, "")
}

// nextCloser is the name one label below ce on the way to name.
func nextCloser(name, ce string) string {
	idx := dns.Split(name)
	k := len(idx) - dns.CountLabel(ce) - 1
	if k < 0 {
		return name
	}
	return name[idx[k]:]
}

// wildcardProof proves that name, answered from the wildcard at ce, does
// not exist itself.
func (b *build) wildcardProof(z *zone, name, ce string) {
	switch {
	case !b.secure(z):
	case z.sec.nsec3 != nil:
		b.addCover(z, nextCloser(name, ce))
	default:
		b.addNSEC(z, name)
	}
}

// nxProof proves that name, below closest encloser ce, does not exist and
// that no wildcard at ce does.
func (b *build) nxProof(z *zone, name, ce string) {
	switch {
	case !b.secure(z):
	case z.sec.nsec3 != nil:
		b.addCover(z, nextCloser(name, ce))
		b.addExact(z, ce)
		b.addCover(z, "*."+ce)
	default:
		b.addNSEC(z, name)
		b.addNSEC(z, "*."+ce)
	}
}

// nodataProof proves that name (an existing name, an empty non-terminal
// or, when wildcard, the wildcard that matched) has no qtype.
func (b *build) nodataProof(z *zone, name string, qtype uint16, wildcard bool) {
	switch {
	case !b.secure(z):
	case z.sec.nsec3 == nil:
		b.addNSEC(z, name)
	case qtype == dns.TypeDS && name == z.origin:
		b.addExact(z, name)
	case qtype == dns.TypeDS:
		b.dsProof(z, name)
	case wildcard:
		b.addExact(z, parent(name))
		b.addExact(z, name)
	default:
		if b.addExact(z, name) {
			return
		}
		// An empty non-terminal left out of an opt-out chain: the
		// closest provable encloser and the cover below it.
		a := name
		for parent(a) != z.origin && !z.hasExact(parent(a)) {
			a = parent(a)
		}
		b.addCover(z, a)
		b.addExact(z, parent(a))
	}
}

// dsProof proves in an NSEC3 zone that cut has no DS: its own NSEC3, or
// for an opt-out cut the closest provable encloser and the NSEC3 covering
// the next closer name (RFC 5155 §7.2.4, NSD's nsec3_add_ds_proof).
func (b *build) dsProof(z *zone, cut string) {
	if b.addExact(z, cut) {
		return
	}
	p, prev := parent(cut), ""
	for p != z.origin && !z.hasExact(p) {
		p, prev = parent(p), p
	}
	b.addExact(z, p)
	if prev != "" {
		b.addCover(z, prev)
	} else {
		b.addCover(z, cut)
	}
}

// referralProof adds the cut's DS, or the proof that it has none.
func (b *build) referralProof(z *zone, cut string) {
	switch {
	case !b.secure(z):
	case z.nodes[cut].rrset(dns.TypeDS) != nil:
		b.addSet(z, &b.m.Ns, cut, dns.TypeDS, "")
	case z.sec.nsec3 != nil:
		b.dsProof(z, cut)
	case z.nodes[cut].rrset(dns.TypeNSEC) != nil:
		b.addSet(z, &b.m.Ns, cut, dns.TypeNSEC, "")
	}
}
