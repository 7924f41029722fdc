package dnssec

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/miekg/dns"
)

// Fixed validity window for test signatures; tests inject now.
var (
	testInception  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	testExpiration = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	testNow        = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
)

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil || rr == nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return rr
}

func mustRRs(t testing.TB, ss ...string) []dns.RR {
	t.Helper()
	out := make([]dns.RR, 0, len(ss))
	for _, s := range ss {
		out = append(out, mustRR(t, s))
	}
	return out
}

// testKey is a DNSKEY with its private half.
type testKey struct {
	key  *dns.DNSKEY
	priv crypto.PrivateKey
}

func keyBits(alg uint8) int {
	switch alg {
	case dns.ECDSAP256SHA256, dns.ED25519:
		return 256
	case dns.ECDSAP384SHA384:
		return 384
	case dns.ED448:
		return 456
	}
	return 1024
}

// newKey generates a zone key for zone; flags 257 for a KSK, 256 for a ZSK.
func newKey(t testing.TB, zone string, alg uint8, flags uint16) testKey {
	t.Helper()
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.Fqdn(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flags,
		Protocol:  3,
		Algorithm: alg,
	}
	if alg == dns.ED448 {
		pub, priv, err := ed448.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.PublicKey = base64.StdEncoding.EncodeToString(pub)
		return testKey{key: k, priv: priv}
	}
	priv, err := k.Generate(keyBits(alg))
	if err != nil {
		t.Fatalf("generate alg %d: %v", alg, err)
	}
	return testKey{key: k, priv: priv}
}

// sign signs rrset with k over the fixed test window.
func (k testKey) sign(t testing.TB, rrset []dns.RR) *dns.RRSIG {
	t.Helper()
	return k.signWindow(t, rrset, testInception, testExpiration)
}

func (k testKey) signWindow(t testing.TB, rrset []dns.RR, inc, exp time.Time) *dns.RRSIG {
	t.Helper()
	h := rrset[0].Header()
	sig := &dns.RRSIG{
		Hdr:         dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: h.Class, Ttl: h.Ttl},
		TypeCovered: h.Rrtype,
		Algorithm:   k.key.Algorithm,
		Labels:      uint8(dns.CountLabel(h.Name)),
		OrigTtl:     h.Ttl,
		Inception:   uint32(inc.Unix()),
		Expiration:  uint32(exp.Unix()),
		KeyTag:      k.key.KeyTag(),
		SignerName:  k.key.Hdr.Name,
	}
	if k.key.Algorithm == dns.ED448 {
		// miekg/dns cannot sign Ed448: use the package's own canonical form.
		if len(h.Name) > 1 && h.Name[0] == '*' {
			sig.Labels--
		}
		data, err := signedData(rrset, sig)
		if err != nil {
			t.Fatal(err)
		}
		sig.Signature = base64.StdEncoding.EncodeToString(ed448.Sign(k.priv.(ed448.PrivateKey), data, ""))
		return sig
	}
	if err := sig.Sign(k.priv.(crypto.Signer), rrset); err != nil {
		t.Fatalf("sign: %v", err)
	}
	return sig
}

var allAlgorithms = []uint8{
	dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512,
	dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519, dns.ED448,
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
