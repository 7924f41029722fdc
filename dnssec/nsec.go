package dnssec

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// The NSEC and NSEC3 proof functions check the logic of a denial of
// existence only. They expect NSEC/NSEC3 RRsets whose signatures the caller
// already checked with VerifyRRset against zone's keys; records owned
// outside zone are ignored. Each returns a Result whose Status is Secure
// (proven), Insecure (proven only as far as an Opt-Out span or an NSEC3
// iteration count allows) or Bogus (Err wraps ErrNSECMissing, or ErrBudget
// when the query ran out of NSEC3 hashes: answer SERVFAIL).

// canonicalWire packs name into buf in wire form, lowercased (RFC 4034
// §6.1), and records where each label starts in offs, from the left. It
// returns the number of labels, root excluded, or -1 for a name that does
// not pack. It allocates nothing for a fully qualified name: the arrays
// are the caller's, on its stack.
func canonicalWire(name string, buf *[256]byte, offs *[128]uint8) int {
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return -1
	}
	for i, c := range buf[:n] {
		// ASCII only (RFC 4034 §6.1): other octets, even valid UTF-8, keep
		// their value. Length octets are below 64 and never in 'A'..'Z'.
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	labels := 0
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		if off+1+int(buf[off]) > n || labels == len(offs) {
			return -1
		}
		offs[labels] = uint8(off)
		labels++
	}
	return labels
}

// CanonicalCompare orders two names in DNSSEC canonical order (RFC 4034
// §6.1): -1, 0 or +1. Labels compare from the root down as octet strings,
// lowercased; a name that does not pack sorts as the root. It runs on
// every NSEC proof and every aggressive-NSEC lookup, so it does not
// allocate.
func CanonicalCompare(a, b string) int {
	var bufA, bufB [256]byte
	var offA, offB [128]uint8
	na := max(canonicalWire(a, &bufA, &offA), 0)
	nb := max(canonicalWire(b, &bufB, &offB), 0)
	for i := 1; i <= na && i <= nb; i++ {
		oa, ob := int(offA[na-i]), int(offB[nb-i])
		la := bufA[oa+1 : oa+1+int(bufA[oa])]
		lb := bufB[ob+1 : ob+1+int(bufB[ob])]
		if c := bytes.Compare(la, lb); c != 0 {
			return c
		}
	}
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return 0
}

// Covers reports whether nsec proves that name does not exist: name sorts
// strictly between the NSEC owner and its Next Domain in canonical order,
// allowing for the last NSEC of a zone whose Next Domain is the apex
// (RFC 4034 §4.1.1). It also refuses names below a delegation or a DNAME
// at the owner (RFC 6840 §4.1), which the NSEC cannot speak for. For
// aggressive use of cached NSEC (RFC 8198) as well as fresh answers.
func Covers(nsec *dns.NSEC, name string) bool {
	if nsec == nil {
		return false
	}
	owner, next := nsec.Hdr.Name, nsec.NextDomain
	if IsSubDomain(owner, name) && !strings.EqualFold(dns.Fqdn(owner), dns.Fqdn(name)) {
		if (hasType(nsec.TypeBitMap, dns.TypeNS) && !hasType(nsec.TypeBitMap, dns.TypeSOA)) ||
			hasType(nsec.TypeBitMap, dns.TypeDNAME) {
			return false
		}
	}
	co := CanonicalCompare(owner, name)
	if co >= 0 {
		return false // name at or before the owner
	}
	if CanonicalCompare(owner, next) < 0 {
		return CanonicalCompare(name, next) < 0
	}
	// Last NSEC in the zone: Next Domain is the apex; everything after the
	// owner in the zone is covered.
	return IsSubDomain(next, name)
}

func hasType(bitmap []uint16, t uint16) bool {
	for _, x := range bitmap {
		if x == t {
			return true
		}
	}
	return false
}

// nsecsIn keeps the NSEC records owned at or below zone.
func nsecsIn(nsecs []*dns.NSEC, zone string) []*dns.NSEC {
	var out []*dns.NSEC
	for _, n := range nsecs {
		if n != nil && IsSubDomain(zone, n.Hdr.Name) {
			out = append(out, n)
		}
	}
	return out
}

// closestEncloserNSEC derives the closest encloser of name from an NSEC
// that covers it: the longer of the common ancestors of name with the
// owner and with the Next Domain (RFC 4035 §5.4, RFC 6840 §4.1).
func closestEncloserNSEC(n *dns.NSEC, name string) string {
	c := max(dns.CompareDomainName(n.Hdr.Name, name), dns.CompareDomainName(n.NextDomain, name))
	labels := dns.SplitDomainName(dns.Fqdn(name))
	if c > len(labels) {
		c = len(labels)
	}
	if c == 0 {
		return "."
	}
	return dns.Fqdn(strings.Join(labels[len(labels)-c:], "."))
}

func coveringNSEC(nsecs []*dns.NSEC, name string) *dns.NSEC {
	for _, n := range nsecs {
		if Covers(n, name) {
			return n
		}
	}
	return nil
}

func matchingNSEC(nsecs []*dns.NSEC, name string) *dns.NSEC {
	for _, n := range nsecs {
		if strings.EqualFold(dns.Fqdn(n.Hdr.Name), dns.Fqdn(name)) {
			return n
		}
	}
	return nil
}

// nameAbsent reports whether some NSEC covers name, and if so the closest
// encloser it implies. A covering NSEC whose Next Domain is below name
// proves the opposite: name is an empty non-terminal and exists.
func nameAbsent(nsecs []*dns.NSEC, name string) (string, bool) {
	n := coveringNSEC(nsecs, name)
	if n == nil {
		return "", false
	}
	if IsSubDomain(name, n.NextDomain) {
		return "", false
	}
	return closestEncloserNSEC(n, name), true
}

func wildcardOf(ce string) string {
	if ce == "." {
		return "*."
	}
	return "*." + dns.Fqdn(ce)
}

// NSECNameError proves NXDOMAIN for qname with NSEC (RFC 4035 §5.4): an
// NSEC covers qname, and an NSEC covers the wildcard at the closest
// encloser so that no wildcard could have answered.
func NSECNameError(qname, zone string, nsecs []*dns.NSEC) Result {
	nsecs = nsecsIn(nsecs, zone)
	ce, ok := nameAbsent(nsecs, qname)
	if !ok {
		return bogus(fmt.Errorf("dnssec: nsec name error: qname not covered: %w", ErrNSECMissing))
	}
	if !IsSubDomain(zone, ce) {
		return bogus(fmt.Errorf("dnssec: nsec name error: closest encloser outside zone: %w", ErrNSECMissing))
	}
	if coveringNSEC(nsecs, wildcardOf(ce)) == nil {
		return bogus(fmt.Errorf("dnssec: nsec name error: wildcard not denied: %w", ErrNSECMissing))
	}
	return Result{Status: Secure}
}

// typeAbsent checks an NSEC that matches the name for a NODATA proof of
// qtype: neither qtype nor CNAME in the bitmap, and the NSEC from the right
// side of a zone cut: for DS the parent side (NS without SOA is fine, SOA
// is the child apex and wrong unless at the root); for any other type not
// the parent side of a delegation (RFC 4035 §5.4, RFC 6840 §4.4).
func typeAbsent(bitmap []uint16, qtype uint16, name string) error {
	if hasType(bitmap, qtype) {
		return fmt.Errorf("type present: %w", ErrNSECMissing)
	}
	if qtype != dns.TypeCNAME && hasType(bitmap, dns.TypeCNAME) {
		return fmt.Errorf("cname present: %w", ErrNSECMissing)
	}
	ns, soa := hasType(bitmap, dns.TypeNS), hasType(bitmap, dns.TypeSOA)
	if qtype == dns.TypeDS {
		if soa && dns.Fqdn(name) != "." {
			return fmt.Errorf("ds denial from the child zone: %w", ErrNSECMissing)
		}
	} else if ns && !soa {
		return fmt.Errorf("denial from the parent side of a delegation: %w", ErrNSECMissing)
	}
	return nil
}

// NSECNoData proves that qname exists but has no qtype RRset, with NSEC
// (RFC 4035 §5.4): an NSEC at qname without qtype and CNAME; or qname is an
// empty non-terminal, proven by an NSEC whose Next Domain is below qname
// (RFC 4035 §3.1.3.2, RFC 7129 §3.2); or qname does not exist and the
// wildcard at its closest encloser exists without qtype (wildcard NODATA).
// For qtype DS at a delegation, an NSEC with NS but neither DS nor SOA
// proves the delegation insecure. Black lies (an NSEC at qname listing only
// NSEC and RRSIG) are ordinary NODATA here.
func NSECNoData(qname string, qtype uint16, zone string, nsecs []*dns.NSEC) Result {
	nsecs = nsecsIn(nsecs, zone)
	if n := matchingNSEC(nsecs, qname); n != nil {
		if err := typeAbsent(n.TypeBitMap, qtype, qname); err != nil {
			return bogus(fmt.Errorf("dnssec: nsec nodata: %w", err))
		}
		return Result{Status: Secure}
	}
	// Empty non-terminal: an NSEC between the ENT's predecessor and a name
	// below it.
	for _, n := range nsecs {
		if CanonicalCompare(n.Hdr.Name, qname) < 0 && CanonicalCompare(qname, n.NextDomain) < 0 &&
			IsSubDomain(qname, n.NextDomain) && !strings.EqualFold(dns.Fqdn(qname), dns.Fqdn(n.NextDomain)) {
			return Result{Status: Secure}
		}
	}
	// Wildcard NODATA.
	ce, ok := nameAbsent(nsecs, qname)
	if !ok {
		return bogus(fmt.Errorf("dnssec: nsec nodata: no nsec for qname: %w", ErrNSECMissing))
	}
	w := matchingNSEC(nsecs, wildcardOf(ce))
	if w == nil {
		return bogus(fmt.Errorf("dnssec: nsec nodata: no wildcard nsec: %w", ErrNSECMissing))
	}
	if err := typeAbsent(w.TypeBitMap, qtype, wildcardOf(ce)); err != nil {
		return bogus(fmt.Errorf("dnssec: nsec wildcard nodata: %w", err))
	}
	return Result{Status: Secure}
}

// NSECWildcard completes a wildcard answer (Result.Wildcard from
// VerifyRRset) with NSEC: qname itself must not exist, and no name between
// qname and the wildcard's parent may exist, so the covering NSEC must
// imply the wildcard's parent as the closest encloser (RFC 4035 §5.3.4).
func NSECWildcard(qname, wildcard, zone string, nsecs []*dns.NSEC) Result {
	nsecs = nsecsIn(nsecs, zone)
	ce, ok := nameAbsent(nsecs, qname)
	if !ok {
		return bogus(fmt.Errorf("dnssec: nsec wildcard: qname not denied: %w", ErrNSECMissing))
	}
	src := strings.TrimPrefix(dns.CanonicalName(wildcard), "*.")
	if src == "" {
		src = "."
	}
	if !strings.EqualFold(dns.CanonicalName(ce), dns.Fqdn(src)) {
		return bogus(fmt.Errorf("dnssec: nsec wildcard: closer name exists: %w", ErrNSECMissing))
	}
	return Result{Status: Secure}
}
