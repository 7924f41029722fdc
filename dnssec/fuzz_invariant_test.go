package dnssec

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Fuzz targets that assert what a proof means, not only that it does not
// panic: from one zone's chain of NSEC (or NSEC3) records, whatever subset
// of it a response carries, a name cannot be proven both not to exist
// (NXDOMAIN) and to exist without the type asked (NODATA). The chain is
// built from the fuzz input, so that it is a chain one zone could have:
// owners distinct, each record reaching to the next owner. Only the seed
// corpus runs under plain go test; go test -fuzz explores further.

// denialTypes are the types a fuzzed bitmap draws from.
var denialTypes = []uint16{dns.TypeA, dns.TypeNS, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT,
	dns.TypeAAAA, dns.TypeDS, dns.TypeDNAME, dns.TypeSOA}

// fuzzZone turns spec, a comma-separated list of names relative to
// example. (each label cut to a small alphabet, case kept), into the
// zone's owner names in canonical order, the apex first, without
// duplicates.
func fuzzZone(spec string) []string {
	owners := []string{"example."}
	for _, rel := range strings.Split(spec, ",") {
		var labels []string
		for _, l := range strings.Split(rel, ".") {
			l = strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '*' {
					return r
				}
				return -1
			}, l)
			if l != "" && len(l) <= 63 {
				labels = append(labels, l)
			}
		}
		if len(labels) == 0 || len(labels) > 8 {
			continue
		}
		owners = append(owners, strings.Join(labels, ".")+".example.")
	}
	slices.SortFunc(owners, CanonicalCompare)
	return slices.CompactFunc(owners, func(a, b string) bool { return CanonicalCompare(a, b) == 0 })
}

// fuzzBitmap is the type bitmap of owner number i drawn from types, for
// a record of type own: the apex has SOA and NS, nothing else has SOA.
func fuzzBitmap(types []byte, i int, apex bool, own uint16) []uint16 {
	var b byte
	if len(types) > 0 {
		b = types[i%len(types)]
	}
	bitmap := []uint16{dns.TypeRRSIG}
	if own == dns.TypeNSEC {
		bitmap = append(bitmap, own) // NSEC3 records are not listed
	}
	for j, t := range denialTypes[:8] {
		if b&(1<<j) != 0 {
			bitmap = append(bitmap, t)
		}
	}
	if apex {
		bitmap = append(bitmap, dns.TypeSOA, dns.TypeNS)
	}
	slices.Sort(bitmap)
	return slices.Compact(bitmap)
}

// fuzzQnames are the names a fuzzed chain is asked about: q, and for
// every owner the owner itself, a name below it and its wildcard.
func fuzzQnames(q string, owners []string) []string {
	out := []string{}
	if _, ok := dns.IsDomainName(q); ok && q != "" {
		out = append(out, dns.Fqdn(q))
	}
	for _, o := range owners {
		out = append(out, o, "zz."+o, "*."+o)
	}
	return out
}

func fuzzDenialSeeds(f *testing.F) {
	f.Add("a,b.c,d,*.w,x.w", []byte{0x01, 0x01, 0x02, 0x08, 0x08}, uint64(1<<63-1), "b.example.", uint16(dns.TypeA))
	f.Add("a,A,b.a,*.a", []byte{0x04, 0x10}, uint64(0b1011), "c.a.example.", uint16(dns.TypeMX))
	f.Add("d,e.d,f", []byte{0x02, 0x40, 0x00}, uint64(0b111), "e.d.example.", uint16(dns.TypeDS))
	f.Add("", []byte{}, uint64(1), "example.", uint16(dns.TypeDS))
	f.Add("*,*.*,a.*", []byte{0xff, 0x00, 0x80}, uint64(0b1101), "q.example.", uint16(dns.TypeCNAME))
}

func FuzzNSECDenialExclusive(f *testing.F) {
	fuzzDenialSeeds(f)
	f.Fuzz(func(t *testing.T, spec string, types []byte, keep uint64, qname string, qtype uint16) {
		owners := fuzzZone(spec)
		set := fuzzNSECChain(owners, types, keep)
		for _, q := range fuzzQnames(qname, owners) {
			if NSECNameError(q, "example.", set).Status != Secure {
				continue
			}
			for _, qt := range []uint16{qtype, dns.TypeA, dns.TypeDS, dns.TypeNS, dns.TypeCNAME} {
				if NSECNoData(q, qt, "example.", set).Status == Secure {
					t.Fatalf("%s %s: both NXDOMAIN and NODATA proven by\n%s", q, dns.TypeToString[qt], fmtRRs(set))
				}
			}
		}
	})
}

func FuzzNSEC3DenialExclusive(f *testing.F) {
	fuzzDenialSeeds(f)
	f.Fuzz(func(t *testing.T, spec string, types []byte, keep uint64, qname string, qtype uint16) {
		owners := fuzzZone(spec)
		set := fuzzNSEC3Chain(t, owners, types, keep)
		b := NewBudget(Limits{MaxNSEC3Hashes: 1 << 20}, Policy{})
		for _, q := range fuzzQnames(qname, owners) {
			if NSEC3NameError(q, "example.", set, b).Status != Secure {
				continue
			}
			for _, qt := range []uint16{qtype, dns.TypeA, dns.TypeDS, dns.TypeNS, dns.TypeCNAME} {
				if NSEC3NoData(q, qt, "example.", set, b).Status == Secure {
					t.Fatalf("%s %s: both NXDOMAIN and NODATA proven by\n%s", q, dns.TypeToString[qt], fmtRRs(set))
				}
			}
		}
	})
}

// fuzzNSECChain is the NSEC chain of owners, keeping the records whose
// index (modulo 64) has its bit set in keep.
func fuzzNSECChain(owners []string, types []byte, keep uint64) []*dns.NSEC {
	var set []*dns.NSEC
	for i, o := range owners {
		if keep&(1<<(i%64)) == 0 {
			continue
		}
		set = append(set, &dns.NSEC{
			Hdr:        dns.RR_Header{Name: o, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 3600},
			NextDomain: owners[(i+1)%len(owners)],
			TypeBitMap: fuzzBitmap(types, i, i == 0, dns.TypeNSEC),
		})
	}
	return set
}

// fuzzNSEC3Chain is the NSEC3 chain (SHA-1, no salt, no iterations, no
// opt-out) of owners and the empty non-terminals above them (RFC 5155
// §7.1), keeping the records whose index in hash order (modulo 64) has
// its bit set in keep.
func fuzzNSEC3Chain(t testing.TB, owners []string, types []byte, keep uint64) []*dns.NSEC3 {
	seen, own := map[string]bool{}, map[string]bool{}
	var names []string
	for _, o := range owners {
		own[dns.CanonicalName(o)] = true
		for n := dns.CanonicalName(o); dns.IsSubDomain("example.", n) && !seen[n]; n = parentName(n) {
			seen[n] = true
			names = append(names, n)
		}
	}
	slices.SortFunc(names, CanonicalCompare) // the apex first
	type hashed struct {
		hash string
		i    int // index in names: the bitmap
	}
	var hs []hashed
	for i, n := range names {
		hs = append(hs, hashed{strings.ToLower(dns.HashName(n, dns.SHA1, 0, "")), i})
	}
	slices.SortFunc(hs, func(a, b hashed) int { return strings.Compare(a.hash, b.hash) })
	var set []*dns.NSEC3
	for j, h := range hs {
		if keep&(1<<(j%64)) == 0 {
			continue
		}
		var bitmap []uint16 // an empty non-terminal has no types
		if own[names[h.i]] {
			bitmap = fuzzBitmap(types, h.i, h.i == 0, dns.TypeNSEC3)
		}
		rr, err := dns.NewRR(fmt.Sprintf("%s.example. 3600 IN NSEC3 1 0 0 - %s %s", h.hash, hs[(j+1)%len(hs)].hash, typeList(bitmap)))
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, rr.(*dns.NSEC3))
	}
	return set
}

func parentName(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

func typeList(bitmap []uint16) string {
	var s []string
	for _, t := range bitmap {
		s = append(s, dns.TypeToString[t])
	}
	return strings.Join(s, " ")
}

func fmtRRs[T dns.RR](rrs []T) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestFuzzDenialChains checks that the chains the fuzz targets build do
// prove things, so that their invariant is not vacuous: the full chain of
// the first seed proves NXDOMAIN for a name between owners and NODATA for
// a type missing at an owner.
func TestFuzzDenialChains(t *testing.T) {
	owners := fuzzZone("a,b.c,d,*.w,x.w")
	types := []byte{0x01, 0x01, 0x02, 0x08, 0x08} // a.example. has A only
	nsec := fuzzNSECChain(owners, types, ^uint64(0))
	if r := NSECNameError("b.example.", "example.", nsec); r.Status != Secure {
		t.Errorf("NSEC NXDOMAIN b.example.: got %v (%v), want secure", r.Status, r.Err)
	}
	if r := NSECNoData("a.example.", dns.TypeMX, "example.", nsec); r.Status != Secure {
		t.Errorf("NSEC NODATA a.example. MX: got %v (%v), want secure", r.Status, r.Err)
	}
	nsec3 := fuzzNSEC3Chain(t, owners, types, ^uint64(0))
	b := NewBudget(Limits{MaxNSEC3Hashes: 1 << 20}, Policy{})
	if r := NSEC3NameError("zz.a.example.", "example.", nsec3, b); r.Status != Secure {
		t.Errorf("NSEC3 NXDOMAIN zz.a.example.: got %v (%v), want secure", r.Status, r.Err)
	}
	if r := NSEC3NoData("c.example.", dns.TypeA, "example.", nsec3, b); r.Status != Secure {
		t.Errorf("NSEC3 NODATA c.example. A (empty non-terminal): got %v (%v), want secure", r.Status, r.Err)
	}
}
