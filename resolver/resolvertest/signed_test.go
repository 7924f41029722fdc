package resolvertest

import (
	"crypto/dsa" //nolint:staticcheck // algorithm 3 is DSA
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// signedAt is the signing time of the table tests, so that validity
// windows can be checked exactly.
var signedAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func signedNetAt(t testing.TB) *Network {
	t.Helper()
	n, err := Signed(Options{Now: signedAt})
	if err != nil {
		t.Fatalf("Signed() error: %v", err)
	}
	return n
}

// zoneOf returns the parsed zone origin of n.
func zoneOf(t testing.TB, n *Network, origin string) *zone {
	t.Helper()
	for _, z := range n.zones {
		if z.origin == origin {
			return z
		}
	}
	t.Fatalf("no zone %s", origin)
	return nil
}

// verifySig checks sig over rrset with the matching key of keys, as a
// validator would: key tag and algorithm, then the signature.
func verifySig(sig *dns.RRSIG, keys []dns.RR, rrset []dns.RR) error {
	for _, rr := range keys {
		k := rr.(*dns.DNSKEY)
		if k.KeyTag() != sig.KeyTag || k.Algorithm != sig.Algorithm {
			continue
		}
		switch k.Algorithm {
		case dns.ED448:
			return verifyEd448(sig, k, rrset)
		case algorithmDSA:
			return verifyDSA(sig, k, rrset)
		}
		return sig.Verify(k, rrset)
	}
	return errNoKey
}

// verifyDSA checks an algorithm 3 signature (RFC 2536), which miekg/dns
// cannot.
func verifyDSA(sig *dns.RRSIG, k *dns.DNSKEY, rrset []dns.RR) error {
	pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(pub) < 21 {
		return dns.ErrKey
	}
	size := 64 + 8*int(pub[0])
	if len(pub) != 21+3*size {
		return dns.ErrKey
	}
	key := dsa.PublicKey{Y: new(big.Int).SetBytes(pub[21+2*size:])}
	key.Q = new(big.Int).SetBytes(pub[1:21])
	key.P = new(big.Int).SetBytes(pub[21 : 21+size])
	key.G = new(big.Int).SetBytes(pub[21+size : 21+2*size])
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || len(raw) != 41 {
		return dns.ErrSig
	}
	data, err := signedData(sig, rrset)
	if err != nil {
		return err
	}
	sum := sha1.Sum(data)
	if !dsa.Verify(&key, sum[:], new(big.Int).SetBytes(raw[1:21]), new(big.Int).SetBytes(raw[21:])) {
		return dns.ErrSig
	}
	return nil
}

var errNoKey = errors.New("no DNSKEY with the RRSIG's key tag")

// sigProblems returns, for each RRset of z ("owner TYPE"), what is wrong
// with its signatures at time now: "unsigned", "no key", "bad", "expired",
// "not yet valid". Delegation NS and glue are not expected to be signed.
func sigProblems(z *zone, now time.Time) map[string]string {
	keys := z.nodes[z.origin].rrset(dns.TypeDNSKEY)
	out := map[string]string{}
	for name, n := range z.nodes {
		if below(z, name) {
			continue
		}
		cut := name != z.origin && n.rrset(dns.TypeNS) != nil
		for _, t := range n.order {
			if t == dns.TypeRRSIG || (cut && t == dns.TypeNS) {
				continue
			}
			key := name + " " + dns.TypeToString[t]
			var sigs []*dns.RRSIG
			for _, rr := range n.rrset(dns.TypeRRSIG) {
				if s := rr.(*dns.RRSIG); s.TypeCovered == t {
					sigs = append(sigs, s)
				}
			}
			if len(sigs) == 0 {
				out[key] = "unsigned"
				continue
			}
			for _, s := range sigs {
				switch err := verifySig(s, keys, n.rrset(t)); {
				case errors.Is(err, errNoKey):
					out[key] = "no key"
				case err != nil:
					out[key] = "bad"
				case !s.ValidityPeriod(now) && now.Unix() > int64(s.Expiration):
					out[key] = "expired"
				case !s.ValidityPeriod(now):
					out[key] = "not yet valid"
				}
			}
		}
	}
	return out
}

// below reports whether name lies strictly below a cut of z (glue).
func below(z *zone, name string) bool {
	for a := parent(name); a != "" && a != parent(z.origin); a = parent(a) {
		if a != z.origin && a != name && z.nodes[a].rrset(dns.TypeNS) != nil {
			return true
		}
		if a == z.origin {
			break
		}
	}
	return false
}

// TestSignedSignatures checks every RRSIG of every zone against the
// zone's DNSKEY set and the validity window, and wants exactly the
// designated failures in the broken zones.
func TestSignedSignatures(t *testing.T) {
	n := signedNetAt(t)
	for _, s := range signedSpecs() {
		t.Run(s.origin, func(t *testing.T) {
			z := zoneOf(t, n, s.origin)
			got := sigProblems(z, signedAt)
			want := map[string]string{}
			www := "www." + s.origin + " A"
			switch {
			case s.alg == 0:
				if len(z.nodes[z.origin].rrset(dns.TypeRRSIG)) != 0 {
					t.Fatalf("unsigned zone has RRSIGs")
				}
				return
			case s.flaw == flawExpired || s.flaw == flawNotYet:
				for k, v := range got {
					if wantV := map[flaw]string{flawExpired: "expired", flawNotYet: "not yet valid"}[s.flaw]; v != wantV {
						t.Errorf("%s: got %q, want %q", k, v, wantV)
					}
				}
				if len(got) == 0 {
					t.Errorf("got no failures, want every signature out of its window")
				}
				return
			case s.flaw == flawNoSig:
				want[www] = "unsigned"
			case s.flaw == flawWrongKey:
				want[www] = "no key"
			case s.flaw == flawBadSig:
				want[www] = "bad"
			}
			if !mapsEqual(got, want) {
				t.Errorf("signature problems: got %v, want %v", got, want)
			}
			// The window is the one Options asked for.
			sig := z.nodes[z.origin].rrset(dns.TypeRRSIG)[0].(*dns.RRSIG)
			if gi, ge, wi, we := sig.Inception, sig.Expiration, unix32(signedAt.Add(-time.Hour)), unix32(signedAt.Add(30*24*time.Hour)); gi != wi || ge != we {
				t.Errorf("validity: got %d-%d, want %d-%d", gi, ge, wi, we)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSignedDelegations checks the DS in each parent against the child's
// KSK (DNSKEY.ToDS), flaws included, and the trust anchor against the
// root KSK.
func TestSignedDelegations(t *testing.T) {
	n := signedNetAt(t)
	specs := signedSpecs()
	for _, s := range specs {
		if s.origin == "." {
			continue
		}
		t.Run(s.origin, func(t *testing.T) {
			p := zoneOf(t, n, parentZone(s.origin, specs))
			ds := p.nodes[s.origin].rrset(dns.TypeDS)
			if s.alg == 0 {
				if len(ds) != 0 {
					t.Fatalf("got %d DS for an unsigned child, want none", len(ds))
				}
				return
			}
			matches := 0
			for _, k := range zoneOf(t, n, s.origin).nodes[s.origin].rrset(dns.TypeDNSKEY) {
				for _, d := range ds {
					d := d.(*dns.DS)
					if w := k.(*dns.DNSKEY).ToDS(d.DigestType); w != nil && strings.EqualFold(w.Digest, d.Digest) && w.KeyTag == d.KeyTag {
						matches++
						if k.(*dns.DNSKEY).Flags&dns.SEP == 0 {
							t.Errorf("DS matches a key without SEP")
						}
					}
				}
			}
			wantMatches := 1
			switch s.flaw {
			case flawDSMismatch, flawUnknownDigest:
				wantMatches = 0
			}
			if matches != wantMatches || len(ds) != 1 {
				t.Errorf("got %d DS, %d matching the child's DNSKEYs; want 1, %d", len(ds), matches, wantMatches)
			}
			if s.flaw == flawUnknownDigest && ds[0].(*dns.DS).DigestType != 200 {
				t.Errorf("got digest type %d, want 200", ds[0].(*dns.DS).DigestType)
			}
			if s.alg == algorithmDSA && ds[0].(*dns.DS).Algorithm != algorithmDSA {
				t.Errorf("got DS algorithm %d, want 3", ds[0].(*dns.DS).Algorithm)
			}
		})
	}
	root := zoneOf(t, n, ".")
	anchor := n.TrustAnchor()
	if len(anchor) != 1 {
		t.Fatalf("got %d trust anchors, want 1", len(anchor))
	}
	ksk := root.nodes["."].rrset(dns.TypeDNSKEY)[0].(*dns.DNSKEY)
	if ksk.Flags&dns.SEP == 0 {
		ksk = root.nodes["."].rrset(dns.TypeDNSKEY)[1].(*dns.DNSKEY)
	}
	if got, want := anchor[0].String(), func() string { d := ksk.ToDS(dns.SHA256); d.Hdr.Ttl = 86400; return d.String() }(); got != want {
		t.Errorf("TrustAnchor: got %s, want %s", got, want)
	}
	recs, err := parseRecords(n.TrustAnchorText())
	if err != nil || len(recs) != 1 || recs[0].String() != anchor[0].String() {
		t.Errorf("TrustAnchorText does not parse back to TrustAnchor: %v %v", recs, err)
	}
	if got, want := rrs(t, n.RootHints()), rrs(t, []string{
		". 86400 IN NS a.root.hush.", ". 86400 IN NS b.root.hush.",
		"a.root.hush. 86400 IN A 127.53.100.1", "b.root.hush. 86400 IN A 127.53.100.2",
	}); !slices.Equal(got, want) {
		t.Errorf("RootHints: got %v, want %v", got, want)
	}
	d, _ := Default()
	if d.TrustAnchor() != nil || d.TrustAnchorText() != "" {
		t.Errorf("Default network has a trust anchor")
	}
}

// TestSignedChains walks every NSEC chain from the apex and wants a closed
// loop through every NSEC whose bitmaps name exactly the types present;
// every NSEC3 owner must be the hash of a name of the zone, the hashes a
// closed loop, the parameters those of NSEC3PARAM.
func TestSignedChains(t *testing.T) {
	n := signedNetAt(t)
	for _, s := range signedSpecs() {
		if s.alg == 0 || s.flaw == flawNoNSEC {
			continue
		}
		t.Run(s.origin, func(t *testing.T) {
			z := zoneOf(t, n, s.origin)
			if s.nsec3 == nil {
				checkNSECChain(t, z)
			} else {
				checkNSEC3Chain(t, z, s.nsec3)
			}
		})
	}
}

func checkNSECChain(t *testing.T, z *zone) {
	count := 0
	for _, nd := range z.nodes {
		count += len(nd.rrset(dns.TypeNSEC))
	}
	seen := map[string]bool{}
	name := z.origin
	for {
		nsec := z.nodes[name].rrset(dns.TypeNSEC)
		if len(nsec) != 1 {
			t.Fatalf("%s: got %d NSEC, want 1", name, len(nsec))
		}
		rec := nsec[0].(*dns.NSEC)
		types := slices.Clone(z.nodes[name].order)
		slices.Sort(types)
		if got := rec.TypeBitMap; !slices.Equal(got, types) {
			t.Errorf("%s: bitmap %v, want %v", name, got, types)
		}
		seen[name] = true
		next := dns.CanonicalName(rec.NextDomain)
		if next != z.origin && canonicalCompare(next, name) <= 0 {
			t.Errorf("%s: next %s is not after it", name, next)
		}
		if next == z.origin {
			break
		}
		if seen[next] {
			t.Fatalf("%s: loop before the apex at %s", name, next)
		}
		name = next
	}
	if len(seen) != count {
		t.Errorf("chain visits %d names, zone has %d NSEC", len(seen), count)
	}
}

func checkNSEC3Chain(t *testing.T, z *zone, p *nsec3Spec) {
	param := z.nodes[z.origin].rrset(dns.TypeNSEC3PARAM)
	if len(param) != 1 {
		t.Fatalf("got %d NSEC3PARAM, want 1", len(param))
	}
	np := param[0].(*dns.NSEC3PARAM)
	if np.Iterations != p.iterations || !strings.EqualFold(strings.Trim(np.Salt, "-"), p.salt) || np.Flags != 0 {
		t.Errorf("NSEC3PARAM %s, want iterations %d salt %q", np, p.iterations, p.salt)
	}
	hashes := map[string]string{} // hash -> name
	for name := range z.exists {
		if nd := z.nodes[name]; nd != nil && onlyNSEC3(nd) || below(z, name) {
			continue
		}
		hashes[strings.ToLower(dns.HashName(name, dns.SHA1, p.iterations, p.salt))] = name
	}
	var owners []string
	for name, nd := range z.nodes {
		for _, rr := range nd.rrset(dns.TypeNSEC3) {
			rec := rr.(*dns.NSEC3)
			label, _, _ := strings.Cut(name, ".")
			owners = append(owners, label)
			src, ok := hashes[label]
			if !ok {
				t.Errorf("%s: hash of no name of the zone", name)
				continue
			}
			if rec.Iterations != p.iterations || (rec.Flags&1 == 1) != p.optOut {
				t.Errorf("%s (%s): iterations %d flags %d", name, src, rec.Iterations, rec.Flags)
			}
			if !rec.Match(src) {
				t.Errorf("%s: miekg/dns says it does not match %s", name, src)
			}
		}
	}
	slices.Sort(owners)
	for i, o := range owners {
		rec := z.nodes[o+"."+z.origin].rrset(dns.TypeNSEC3)[0].(*dns.NSEC3)
		if want := owners[(i+1)%len(owners)]; !strings.EqualFold(rec.NextDomain, want) {
			t.Errorf("%s: next %s, want %s", o, rec.NextDomain, want)
		}
	}
	// Every name but the opt-out child has its NSEC3.
	for h, name := range hashes {
		_, has := slices.BinarySearch(owners, h)
		insecureCut := name != z.origin && z.nodes[name].rrset(dns.TypeNS) != nil && z.nodes[name].rrset(dns.TypeDS) == nil
		if want := !(p.optOut && insecureCut); has != want {
			t.Errorf("%s: has NSEC3 %v, want %v", name, has, want)
		}
	}
}

// TestSignedDataMatchesMiekg checks the RRSIG signing input built for
// Ed448 against miekg/dns: an Ed25519 signature made over it must verify
// with RRSIG.Verify, for a plain and a wildcard-expanded RRset.
func TestSignedDataMatchesMiekg(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "Example.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ED25519, PublicKey: base64.StdEncoding.EncodeToString(pub)}
	for _, tc := range []struct {
		name   string
		rrset  []string
		labels uint8
	}{
		{"plain", []string{"WWW.example. 300 IN MX 20 B.Example.", "WWW.example. 300 IN MX 10 a.example."}, 2},
		{"wildcard", []string{"x.y.example. 300 IN TXT \"b\"", "x.y.example. 300 IN TXT \"a\""}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rrset []dns.RR
			for _, s := range tc.rrset {
				rrset = append(rrset, mustRR(s))
			}
			sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: rrset[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
				TypeCovered: rrset[0].Header().Rrtype, Algorithm: dns.ED25519, Labels: tc.labels, OrigTtl: 300,
				Expiration: 2000000000, Inception: 1000000000, KeyTag: k.KeyTag(), SignerName: "EXAMPLE."}
			data, err := signedData(sig, rrset)
			if err != nil {
				t.Fatal(err)
			}
			sig.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, data))
			if err := sig.Verify(k, rrset); err != nil {
				t.Errorf("miekg/dns Verify: got %v, want nil", err)
			}
		})
	}
}
