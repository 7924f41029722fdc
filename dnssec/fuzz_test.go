package dnssec

import (
	"testing"

	"github.com/miekg/dns"
)

// rdataOf packs rr and returns its rdata, for fuzz seeds.
func rdataOf(t testing.TB, s string) []byte {
	t.Helper()
	rr := mustRR(t, s)
	buf := make([]byte, 4096)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	hdrLen, err := dns.PackDomainName(rr.Header().Name, make([]byte, 256), 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return buf[hdrLen+10 : off]
}

// unpack builds a record of type typ at owner from arbitrary rdata.
func unpack(owner string, typ uint16, rdata []byte) dns.RR {
	h := dns.RR_Header{Name: owner, Rrtype: typ, Class: dns.ClassINET, Ttl: 3600, Rdlength: uint16(len(rdata))}
	rr, _, err := dns.UnpackRRWithHeader(h, rdata, 0)
	if err != nil {
		return nil
	}
	return rr
}

func FuzzNSECProofs(f *testing.F) {
	for _, s := range nsecZone {
		rr := mustRR(f, s)
		f.Add("b.example.", rr.Header().Name, rdataOf(f, s), uint16(dns.TypeA))
	}
	f.Add("", "", []byte{}, uint16(0))
	f.Add("..", "*.", []byte{0, 0, 0}, uint16(dns.TypeDS))
	f.Fuzz(func(t *testing.T, qname, owner string, rdata []byte, qtype uint16) {
		rr, _ := unpack(owner, dns.TypeNSEC, rdata).(*dns.NSEC)
		zoneNSECs := nsecs(t, "example.", "a.example.", "x.w.example.")
		set := append([]*dns.NSEC{rr}, zoneNSECs...)
		for _, zone := range []string{"example.", owner, "."} {
			NSECNameError(qname, zone, set)
			NSECNoData(qname, qtype, zone, set)
			NSECWildcard(qname, "*."+zone, zone, set)
			NSECWildcard(qname, owner, zone, set)
		}
		Covers(rr, qname)
		CanonicalCompare(qname, owner)
	})
}

func FuzzNSEC3Proofs(f *testing.F) {
	for _, n := range rfc5155Chain(f, 1) {
		f.Add("a.c.x.w.example.", n.Hdr.Name, rdataOf(f, n.String()), uint16(dns.TypeA))
	}
	f.Add("", "", []byte{}, uint16(0))
	f.Add("a.b.c.d.e.f.example.", "example.", []byte{1, 0, 0, 200, 0, 0}, uint16(dns.TypeDS))
	f.Fuzz(func(t *testing.T, qname, owner string, rdata []byte, qtype uint16) {
		rr, _ := unpack(owner, dns.TypeNSEC3, rdata).(*dns.NSEC3)
		set := append([]*dns.NSEC3{rr}, pick(rfc5155Chain(t, 1), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "b4um86eghhds6nea196smvmlo4ors995")...)
		// A small budget keeps each input cheap and exercises exhaustion.
		b := NewBudget(Limits{MaxNSEC3Hashes: 16, MaxNSEC3Iterations: 20}, Policy{})
		for _, zone := range []string{"example.", owner} {
			NSEC3NameError(qname, zone, set, b)
			NSEC3NoData(qname, qtype, zone, set, b)
			NSEC3Delegation(qname, zone, set, b)
			NSEC3Wildcard(qname, "*."+zone, zone, set, b)
			NSEC3Covers(rr, zone, qname, b)
			NSEC3Matches(rr, zone, qname, b)
		}
	})
}

// FuzzVerifyRRset feeds arbitrary RRSIG and DNSKEY rdata to VerifyRRset:
// key parsing and signature decoding must never panic.
func FuzzVerifyRRset(f *testing.F) {
	for _, alg := range []uint8{dns.RSASHA256, dns.ECDSAP256SHA256, dns.ED25519, dns.ED448} {
		k := newKey(f, "example.", alg, 256)
		rrset := mustRRs(f, "www.example. 300 IN A 192.0.2.1")
		sig := k.sign(f, rrset)
		f.Add(rdataOf(f, sig.String()), rdataOf(f, k.key.String()))
	}
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, sigRdata, keyRdata []byte) {
		sig, _ := unpack("www.example.", dns.TypeRRSIG, sigRdata).(*dns.RRSIG)
		key, _ := unpack("example.", dns.TypeDNSKEY, keyRdata).(*dns.DNSKEY)
		rrset := mustRRs(t, "www.example. 300 IN A 192.0.2.1")
		VerifyRRset(rrset, []*dns.RRSIG{sig}, []*dns.DNSKEY{key}, "example.", testNow, nil)
		var rrs []dns.RR // no typed nils: the unpacker never makes them
		if key != nil {
			rrs = append(rrs, key)
		}
		if sig != nil {
			rrs = append(rrs, sig)
		}
		VerifyDNSKEYs(rrs, &Anchor{Zone: "example.", DNSKEY: []*dns.DNSKEY{key}}, testNow, nil)
		if key != nil {
			VerifyDNSKEYs(rrs, &Anchor{Zone: "example.", DS: []*dns.DS{key.ToDS(dns.SHA256), key.ToDS(dns.SHA1)}}, testNow, nil)
		}
	})
}
