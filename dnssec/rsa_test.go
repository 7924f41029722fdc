package dnssec

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // test of RSASHA1 signatures.
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestVerifySmallRSAKey checks a 512-bit RSASHA1-NSEC3-SHA1 signature from
// the RFC 5155 Appendix B zone (as Deckard's val_nsec3_* scenarios serve
// it): crypto/rsa refuses such keys, so verifyPKCS1v15 must accept
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

// TestVerifyLargeExponentRSAKey checks the nic.cz key set of 2015 (as
// Deckard's iter_validate_nsec_nxdomain serves it): its KSK has the
// exponent 2^32+1, which crypto/rsa refuses, and signs the DNSKEY RRset.
func TestVerifyLargeExponentRSAKey(t *testing.T) {
	rrs := mustRRs(t,
		"nic.cz. 1800 IN DNSKEY 256 3 5 AwEAAatglK6e9CpmATmEDtjQfOMqSEGB2KT3xciP+ZuBH3qYQDggHxaoHk9cfL5uXHxEr8AqmiTNA2CJ9oVm2wlZFCTUtQS2Vxz+i30XQpIPoh1y0fU/XHKmrVmdVGzc9OdgDyZT+8CbUInAyUin+tWM9M7ekUXAllUw5bd8VC4SJO3z",
		"nic.cz. 1800 IN DNSKEY 257 3 5 BQEAAAABt3LenoCVTV0okqKYPDnnVJqvwCD9MKJNXg8fcOCdLQYncyoehpwM5RK2UkZDcDxWkMo7yMa35ej+Mhpaji9si4xXD+Syl4Q06LFiFkdN/5GlVlrIdE3GW7zC7Z4sS14Vz8FbYfcRmhsh19Ob718jGZneGfw2UPbvkyxUR8wD7mguZn02fQ6tjj/Ktp4uSW9tpz3bjGMo2rX+iZk4xgbPaesAOlR/AaHdatGZsWC9CPon8mnLZeu6czm8CBDgBmnf3PE8c5+uyWj1Pw4pp0VQmnX5UrnuGpErg7qXhJm7wY2CRVRMcLX3zmjVWXW1uT9JFh2G+/pZzxnASfKKltZpuw==",
	)
	sig := mustRR(t, "nic.cz. 1800 IN RRSIG DNSKEY 5 2 1800 20150818153605 20150805135503 59916 nic.cz. iDP/U4c8zJF085/V/CAlRU4Hs1RugPkzJdaYVCXwnpZ5vjArAY5wzUtx88626FvBgVD/hnCUrSoN8eNz8ISSsyk3Ql3bTp5Cmxi+hgIqWd1Q3H3uRY3TlsMM0rpsVBalz3f77pia8s7e3kFsjee2z7iadj/ILSfzYQTghSaO0B6pDaWoUhhwbGWR1Fz0YdhaiYO21Tvxa5/DD3R3fsTWZQ773GENhNhE1LM6L82770F+VGfbIhG/wBqiRM1FXiikPixvbmgRco2dff/3w/ns2WXIyFjlr7WwaHlrlyIhgI30CYDs3Xe3jI+sxwNG64XqnwVgBIaN7GVbUulb9RFxkg==").(*dns.RRSIG)
	ksk := rrs[1].(*dns.DNSKEY)
	now := time.Date(2015, 8, 10, 0, 0, 0, 0, time.UTC)
	got := VerifyRRset(rrs, []*dns.RRSIG{sig}, []*dns.DNSKEY{ksk}, "nic.cz.", now, NewBudget(Limits{}, Policy{}))
	if got.Status != Secure {
		t.Fatalf("genuine: got %v (%v), want Secure", got.Status, got.Err)
	}
	rrs[0].(*dns.DNSKEY).Flags = 257
	got = VerifyRRset(rrs, []*dns.RRSIG{sig}, []*dns.DNSKEY{ksk}, "nic.cz.", now, NewBudget(Limits{}, Policy{}))
	if got.Status != Bogus {
		t.Fatalf("changed set: got %v (%v), want Bogus", got.Status, got.Err)
	}
}

// TestVerifyPKCS1v15SmallMatchesStdlib cross-checks verifyPKCS1v15
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
			if got := verifyPKCS1v15(priv.N, big.NewInt(int64(priv.E)), c.h, in.sum, in.sig); got != want {
				t.Errorf("%v %s: got %v, crypto/rsa says %v", c.h, in.name, got, want)
			}
		}
	}
}
