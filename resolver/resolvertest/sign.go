package resolvertest

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Zone signing, done in memory when Signed builds the network: DNSKEY at
// the apex, an NSEC (RFC 4034 §4) or NSEC3 (RFC 5155 §7.1) chain, and an
// RRSIG over every authoritative RRset (not the NS at a cut, not glue):
// DNSKEY by the KSK, the rest by the ZSK. The result is a master file that
// NSD serves as is.

// validity is when signatures start and stop being valid.
type validity struct{ inception, expiration uint32 }

// window is the validity of the signatures of a zone with flaw f, signed
// at now.
func window(now time.Time, f flaw) validity {
	switch f {
	case flawExpired:
		return validity{unix32(now.Add(-60 * 24 * time.Hour)), unix32(now.Add(-30 * 24 * time.Hour))}
	case flawNotYet:
		return validity{unix32(now.Add(30 * 24 * time.Hour)), unix32(now.Add(60 * 24 * time.Hour))}
	}
	return validity{unix32(now.Add(-time.Hour)), unix32(now.Add(30 * 24 * time.Hour))}
}

// unix32 is t in RRSIG serial-number time (RFC 4034 §3.1.5).
func unix32(t time.Time) uint32 { return uint32(t.Unix()) }

// zoneSigner holds what signing one zone needs.
type zoneSigner struct {
	spec     signSpec
	ksk, zsk *key
	rogue    *key // the rogue key renamed to this zone, for flawWrongKey
	when     validity
}

// rrsets groups records by lowercased owner, then type, keeping order.
type rrsets map[string]map[uint16][]dns.RR

func (s rrsets) add(rr dns.RR) {
	name := dns.CanonicalName(rr.Header().Name)
	if s[name] == nil {
		s[name] = map[uint16][]dns.RR{}
	}
	s[name][rr.Header().Rrtype] = append(s[name][rr.Header().Rrtype], rr)
}

// sign returns the signed zone's records, SOA first: the zone's records,
// DNSKEY, the chain and the signatures.
func (zs *zoneSigner) sign(records []dns.RR) ([]dns.RR, error) {
	origin := zs.spec.origin
	sets := rrsets{}
	var soa *dns.SOA
	for _, rr := range records {
		if s, ok := rr.(*dns.SOA); ok {
			soa = s
		}
		sets.add(rr)
	}
	if soa == nil {
		return nil, fmt.Errorf("resolvertest: sign %s: no SOA", origin)
	}
	for _, k := range []*key{zs.ksk, zs.zsk} {
		c := dns.Copy(k.rr).(*dns.DNSKEY)
		c.Hdr.Name, c.Hdr.Ttl = origin, 3600
		sets.add(c)
	}
	// Cuts and what lies below them (glue) are not authoritative.
	var cuts []string
	for name, ts := range sets {
		if name != origin && ts[dns.TypeNS] != nil {
			cuts = append(cuts, name)
		}
	}
	belowCut := func(name string) bool {
		for _, c := range cuts {
			if name != c && dns.IsSubDomain(c, name) {
				return true
			}
		}
		return false
	}
	var names []string // authoritative names and cuts
	for name := range sets {
		if !belowCut(name) {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, canonicalCompare)
	negTTL := min(soa.Hdr.Ttl, soa.Minttl)
	switch {
	case zs.spec.flaw == flawNoNSEC:
	case zs.spec.nsec3 != nil:
		zs.nsec3Chain(sets, names, negTTL)
	default:
		zs.nsecChain(sets, names, negTTL)
	}
	// Sign every authoritative RRset; hashed NSEC3 owners are among them
	// now, as they were added to sets.
	out := []dns.RR{soa}
	var all []string
	for name := range sets {
		if !belowCut(name) {
			all = append(all, name)
		}
	}
	slices.SortFunc(all, canonicalCompare)
	for _, name := range all {
		ts := sets[name]
		types := make([]uint16, 0, len(ts))
		for t := range ts {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			for _, rr := range ts[t] {
				if rr != dns.RR(soa) {
					out = append(out, rr)
				}
			}
			isCut := name != origin && ts[dns.TypeNS] != nil
			if isCut && t != dns.TypeDS && t != dns.TypeNSEC {
				continue // delegation NS: the child's data
			}
			sig, err := zs.signSet(name, t, ts[t])
			if err != nil {
				return nil, err
			}
			if sig != nil {
				out = append(out, sig)
			}
		}
	}
	// Glue, unsigned.
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		if belowCut(name) {
			for _, t := range slices.Sorted(maps.Keys(sets[name])) {
				out = append(out, sets[name][t]...)
			}
		}
	}
	return out, nil
}

// signSet signs one RRset, applying the zone's flaw; nil means unsigned.
func (zs *zoneSigner) signSet(name string, t uint16, rrs []dns.RR) (*dns.RRSIG, error) {
	k := zs.zsk
	if t == dns.TypeDNSKEY {
		k = zs.ksk
	}
	www := name == "www."+zs.spec.origin && t == dns.TypeA
	switch {
	case www && zs.spec.flaw == flawNoSig:
		return nil, nil
	case www && zs.spec.flaw == flawWrongKey:
		k = zs.rogue
	}
	sig, err := k.sign(rrs, zs.when.inception, zs.when.expiration)
	if err != nil {
		return nil, err
	}
	if www && zs.spec.flaw == flawBadSig {
		raw, _ := base64.StdEncoding.DecodeString(sig.Signature)
		raw[len(raw)/2] ^= 0x01
		sig.Signature = base64.StdEncoding.EncodeToString(raw)
	}
	return sig, nil
}

// nsecChain adds an NSEC at every name (RFC 4034 §4.1): the next name in
// canonical order, wrapping to the apex, and the types present plus NSEC
// and RRSIG (the NSEC itself is signed even at an unsigned cut).
func (zs *zoneSigner) nsecChain(sets rrsets, names []string, ttl uint32) {
	for i, name := range names {
		types := []uint16{dns.TypeNSEC, dns.TypeRRSIG}
		for t := range sets[name] {
			types = append(types, t)
		}
		slices.Sort(types)
		next := names[(i+1)%len(names)]
		sets.add(&dns.NSEC{
			Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
			NextDomain: next,
			TypeBitMap: slices.Compact(types),
		})
	}
}

// nsec3Chain adds NSEC3PARAM at the apex and an NSEC3 for every name and
// every empty non-terminal (RFC 5155 §7.1); with opt-out, unsigned
// delegations (no DS) and the empty non-terminals only they create are
// left out. A name whose data is all unsigned (an unsigned cut) gets no
// RRSIG bit.
func (zs *zoneSigner) nsec3Chain(sets rrsets, names []string, ttl uint32) {
	p := zs.spec.nsec3
	origin := zs.spec.origin
	flags := uint8(0)
	if p.optOut {
		flags = 1
	}
	sets.add(&dns.NSEC3PARAM{
		Hdr:        dns.RR_Header{Name: origin, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: 0},
		Hash:       dns.SHA1,
		Iterations: p.iterations,
		SaltLength: uint8(len(p.salt) / 2),
		Salt:       p.salt,
	})
	included := map[string]bool{}
	for _, name := range names {
		ts := sets[name]
		if name != origin && ts[dns.TypeNS] != nil && ts[dns.TypeDS] == nil && p.optOut {
			continue
		}
		for a := name; a != "" && !included[a]; a = parent(a) {
			included[a] = true
			if a == origin {
				break
			}
		}
	}
	type entry struct {
		hash  string
		name  string
		types []uint16
	}
	var chain []entry
	for name := range included {
		var types []uint16
		ts := sets[name]
		signed := false
		for t := range ts {
			types = append(types, t)
			if !(name != origin && ts[dns.TypeNS] != nil && t == dns.TypeNS) {
				signed = true
			}
		}
		if signed {
			types = append(types, dns.TypeRRSIG)
		}
		slices.Sort(types)
		chain = append(chain, entry{dns.HashName(name, dns.SHA1, p.iterations, p.salt), name, types})
	}
	slices.SortFunc(chain, func(a, b entry) int { return strings.Compare(a.hash, b.hash) })
	for i, e := range chain {
		sets.add(&dns.NSEC3{
			Hdr:        dns.RR_Header{Name: strings.ToLower(e.hash) + "." + origin, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: ttl},
			Hash:       dns.SHA1,
			Flags:      flags,
			Iterations: p.iterations,
			SaltLength: uint8(len(p.salt) / 2),
			Salt:       p.salt,
			HashLength: 20,
			NextDomain: chain[(i+1)%len(chain)].hash,
			TypeBitMap: e.types,
		})
	}
}

// canonicalCompare orders names as RFC 4034 §6.1 does: by labels from the
// root down, each compared as lowercased octets, a missing label first.
func canonicalCompare(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 || j >= 0; i, j = i-1, j-1 {
		switch {
		case i < 0:
			return -1
		case j < 0:
			return 1
		}
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return 0
}

// wireLabels returns name's labels as lowercased wire octets (escapes
// decoded), the root label left out.
func wireLabels(name string) []string {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return []string{strings.ToLower(name)}
	}
	var out []string
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		out = append(out, strings.ToLower(string(buf[off+1:off+1+int(buf[off])])))
	}
	return out
}
