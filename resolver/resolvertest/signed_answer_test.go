package resolvertest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// proof is one denial record a reply must carry: an NSEC or NSEC3 that
// matches name (and then must not list qtype) or covers it.
type proof struct {
	nsec3 bool
	match bool
	name  string
}

func (p proof) String() string {
	kind := "NSEC"
	if p.nsec3 {
		kind = "NSEC3"
	}
	if p.match {
		return kind + " matching " + p.name
	}
	return kind + " covering " + p.name
}

// satisfied reports whether some record of auth is the proof p.
func (p proof) satisfied(auth []dns.RR, qtype uint16) bool {
	for _, rr := range auth {
		switch r := rr.(type) {
		case *dns.NSEC:
			if p.nsec3 {
				continue
			}
			owner, next := dns.CanonicalName(r.Hdr.Name), dns.CanonicalName(r.NextDomain)
			if p.match && owner == p.name && !slices.Contains(r.TypeBitMap, qtype) {
				return true
			}
			after := canonicalCompare(owner, p.name) < 0
			before := canonicalCompare(p.name, next) < 0
			last := canonicalCompare(next, owner) <= 0 // the NSEC that wraps to the apex
			if !p.match && ((after && before) || (last && after)) {
				return true
			}
		case *dns.NSEC3:
			if !p.nsec3 {
				continue
			}
			if p.match && r.Match(p.name) && !slices.Contains(r.TypeBitMap, qtype) {
				return true
			}
			if !p.match && r.Cover(p.name) {
				return true
			}
		}
	}
	return false
}

// signedCase is one DO=1 question to the engine and what the reply must
// hold: rcode, the answer's owners and types ("owner TYPE", RRSIGs as
// "owner RRSIG TYPE"), DS or not in a referral, the denial proofs, and
// how many NSEC/NSEC3 records at most.
type signedCase struct {
	name, zone, qname string
	qtype             uint16
	rcode             int
	answer            []string
	ds                bool
	proofs            []proof
}

func m(name string) proof  { return proof{match: true, name: name} }
func c(name string) proof  { return proof{name: name} }
func m3(name string) proof { return proof{nsec3: true, match: true, name: name} }
func c3(name string) proof { return proof{nsec3: true, name: name} }

func signedCases() []signedCase {
	var out []signedCase
	for _, s := range signedSpecs() {
		if s.alg == 0 || s.origin == "." || s.flaw != flawNone {
			continue
		}
		o := s.origin
		www := "www." + o
		nx := []proof{c("nx." + o), c("*." + o)}
		nodata := []proof{m(www)}
		if s.nsec3 != nil {
			nx = []proof{m3(o), c3("nx." + o), c3("*." + o)}
			nodata = []proof{m3(www)}
		}
		if s.extra == wildData || strings.HasPrefix(s.extra, "*") {
			nx = nx[:0] // the wildcard answers: see the cases below
		}
		out = append(out,
			signedCase{name: o + " www", zone: o, qname: www, qtype: dns.TypeA, answer: []string{www + " A", www + " RRSIG A"}},
			signedCase{name: o + " DNSKEY", zone: o, qname: o, qtype: dns.TypeDNSKEY, answer: []string{o + " DNSKEY", o + " RRSIG DNSKEY"}},
			signedCase{name: o + " NODATA", zone: o, qname: www, qtype: dns.TypeMX, proofs: nodata},
			signedCase{name: o + " DS at parent", zone: parentZone(o, signedSpecs()), qname: o, qtype: dns.TypeDS, answer: []string{o + " DS", o + " RRSIG DS"}},
			signedCase{name: o + " referral", zone: parentZone(o, signedSpecs()), qname: www, qtype: dns.TypeA, ds: true},
		)
		if len(nx) > 0 {
			out = append(out, signedCase{name: o + " NXDOMAIN", zone: o, qname: "nx." + o, qtype: dns.TypeA, rcode: dns.RcodeNameError, proofs: nx})
		}
	}
	for _, o := range []string{"wild.sec.", "nsec3.sec.", "nsec3salt.sec."} {
		x, ent, xent, xnd := "x."+o, "ent."+o, "x.ent."+o, "x.nodata."+o
		wild := []proof{c(x)}
		wildNodata := []proof{c(x), m("*." + o)}
		entNodata := []proof{c(ent)}
		nx := []proof{c(xent), c("*." + ent)}
		ndNodata := []proof{c(xnd), m("*.nodata." + o)}
		if o != "wild.sec." {
			wild = []proof{c3(x)}
			wildNodata = []proof{c3(x), m3(o), m3("*." + o)}
			entNodata = []proof{m3(ent)}
			nx = []proof{m3(ent), c3(xent), c3("*." + ent)}
			ndNodata = []proof{c3(xnd), m3("nodata." + o), m3("*.nodata." + o)}
		}
		out = append(out,
			signedCase{name: o + " wildcard", zone: o, qname: x, qtype: dns.TypeA, answer: []string{x + " A", x + " RRSIG A"}, proofs: wild},
			signedCase{name: o + " wildcard NODATA", zone: o, qname: x, qtype: dns.TypeMX, proofs: wildNodata},
			signedCase{name: o + " ENT", zone: o, qname: ent, qtype: dns.TypeA, proofs: entNodata},
			signedCase{name: o + " below ENT", zone: o, qname: xent, qtype: dns.TypeA, rcode: dns.RcodeNameError, proofs: nx},
			signedCase{name: o + " wildcard below ENT NODATA", zone: o, qname: xnd, qtype: dns.TypeA, proofs: ndNodata},
		)
	}
	out = append(out,
		signedCase{name: "DS of unsigned child (NSEC)", zone: "sec.", qname: "insecure.sec.", qtype: dns.TypeDS, proofs: []proof{m("insecure.sec.")}},
		signedCase{name: "referral to unsigned child (NSEC)", zone: "sec.", qname: "www.insecure.sec.", qtype: dns.TypeA, proofs: []proof{m("insecure.sec.")}},
		signedCase{name: "DS of opt-out child", zone: "optout.", qname: "unsigned.optout.", qtype: dns.TypeDS, proofs: []proof{m3("optout."), c3("unsigned.optout.")}},
		signedCase{name: "referral to opt-out child", zone: "optout.", qname: "www.unsigned.optout.", qtype: dns.TypeA, proofs: []proof{m3("optout."), c3("unsigned.optout.")}},
		signedCase{name: "CNAME signed to unsigned", zone: "cname.sec.", qname: "to-insecure.cname.sec.", qtype: dns.TypeA,
			answer: []string{"to-insecure.cname.sec. CNAME", "to-insecure.cname.sec. RRSIG CNAME"}},
		signedCase{name: "CNAME in signed zone", zone: "cname.sec.", qname: "to-www.cname.sec.", qtype: dns.TypeA,
			answer: []string{"to-www.cname.sec. CNAME", "to-www.cname.sec. RRSIG CNAME", "www.cname.sec. A", "www.cname.sec. RRSIG A"}},
		signedCase{name: "CNAME unsigned to signed", zone: "insecure.sec.", qname: "to-secure.insecure.sec.", qtype: dns.TypeA,
			answer: []string{"to-secure.insecure.sec. CNAME"}},
		signedCase{name: "unsigned zone", zone: "insecure.sec.", qname: "nx.insecure.sec.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		signedCase{name: "root NXDOMAIN", zone: ".", qname: "nx.", qtype: dns.TypeA, rcode: dns.RcodeNameError, proofs: []proof{c("nx."), c("*.")}},
		signedCase{name: "root DNSKEY", zone: ".", qname: ".", qtype: dns.TypeDNSKEY, answer: []string{". DNSKEY", ". RRSIG DNSKEY"}},
		signedCase{name: "TLD referral", zone: ".", qname: "www.sec.", qtype: dns.TypeA, ds: true},
		// The broken zones serve what their flaw says.
		signedCase{name: "missing RRSIG", zone: "nosig.broken.", qname: "www.nosig.broken.", qtype: dns.TypeA, answer: []string{"www.nosig.broken. A"}},
		signedCase{name: "NXDOMAIN without NSEC", zone: "nonsec.broken.", qname: "nx.nonsec.broken.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		signedCase{name: "wildcard without NSEC", zone: "wildnoproof.broken.", qname: "x.wildnoproof.broken.", qtype: dns.TypeA,
			answer: []string{"x.wildnoproof.broken. A", "x.wildnoproof.broken. RRSIG A"}},
		signedCase{name: "unknown digest DS", zone: "broken.", qname: "digest.broken.", qtype: dns.TypeDS, answer: []string{"digest.broken. DS", "digest.broken. RRSIG DS"}},
	)
	return out
}

// TestSignedAnswers asks the engine each signedCase with DO set and checks
// the records, the denial proofs and, outside the broken zones, every
// RRSIG in the reply against the signer's DNSKEY set; then asks again
// without DO and wants no DNSSEC records beyond what was asked for.
func TestSignedAnswers(t *testing.T) {
	n := signedNetAt(t)
	addr := map[string]string{".": rootServers()[0][1]}
	for _, s := range signedSpecs() {
		if s.origin != "." {
			addr[s.origin] = s.addr
		}
	}
	for _, tc := range signedCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, n, "tcp", addr[tc.zone], doQuery(tc.qname, tc.qtype))
			if r.Rcode != tc.rcode {
				t.Errorf("rcode: got %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got, want := shape(r.Answer), sorted(tc.answer); !slices.Equal(got, want) {
				t.Errorf("answer: got %v, want %v", got, want)
			}
			gotDS := false
			denials := 0
			for _, rr := range r.Ns {
				switch rr.Header().Rrtype {
				case dns.TypeDS:
					gotDS = true
				case dns.TypeNSEC, dns.TypeNSEC3:
					denials++
				}
			}
			if gotDS != tc.ds {
				t.Errorf("DS in authority: got %v, want %v", gotDS, tc.ds)
			}
			for _, p := range tc.proofs {
				if !p.satisfied(r.Ns, tc.qtype) {
					t.Errorf("no %s in authority:\n%s", p, strings.Join(rrs(t, r.Ns), "\n"))
				}
			}
			if denials > len(tc.proofs) {
				t.Errorf("got %d NSEC/NSEC3, want at most %d", denials, len(tc.proofs))
			}
			if !strings.HasSuffix(tc.zone, "broken.") || tc.zone == "broken." {
				checkReplySigs(t, n, r)
			}

			r = exchange(t, n, "tcp", addr[tc.zone], query(tc.qname, tc.qtype, 1232))
			for _, rr := range append(append([]dns.RR(nil), r.Answer...), r.Ns...) {
				switch rr.Header().Rrtype {
				case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
					t.Errorf("without DO: got %s", rr)
				case dns.TypeDS:
					if tc.qtype != dns.TypeDS {
						t.Errorf("without DO: got %s", rr)
					}
				}
			}
		})
	}
}

// shape lists a section as "owner TYPE" and "owner RRSIG COVERED",
// lowercased, sorted, duplicates removed.
func shape(sec []dns.RR) []string {
	var out []string
	for _, rr := range sec {
		h := rr.Header()
		s := dns.CanonicalName(h.Name) + " " + dns.TypeToString[h.Rrtype]
		if sig, ok := rr.(*dns.RRSIG); ok {
			s += " " + dns.TypeToString[sig.TypeCovered]
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	slices.Sort(out)
	return out
}

// checkReplySigs verifies every RRSIG of r's answer and authority
// sections over the RRset it covers there, with the DNSKEYs of its
// signer's zone, at signedAt.
func checkReplySigs(t *testing.T, n *Network, r *dns.Msg) {
	t.Helper()
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			sig, ok := rr.(*dns.RRSIG)
			if !ok {
				continue
			}
			var set []dns.RR
			for _, x := range sec {
				if x.Header().Rrtype == sig.TypeCovered && strings.EqualFold(x.Header().Name, sig.Hdr.Name) {
					set = append(set, x)
				}
			}
			keys := zoneOf(t, n, dns.CanonicalName(sig.SignerName)).nodes[dns.CanonicalName(sig.SignerName)].rrset(dns.TypeDNSKEY)
			if sig.TypeCovered == dns.TypeSOA {
				// Negative answers carry the SOA with the negative TTL
				// (RFC 2308 §3); the signature holds the original.
				for i, x := range set {
					set[i] = dns.Copy(x)
					set[i].Header().Ttl = sig.OrigTtl
				}
			}
			if err := verifySig(sig, keys, set); err != nil {
				t.Errorf("RRSIG %s %s: %v", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], err)
			} else if !sig.ValidityPeriod(signedAt) {
				t.Errorf("RRSIG %s %s: not valid at %s", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], signedAt)
			}
		}
	}
}

// TestSignedWildcardLabels checks that a wildcard answer's RRSIG keeps the
// wildcard's label count, so a validator can tell it was synthesised.
func TestSignedWildcardLabels(t *testing.T) {
	n := signedNetAt(t)
	r := exchange(t, n, "udp", "127.53.110.11", doQuery("a.b.wild.sec.", dns.TypeA))
	for _, rr := range r.Answer {
		if sig, ok := rr.(*dns.RRSIG); ok {
			if got, want := sig.Labels, uint8(2); got != want {
				t.Errorf("labels: got %d, want %d", got, want)
			}
			if got, want := sig.Hdr.Name, "a.b.wild.sec."; got != want {
				t.Errorf("owner: got %s, want %s", got, want)
			}
			return
		}
	}
	t.Fatalf("no RRSIG in %v", fmt.Sprint(r.Answer))
}

// TestSignedStripFaults checks that StripRRSIG and StripNSEC take what
// they say out of a signed reply and leave the rest.
func TestSignedStripFaults(t *testing.T) {
	const server = "127.53.110.11" // wild.sec.
	for _, tc := range []struct {
		name  string
		fault Fault
		qname string
		want  []string // shape of answer + authority
	}{
		{"none", Fault{}, "x.wild.sec.", []string{
			"www.wild.sec. NSEC", "www.wild.sec. RRSIG NSEC", "x.wild.sec. A", "x.wild.sec. RRSIG A"}},
		{"StripRRSIG", Fault{StripRRSIG: true}, "x.wild.sec.", []string{"www.wild.sec. NSEC", "x.wild.sec. A"}},
		{"StripNSEC", Fault{StripNSEC: true}, "x.wild.sec.", []string{"x.wild.sec. A", "x.wild.sec. RRSIG A"}},
		{"StripNSEC NXDOMAIN", Fault{StripNSEC: true}, "x.ent.wild.sec.", []string{"wild.sec. RRSIG SOA", "wild.sec. SOA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := signedNetAt(t)
			n.SetFault(netip.MustParseAddr(server), tc.fault)
			r := exchange(t, n, "udp", server, doQuery(tc.qname, dns.TypeA))
			if got, want := shape(append(append([]dns.RR(nil), r.Answer...), r.Ns...)), sorted(tc.want); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
