package resolvertest

import (
	"crypto/dsa" //nolint:staticcheck // for the algorithm 3 zone
	"crypto/rand"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/miekg/dns"
)

var genKeys = flag.Bool("resolvertest.genkeys", false, "rewrite the key fixtures in keys/ (invalidates every written trust anchor)")

// TestGenerateKeys writes the signed internet's key fixtures. It runs only
// with -resolvertest.genkeys: the keys are committed so that signing is
// repeatable.
func TestGenerateKeys(t *testing.T) {
	if !*genKeys {
		t.Skip("run with -resolvertest.genkeys to rewrite keys/")
	}
	if err := os.MkdirAll("keys", 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, origin string, alg uint8, flags uint16, bits int) {
		k := &dns.DNSKEY{
			Hdr:       dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags:     flags,
			Protocol:  3,
			Algorithm: alg,
		}
		var private string
		switch alg {
		case dns.ED448:
			pub, priv, err := ed448.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			k.PublicKey = base64.StdEncoding.EncodeToString(pub)
			private = ed448PrivateText(priv.Seed())
		case algorithmDSA:
			var priv dsa.PrivateKey
			if err := dsa.GenerateParameters(&priv.Parameters, rand.Reader, dsa.L1024N160); err != nil {
				t.Fatal(err)
			}
			if err := dsa.GenerateKey(&priv, rand.Reader); err != nil {
				t.Fatal(err)
			}
			k.PublicKey = dsaPublicKey(&priv.PublicKey)
			private = dsaPrivateText(&priv)
		default:
			priv, err := k.Generate(bits)
			if err != nil {
				t.Fatalf("generate %s: %v", name, err)
			}
			private = k.PrivateKeyString(priv)
		}
		if err := os.WriteFile(filepath.Join("keys", name+".key"), []byte(k.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if private != "" {
			if err := os.WriteFile(filepath.Join("keys", name+".private"), []byte(private), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range signedSpecs() {
		if s.alg == 0 {
			continue
		}
		// RSA ZSKs are 1024 bits so that signed answers stay under the
		// 1232-octet UDP limit; KSKs are 2048 as in the real root.
		kskBits, zskBits := 2048, 1024
		switch s.alg {
		case dns.ECDSAP256SHA256, dns.ED25519:
			kskBits, zskBits = 256, 256
		case dns.ECDSAP384SHA384:
			kskBits, zskBits = 384, 384
		}
		write(keyBase(s.origin)+".ksk", s.origin, s.alg, dns.ZONE|dns.SEP, kskBits)
		write(keyBase(s.origin)+".zsk", s.origin, s.alg, dns.ZONE, zskBits)
	}
	// The rogue key signs what wrongkey.broken. gets wrong and is what
	// dsmismatch.broken.'s DS names; neither zone publishes it.
	write("rogue", "broken.", dns.ECDSAP256SHA256, dns.ZONE|dns.SEP, 256)
}
