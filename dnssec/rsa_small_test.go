package dnssec

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // test of RSASHA1 signatures.
	"crypto/sha256"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestVerifySmallRSAKey checks a 512-bit RSASHA1-NSEC3-SHA1 signature from
// the RFC 5155 Appendix B zone (as Deckard's val_nsec3_* scenarios serve
// it): crypto/rsa refuses such keys, so verifyPKCS1v15Small must accept
// the genuine signature and reject a changed record.
func TestVerifySmallRSAKey(t *testing.T) {
	zsk := mustRR(t, "example. 3600 IN DNSKEY 256 3 7 AwEAAaetidLzsKWUt4swWR8yu0wPHPiUi8LUsAD0QPWU+wzt89epO6tHzkMBVDkC7qphQO2hTY4hHn9npWFRw5BYubE=").(*dns.DNSKEY)
	sig := mustRR(t, "example. 3600 IN RRSIG SOA 7 1 3600 20150420235959 20051021000000 40430 example. Hu25UIyNPmvPIVBrldN+9Mlp9Zql39qaUd8iq4ZLlYWfUUbbAS41pG+68z81q1xhkYAcEyHdVI2LmKusbZsT0Q==").(*dns.RRSIG)
	now := time.Date(2012, 4, 20, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name string
		soa  string
		want Status
	}{
		{"genuine", "example. 3600 IN SOA ns1.example. bugs.x.w.example. 1 3600 300 3600000 3600", Secure},
		{"changed serial", "example. 3600 IN SOA ns1.example. bugs.x.w.example. 2 3600 300 3600000 3600", Bogus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VerifyRRset([]dns.RR{mustRR(t, tt.soa)}, []*dns.RRSIG{sig}, []*dns.DNSKEY{zsk}, "example.", now, NewBudget(Limits{}, Policy{}))
			if got.Status != tt.want {
				t.Fatalf("got %v (%v), want %v", got.Status, got.Err, tt.want)
			}
		})
	}
}

// TestVerifyPKCS1v15SmallMatchesStdlib cross-checks verifyPKCS1v15Small
// against crypto/rsa on a key both accept, for each hash DNSSEC uses, with
// good and damaged signatures and hashes.
func TestVerifyPKCS1v15SmallMatchesStdlib(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hush")
	s1, s256, s512 := sha1.Sum(data), sha256.Sum256(data), sha512.Sum512(data) //nolint:gosec // see import.
	for _, c := range []struct {
		h   crypto.Hash
		sum []byte
	}{{crypto.SHA1, s1[:]}, {crypto.SHA256, s256[:]}, {crypto.SHA512, s512[:]}} {
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, c.h, c.sum)
		if err != nil {
			t.Fatal(err)
		}
		badSig := append([]byte(nil), sig...)
		badSig[len(badSig)/2] ^= 1
		badSum := append([]byte(nil), c.sum...)
		badSum[0] ^= 1
		for _, in := range []struct {
			name     string
			sum, sig []byte
		}{{"good", c.sum, sig}, {"bad sig", c.sum, badSig}, {"bad hash", badSum, sig}, {"short sig", c.sum, sig[1:]}} {
			want := rsa.VerifyPKCS1v15(&priv.PublicKey, c.h, in.sum, in.sig) == nil
			if got := verifyPKCS1v15Small(&priv.PublicKey, c.h, in.sum, in.sig); got != want {
				t.Errorf("%v %s: got %v, crypto/rsa says %v", c.h, in.name, got, want)
			}
		}
	}
}
