package dnssec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestVerifyRRsetAlgorithms(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			k := newKey(t, "example.", alg, 256)
			rrset := mustRRs(t,
				"www.example. 3600 IN TXT \"hello\"",
				"www.example. 3600 IN TXT \"a much longer second string\"",
				"WWW.Example. 3600 IN TXT \"x\"")
			sig := k.sign(t, rrset)
			got := VerifyRRset(rrset, []*dns.RRSIG{sig}, []*dns.DNSKEY{k.key}, "example.", testNow, nil)
			if got.Status != Secure || got.Err != nil {
				t.Fatalf("got %v (%v), want secure", got.Status, got.Err)
			}
			if got.Wildcard != "" {
				t.Errorf("got wildcard %q, want none", got.Wildcard)
			}
			// SHA-1 algorithms can be switched off; then nothing verifies.
			b := NewBudget(Limits{}, Policy{DisableSHA1: true})
			got = VerifyRRset(rrset, []*dns.RRSIG{sig}, []*dns.DNSKEY{k.key}, "example.", testNow, b)
			sha1 := alg == dns.RSASHA1 || alg == dns.RSASHA1NSEC3SHA1
			if want := map[bool]Status{true: Bogus, false: Secure}[sha1]; got.Status != want {
				t.Errorf("DisableSHA1: got %v, want %v", got.Status, want)
			}
		})
	}
}

func TestVerifyRRsetFailures(t *testing.T) {
	k := newKey(t, "example.", dns.ED25519, 256)
	other := newKey(t, "example.", dns.ED25519, 256)
	rrset := mustRRs(t, "www.example. 300 IN A 192.0.2.1", "www.example. 300 IN A 192.0.2.2")
	good := k.sign(t, rrset)
	tamper := func(f func(s *dns.RRSIG)) *dns.RRSIG {
		s := dns.Copy(good).(*dns.RRSIG)
		f(s)
		return s
	}
	keyWith := func(f func(k *dns.DNSKEY)) *dns.DNSKEY {
		c := dns.Copy(k.key).(*dns.DNSKEY)
		f(c)
		return c
	}
	tests := []struct {
		name    string
		rrset   []dns.RR
		sig     *dns.RRSIG
		key     *dns.DNSKEY
		signer  string
		now     time.Time
		want    Status
		wantErr error
		wantEDE uint16
	}{
		{"good", rrset, good, k.key, "example.", testNow, Secure, nil, 0},
		{"skew allows just expired", rrset, good, k.key, "example.", testExpiration.Add(4 * time.Minute), Secure, nil, 0},
		{"expired", rrset, good, k.key, "example.", testExpiration.Add(time.Hour), Bogus, ErrSignatureExpired, 7},
		{"not yet valid", rrset, good, k.key, "example.", testInception.Add(-time.Hour), Bogus, ErrSignatureNotYetValid, 8},
		{"wrong key", rrset, good, other.key, "example.", testNow, Bogus, ErrDNSKEYMissing, 9},
		{"wrong key same tag", rrset, good, keyWith(func(c *dns.DNSKEY) { c.PublicKey = other.key.PublicKey }), "example.", testNow, Bogus, ErrDNSKEYMissing, 9},
		{"wrong signer", rrset, good, k.key, "www.example.", testNow, Bogus, ErrBogus, 6},
		{"signer not ancestor", rrset, good, k.key, "other.", testNow, Bogus, ErrBogus, 6},
		{"labels above owner", rrset, tamper(func(s *dns.RRSIG) { s.Labels = 3 }), k.key, "example.", testNow, Bogus, ErrBogus, 6},
		{"tampered data", mustRRs(t, "www.example. 300 IN A 192.0.2.1", "www.example. 300 IN A 192.0.2.3"), good, k.key, "example.", testNow, Bogus, ErrBogus, 6},
		{"tampered signature", rrset, tamper(func(s *dns.RRSIG) { s.Signature = other.sign(t, rrset).Signature }), k.key, "example.", testNow, Bogus, ErrBogus, 6},
		{"no rrsig", rrset, nil, k.key, "example.", testNow, Bogus, ErrRRSIGsMissing, 10},
		{"rrsig for other type", rrset, tamper(func(s *dns.RRSIG) { s.TypeCovered = dns.TypeAAAA }), k.key, "example.", testNow, Bogus, ErrRRSIGsMissing, 10},
		{"unsupported algorithm only", rrset, tamper(func(s *dns.RRSIG) { s.Algorithm = dns.RSAMD5 }), k.key, "example.", testNow, Bogus, ErrRRSIGsMissing, 10},
		{"not a zone key", rrset, good, keyWith(func(c *dns.DNSKEY) { c.Flags = 0 }), "example.", testNow, Bogus, ErrDNSKEYMissing, 9},
		{"revoked", rrset, good, keyWith(func(c *dns.DNSKEY) { c.Flags |= dns.REVOKE }), "example.", testNow, Bogus, ErrDNSKEYMissing, 9},
		{"protocol not 3", rrset, good, keyWith(func(c *dns.DNSKEY) { c.Protocol = 2 }), "example.", testNow, Bogus, ErrDNSKEYMissing, 9},
		{"empty rrset", nil, good, k.key, "example.", testNow, Bogus, ErrBogus, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sigs []*dns.RRSIG
			if tt.sig != nil {
				sigs = []*dns.RRSIG{tt.sig}
			}
			got := VerifyRRset(tt.rrset, sigs, []*dns.DNSKEY{tt.key}, tt.signer, tt.now, nil)
			if got.Status != tt.want {
				t.Fatalf("got %v (%v), want %v", got.Status, got.Err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(got.Err, tt.wantErr) {
				t.Errorf("got err %v, want %v", got.Err, tt.wantErr)
			}
			if code, ok := EDE(got.Err); tt.wantErr != nil && (!ok || code != tt.wantEDE) {
				t.Errorf("got EDE %d %v, want %d", code, ok, tt.wantEDE)
			}
		})
	}
}

func TestVerifyRRsetWildcard(t *testing.T) {
	k := newKey(t, "example.", dns.ECDSAP256SHA256, 256)
	wild := mustRRs(t, "*.w.example. 3600 IN MX 1 ai.example.")
	sig := k.sign(t, wild)
	if sig.Labels != 2 {
		t.Fatalf("got labels %d, want 2", sig.Labels)
	}
	// The literal wildcard RRset is not an expansion.
	got := VerifyRRset(wild, []*dns.RRSIG{sig}, []*dns.DNSKEY{k.key}, "example.", testNow, nil)
	if got.Status != Secure || got.Wildcard != "" {
		t.Fatalf("literal: got %v %q (%v), want secure without wildcard", got.Status, got.Wildcard, got.Err)
	}
	// An expansion at a.z.w.example carries the same signature.
	exp := mustRRs(t, "a.z.w.example. 3600 IN MX 1 ai.example.")
	esig := dns.Copy(sig).(*dns.RRSIG)
	esig.Hdr.Name = "a.z.w.example."
	got = VerifyRRset(exp, []*dns.RRSIG{esig}, []*dns.DNSKEY{k.key}, "example.", testNow, nil)
	if got.Status != Secure || got.Wildcard != "*.w.example." {
		t.Fatalf("expanded: got %v %q (%v), want secure from *.w.example.", got.Status, got.Wildcard, got.Err)
	}
}

func TestValidatedTTL(t *testing.T) {
	rrset := mustRRs(t, "a.example. 600 IN A 192.0.2.1", "a.example. 300 IN A 192.0.2.2")
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Ttl: 500}, OrigTtl: 400, Expiration: uint32(testNow.Unix()) + 1000}
	tests := []struct {
		name string
		mod  func(s *dns.RRSIG)
		now  time.Time
		want uint32
	}{
		{"rr ttl", func(*dns.RRSIG) {}, testNow, 300},
		{"orig ttl", func(s *dns.RRSIG) { s.OrigTtl = 100 }, testNow, 100},
		{"rrsig ttl", func(s *dns.RRSIG) { s.Hdr.Ttl = 50 }, testNow, 50},
		{"expiration", func(*dns.RRSIG) {}, testNow.Add(990 * time.Second), 10},
		{"expired", func(*dns.RRSIG) {}, testNow.Add(2000 * time.Second), 0},
	}
	for _, tt := range tests {
		s := dns.Copy(sig).(*dns.RRSIG)
		tt.mod(s)
		if got := ValidatedTTL(rrset, s, tt.now); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

// RFC 6605 §6 and RFC 8080 §6 examples: published keys and signatures,
// verified at a time inside their windows.
func TestRFCExampleSignatures(t *testing.T) {
	tests := []struct {
		name, key, ds, rr, sig, signer string
		now                            time.Time
	}{
		{
			name:   "RFC 6605 6.1 P-256",
			key:    "example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
			ds:     "example.net. 3600 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17",
			rr:     "www.example.net. 3600 IN A 192.0.2.1",
			sig:    "www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==",
			signer: "example.net.",
			now:    time.Date(2010, 8, 20, 0, 0, 0, 0, time.UTC),
		},
		{
			name:   "RFC 6605 6.2 P-384",
			key:    "example.net. 3600 IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
			ds:     "example.net. 3600 IN DS 10771 14 4 72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6",
			rr:     "www.example.net. 3600 IN A 192.0.2.1",
			sig:    "www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm",
			signer: "example.net.",
			now:    time.Date(2010, 8, 20, 0, 0, 0, 0, time.UTC),
		},
		{
			name:   "RFC 8080 6.1 Ed25519 example 1",
			key:    "example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
			ds:     "example.com. 3600 IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
			rr:     "example.com. 3600 IN MX 10 mail.example.com.",
			sig:    "example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
			signer: "example.com.",
			now:    time.Date(2015, 8, 10, 0, 0, 0, 0, time.UTC),
		},
		{
			name:   "RFC 8080 6.1 Ed25519 example 2",
			key:    "example.com. 3600 IN DNSKEY 257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
			ds:     "example.com. 3600 IN DS 35217 15 2 401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
			rr:     "example.com. 3600 IN MX 10 mail.example.com.",
			sig:    "example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 35217 example.com. zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
			signer: "example.com.",
			now:    time.Date(2015, 8, 10, 0, 0, 0, 0, time.UTC),
		},
		{
			// RFC 8080 §6.2 prints "RRSIG MX 3 3600" with the algorithm and
			// labels fields lost; these are the corrected examples that other
			// validators' test suites carry. Independent Ed448 vectors.
			name:   "RFC 8080 6.2 Ed448 example 1",
			key:    "example.com. 3600 IN DNSKEY 257 3 16 3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
			ds:     "example.com. 3600 IN DS 9713 16 2 6ccf18d5bc5d7fc2fceb1d59d17321402f2aa8d368048db93dd811f5cb2b19c7",
			rr:     "example.com. 3600 IN MX 10 mail.example.com.",
			sig:    "example.com. 3600 IN RRSIG MX 16 2 3600 1440021600 1438207200 9713 example.com. 3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0amxWndkmnBZ6SKiwZSAxGILn/NBtOXft0+Gj7FSvOKxE/07+4RQvE581N3Aj/JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA",
			signer: "example.com.",
			now:    time.Date(2015, 8, 10, 0, 0, 0, 0, time.UTC),
		},
		{
			name:   "RFC 8080 6.2 Ed448 example 2",
			key:    "example.com. 3600 IN DNSKEY 257 3 16 kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcNLp5HlHAMy12VoISsA",
			ds:     "example.com. 3600 IN DS 38353 16 2 645ff078b3568f5852b70cb60e8e696cc77b75bfaaffc118cf79cbda1ba28af4",
			rr:     "example.com. 3600 IN MX 10 mail.example.com.",
			sig:    "example.com. 3600 IN RRSIG MX 16 2 3600 1440021600 1438207200 38353 example.com. E1/oLjSGIbmLny/4fcgM1z4oL6aqo+izT3urCyHyvEp4Sp8Syg1eI+lJ57CSnZqjJP41O/9l4m0AsQ4f7qI1gVnML8vWWiyW2KXhT9kuAICUSxv5OWbf81Rq7Yu60npabODB0QFPb/rkW3kUZmQ0YQUA",
			signer: "example.com.",
			now:    time.Date(2015, 8, 10, 0, 0, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := mustRR(t, tt.key).(*dns.DNSKEY)
			ds := mustRR(t, tt.ds).(*dns.DS)
			if !dsMatches(ds, key) {
				t.Errorf("DS does not match the key")
			}
			sig := mustRR(t, tt.sig).(*dns.RRSIG)
			rrset := []dns.RR{mustRR(t, tt.rr)}
			got := VerifyRRset(rrset, []*dns.RRSIG{sig}, []*dns.DNSKEY{key}, tt.signer, tt.now, nil)
			if got.Status != Secure {
				t.Fatalf("got %v (%v), want secure", got.Status, got.Err)
			}
			got = VerifyRRset(rrset, []*dns.RRSIG{sig}, []*dns.DNSKEY{key}, tt.signer, tt.now.AddDate(1, 0, 0), nil)
			if !errors.Is(got.Err, ErrSignatureExpired) {
				t.Errorf("a year later: got %v (%v), want expired", got.Status, got.Err)
			}
		})
	}
}

// signedZoneKeys builds a DNSKEY RRset for zone with a KSK and a ZSK,
// signed by the KSK, and the KSK's DS.
func signedZoneKeys(t testing.TB, zone string, alg uint8) (ksk, zsk testKey, rrs []dns.RR, ds *dns.DS) {
	t.Helper()
	ksk = newKey(t, zone, alg, 257)
	zsk = newKey(t, zone, alg, 256)
	set := []dns.RR{ksk.key, zsk.key}
	sig := ksk.sign(t, set)
	return ksk, zsk, append(set, sig), ksk.key.ToDS(dns.SHA256)
}

func TestVerifyDNSKEYs(t *testing.T) {
	ksk, zsk, rrs, ds := signedZoneKeys(t, "example.", dns.ECDSAP256SHA256)
	_, _, _, otherDS := signedZoneKeys(t, "example.", dns.ECDSAP256SHA256)
	withDigest := func(d *dns.DS, typ uint8) *dns.DS {
		c := dns.Copy(d).(*dns.DS)
		c.DigestType = typ
		return c
	}
	withAlg := func(d *dns.DS, alg uint8) *dns.DS {
		c := dns.Copy(d).(*dns.DS)
		c.Algorithm = alg
		return c
	}
	badSHA1 := ksk.key.ToDS(dns.SHA1)
	badSHA1.Digest = strings.Repeat("00", 20)
	tests := []struct {
		name    string
		trust   *Anchor
		now     time.Time
		policy  Policy
		want    Status
		wantErr error
	}{
		{"ds sha256", &Anchor{Zone: "example.", DS: []*dns.DS{ds}}, testNow, Policy{}, Secure, nil},
		{"ds sha1", &Anchor{Zone: "example.", DS: []*dns.DS{ksk.key.ToDS(dns.SHA1)}}, testNow, Policy{}, Secure, nil},
		{"ds sha384", &Anchor{Zone: "example.", DS: []*dns.DS{ksk.key.ToDS(dns.SHA384)}}, testNow, Policy{}, Secure, nil},
		{"ds sha1 disabled", &Anchor{Zone: "example.", DS: []*dns.DS{ksk.key.ToDS(dns.SHA1)}}, testNow, Policy{DisableSHA1: true}, Insecure, ErrUnsupportedDigest},
		{"ds of a key that does not sign the set", &Anchor{Zone: "example.", DS: []*dns.DS{zsk.key.ToDS(dns.SHA256)}}, testNow, Policy{}, Bogus, ErrDNSKEYMissing},
		{"dnskey anchor", &Anchor{Zone: "example.", DNSKEY: []*dns.DNSKEY{ksk.key}}, testNow, Policy{}, Secure, nil},
		{"ds mismatch", &Anchor{Zone: "example.", DS: []*dns.DS{otherDS}}, testNow, Policy{}, Bogus, ErrDNSKEYMissing},
		{"expired", &Anchor{Zone: "example.", DS: []*dns.DS{ds}}, testExpiration.AddDate(0, 1, 0), Policy{}, Bogus, ErrSignatureExpired},
		{"gost digest only", &Anchor{Zone: "example.", DS: []*dns.DS{withDigest(ds, dns.GOST94)}}, testNow, Policy{}, Insecure, ErrUnsupportedDigest},
		{"unknown digest only", &Anchor{Zone: "example.", DS: []*dns.DS{withDigest(ds, 200)}}, testNow, Policy{}, Insecure, ErrUnsupportedDigest},
		{"unsupported algorithm only", &Anchor{Zone: "example.", DS: []*dns.DS{withAlg(ds, dns.DSA), withAlg(ds, dns.ECCGOST), withAlg(ds, 200)}}, testNow, Policy{}, Insecure, ErrUnsupportedAlgorithm},
		{"unsupported plus supported", &Anchor{Zone: "example.", DS: []*dns.DS{withAlg(ds, dns.RSAMD5), ds}}, testNow, Policy{}, Secure, nil},
		{"sha1 ignored when sha256 present", &Anchor{Zone: "example.", DS: []*dns.DS{badSHA1, ds}}, testNow, Policy{}, Secure, nil},
		{"no trust", &Anchor{Zone: "example."}, testNow, Policy{}, Bogus, ErrBogus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VerifyDNSKEYs(rrs, tt.trust, tt.now, NewBudget(Limits{}, tt.policy))
			if got.Status != tt.want {
				t.Fatalf("got %v (%v), want %v", got.Status, got.Err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(got.Err, tt.wantErr) {
				t.Errorf("got err %v, want %v", got.Err, tt.wantErr)
			}
			if got.Status == Secure && len(got.Keys) != 2 {
				t.Errorf("got %d keys, want 2", len(got.Keys))
			}
		})
	}

	// The validated keys then verify data signed by the ZSK.
	ks := VerifyDNSKEYs(rrs, DSAnchor("example.", []dns.RR{ds}), testNow, nil)
	a := mustRRs(t, "example. 300 IN A 192.0.2.1")
	if got := VerifyRRset(a, []*dns.RRSIG{zsk.sign(t, a)}, ks.Keys, "example.", testNow, nil); got.Status != Secure {
		t.Errorf("zsk-signed data: got %v (%v), want secure", got.Status, got.Err)
	}
}

// TestKeyTrapKeyTagCollision is the KeyTrap regression (CVE-2023-50387):
// a DNSKEY set with many keys sharing one key tag and many signatures that
// all name that tag. Without limits a validator tries every key against
// every signature (keys × sigs verifications); the budget must stop it.
func TestKeyTrapKeyTagCollision(t *testing.T) {
	const nKeys, nSigs = 64, 64
	base := newKey(t, "example.", dns.ECDSAP256SHA256, 256)
	rrset := mustRRs(t, "www.example. 300 IN A 192.0.2.1")
	sig := base.sign(t, rrset)
	var sigs []*dns.RRSIG
	for i := 0; i < nSigs; i++ {
		s := dns.Copy(sig).(*dns.RRSIG)
		s.Signature = base.sign(t, mustRRs(t, fmt.Sprintf("www.example. 300 IN A 192.0.2.%d", i+2))).Signature
		sigs = append(sigs, s)
	}
	keys := collidingKeys(t, base.key.KeyTag(), nKeys)
	b := NewBudget(Limits{}, Policy{})
	got := VerifyRRset(rrset, sigs, keys, "example.", testNow, b)
	if got.Status != Bogus || !errors.Is(got.Err, ErrBudget) {
		t.Fatalf("got %v (%v), want bogus with ErrBudget", got.Status, got.Err)
	}
	if max := b.Limits().MaxSigsPerRRset; b.Validations() > max {
		t.Errorf("got %d verifications, want at most %d (not %d)", b.Validations(), max, nKeys*nSigs)
	}

	// Across RRsets of one query the query-wide failure cap holds too.
	b = NewBudget(Limits{}, Policy{})
	for i := 0; i < 20; i++ {
		VerifyRRset(rrset, sigs, keys, "example.", testNow, b)
	}
	if max := b.Limits().MaxFailures; b.Failures() > max {
		t.Errorf("got %d failed verifications in one query, want at most %d", b.Failures(), max)
	}
}

// collidingKeys returns n distinct ECDSA P-256 DNSKEYs whose key tag is
// tag. Key tags are a 16-bit checksum over the rdata, so a key's tag can
// be steered by editing the last bytes of its public key (which then no
// longer verifies anything, as in the attack).
func collidingKeys(t testing.TB, tag uint16, n int) []*dns.DNSKEY {
	t.Helper()
	var keys []*dns.DNSKEY
	for i := 0; len(keys) < n && i < 1<<20; i++ {
		k := &dns.DNSKEY{
			Hdr:       dns.RR_Header{Name: "example.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags:     256,
			Protocol:  3,
			Algorithm: dns.ECDSAP256SHA256,
		}
		raw := make([]byte, 64)
		raw[0], raw[1], raw[2] = byte(i), byte(i>>8), byte(i>>16)
		// Adjust two bytes so the checksum lands on tag (RFC 4034 App. B:
		// sum of 16-bit words plus carry).
		k.PublicKey = encodeB64(raw)
		cur := k.KeyTag()
		diff := uint32(tag) - uint32(cur)
		// Put the difference into the last word (even offset: high byte).
		w := uint32(raw[62])<<8 | uint32(raw[63])
		w = (w + diff) & 0xffff
		raw[62], raw[63] = byte(w>>8), byte(w)
		k.PublicKey = encodeB64(raw)
		if k.KeyTag() == tag {
			keys = append(keys, k)
		}
	}
	if len(keys) < n {
		t.Fatalf("found %d colliding keys, want %d", len(keys), n)
	}
	return keys
}

// TestVerifyRRsetIgnoreTime: with a clock known to be wrong the validity
// window is not checked, but everything else is.
func TestVerifyRRsetIgnoreTime(t *testing.T) {
	k := newKey(t, "example.", dns.ED25519, 256)
	other := newKey(t, "example.", dns.ED25519, 256)
	rrset := mustRRs(t, "www.example. 300 IN A 192.0.2.1")
	good := k.sign(t, rrset)
	forged := dns.Copy(good).(*dns.RRSIG)
	forged.Signature = other.sign(t, rrset).Signature
	boot := time.Unix(0, 0) // a router's clock before NTP
	tests := []struct {
		name   string
		sig    *dns.RRSIG
		now    time.Time
		ignore bool
		want   Status
	}{
		{"clock in 1970, times checked", good, boot, false, Bogus},
		{"clock in 1970, times ignored", good, boot, true, Secure},
		{"long expired, times ignored", good, testExpiration.AddDate(1, 0, 0), true, Secure},
		{"forged, times ignored", forged, boot, true, Bogus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(Limits{}, Policy{IgnoreTime: tt.ignore})
			got := VerifyRRset(rrset, []*dns.RRSIG{tt.sig}, []*dns.DNSKEY{k.key}, "example.", tt.now, b)
			if got.Status != tt.want {
				t.Fatalf("got %v (%v), want %v", got.Status, got.Err, tt.want)
			}
			if got.Status == Secure && (got.TTL == 0 || got.TTL > 300) {
				t.Errorf("TTL %d, want 1..300", got.TTL)
			}
		})
	}
}

// TestFutureInception: a root signature that verifies but is not valid
// yet shows the clock behind; one of another zone, or a forged one, not.
func TestFutureInception(t *testing.T) {
	root := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	leaf := newKey(t, "example.", dns.ECDSAP256SHA256, 257)
	other := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	rootSet := mustRRs(t, ". 300 IN TXT \"x\"")
	leafSet := mustRRs(t, "example. 300 IN TXT \"x\"")
	behind := testInception.Add(-24 * time.Hour)
	forged := root.sign(t, rootSet)
	forged.Signature = other.sign(t, rootSet).Signature
	tests := []struct {
		name   string
		set    []dns.RR
		sig    *dns.RRSIG
		key    *dns.DNSKEY
		signer string
		want   bool
	}{
		{"root, clock behind", rootSet, root.sign(t, rootSet), root.key, ".", true},
		{"leaf, clock behind", leafSet, leaf.sign(t, leafSet), leaf.key, "example.", false},
		{"root, forged", rootSet, forged, root.key, ".", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(Limits{}, Policy{})
			r := VerifyRRset(tt.set, []*dns.RRSIG{tt.sig}, []*dns.DNSKEY{tt.key}, tt.signer, behind, b)
			if r.Status != Bogus {
				t.Fatalf("status %v, want Bogus", r.Status)
			}
			got, ok := b.FutureInception(behind)
			if ok != tt.want {
				t.Fatalf("FutureInception ok %v, want %v", ok, tt.want)
			}
			if ok && !got.Equal(testInception) {
				t.Errorf("FutureInception %v, want %v", got, testInception)
			}
		})
	}
}
