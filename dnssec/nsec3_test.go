package dnssec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// rfc5155Names is the RFC 5155 Appendix A zone: owner names, their types
// (with RRSIG where signed) and the hashes the RFC gives (salt aabbccdd,
// 12 iterations). b.example is an unsigned delegation covered by Opt-Out,
// so it has no NSEC3 record.
var rfc5155Names = []struct{ name, hash, types string }{
	{"example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "NS SOA MX RRSIG DNSKEY NSEC3PARAM"},
	{"a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl", "NS DS RRSIG"},
	{"ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi", "A HINFO AAAA RRSIG"},
	{"ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr", "A RRSIG"},
	{"ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r", "A RRSIG"},
	{"w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h", ""},
	{"*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en", "MX RRSIG"},
	{"x.w.example.", "b4um86eghhds6nea196smvmlo4ors995", "MX RRSIG"},
	{"y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc", ""},
	{"x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s", "MX RRSIG"},
	{"xx.example.", "t644ebqk9bibcna874givr6joj62mlhv", "A HINFO AAAA RRSIG"},
}

func TestNSEC3HashRFC5155(t *testing.T) {
	b := NewBudget(Limits{}, Policy{})
	n := &dns.NSEC3{Hash: dns.SHA1, Iterations: 12, Salt: "AABBCCDD"}
	for _, tt := range rfc5155Names {
		got, err := b.hashName(tt.name, n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(got, tt.hash) {
			t.Errorf("hash(%s): got %s, want %s", tt.name, strings.ToLower(got), tt.hash)
		}
	}
	// A name the appendix hashes too (an owner name hashed again).
	got, _ := b.hashName("2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.", n)
	if want := "kohar7mbb8dc2ce8a9qvl8hon4k53uhi"; !strings.EqualFold(got, want) {
		t.Errorf("got %s, want %s", strings.ToLower(got), want)
	}
}

// rfc5155Chain builds the appendix zone's NSEC3 chain with flags (1 in the
// RFC: Opt-Out) and returns it keyed by owner hash.
func rfc5155Chain(t testing.TB, flags uint8) map[string]*dns.NSEC3 {
	t.Helper()
	names := slices.Clone(rfc5155Names)
	slices.SortFunc(names, func(a, b struct{ name, hash, types string }) int { return strings.Compare(a.hash, b.hash) })
	out := make(map[string]*dns.NSEC3)
	for i, n := range names {
		next := names[(i+1)%len(names)].hash
		rr := mustRR(t, fmt.Sprintf("%s.example. 3600 IN NSEC3 1 %d 12 aabbccdd %s %s", n.hash, flags, next, n.types))
		out[n.hash] = rr.(*dns.NSEC3)
	}
	return out
}

func pick(chain map[string]*dns.NSEC3, hashes ...string) []*dns.NSEC3 {
	var out []*dns.NSEC3
	for _, h := range hashes {
		out = append(out, chain[h])
	}
	return out
}

// TestRFC5155AppendixB replays the appendix B responses with the NSEC3
// records each one carries. The RFC's zone uses Opt-Out, so proofs that
// rest on a covering NSEC3 come out Insecure; the same chain without
// Opt-Out proves them Secure.
func TestRFC5155AppendixB(t *testing.T) {
	const (
		h0p9m = "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
		h2t7b = "2t7b4g4vsa5smi47k61mv5bv1a22bojr"
		h35mt = "35mthgpgcu1qg68fab165klnsnk3dpvl"
		hb4um = "b4um86eghhds6nea196smvmlo4ors995"
		hji6n = "ji6neoaepv8b5o6k4ev33abha8ht9fgc"
		hk8ud = "k8udemvp1j2f7eg6jebps17vp3n8i58h"
		hq04j = "q04jkcevqvmu85r014c7dkba38o0ji5r"
		hr53b = "r53bq7cc2uvmubfu5ocmm6pers9tk9en"
	)
	type proof func(nsec3s []*dns.NSEC3, b *Budget) Result
	nameError := func(q string) proof {
		return func(n []*dns.NSEC3, b *Budget) Result { return NSEC3NameError(q, "example.", n, b) }
	}
	noData := func(q string, qt uint16) proof {
		return func(n []*dns.NSEC3, b *Budget) Result { return NSEC3NoData(q, qt, "example.", n, b) }
	}
	delegation := func(child string) proof {
		return func(n []*dns.NSEC3, b *Budget) Result { return NSEC3Delegation(child, "example.", n, b) }
	}
	wildcard := func(q, w string) proof {
		return func(n []*dns.NSEC3, b *Budget) Result { return NSEC3Wildcard(q, w, "example.", n, b) }
	}
	tests := []struct {
		name         string
		proof        proof
		hashes       []string
		wantOptOut   Status // with the RFC's Opt-Out chain
		wantNoOptOut Status
	}{
		{"B.1 name error", nameError("a.c.x.w.example."), []string{hb4um, h0p9m, h35mt}, Insecure, Secure},
		{"B.1 without wildcard cover", nameError("a.c.x.w.example."), []string{hb4um, h0p9m}, Bogus, Bogus},
		{"B.1 without closest encloser", nameError("a.c.x.w.example."), []string{h0p9m, h35mt}, Bogus, Bogus},
		{"B.1 qname exists", nameError("x.w.example."), []string{hb4um, h0p9m, h35mt}, Bogus, Bogus},
		{"B.2 no data", noData("ns1.example.", dns.TypeMX), []string{h2t7b}, Secure, Secure},
		{"B.2 type present", noData("ns1.example.", dns.TypeA), []string{h2t7b}, Bogus, Bogus},
		{"B.2.1 no data empty non-terminal", noData("y.w.example.", dns.TypeA), []string{hji6n}, Secure, Secure},
		{"B.3 referral to opt-out unsigned zone", delegation("c.example."), []string{h0p9m, h35mt}, Insecure, Bogus},
		{"B.3 signed delegation is not insecure", delegation("a.example."), []string{h35mt}, Bogus, Bogus},
		{"B.4 wildcard expansion", wildcard("a.z.w.example.", "*.w.example."), []string{hq04j}, Insecure, Secure},
		{"B.4 next closer not covered", wildcard("a.z.w.example.", "*.w.example."), []string{hk8ud}, Bogus, Bogus},
		{"B.5 wildcard no data", noData("a.z.w.example.", dns.TypeAAAA), []string{hk8ud, hq04j, hr53b}, Insecure, Secure},
		{"B.5 without the wildcard's NSEC3", noData("a.z.w.example.", dns.TypeAAAA), []string{hk8ud, hq04j}, Insecure, Bogus},
		{"B.5 wildcard has the type", noData("a.z.w.example.", dns.TypeMX), []string{hk8ud, hq04j, hr53b}, Bogus, Bogus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				flags uint8
				want  Status
			}{{1, tt.wantOptOut}, {0, tt.wantNoOptOut}} {
				got := tt.proof(pick(rfc5155Chain(t, c.flags), tt.hashes...), NewBudget(Limits{}, Policy{}))
				if got.Status != c.want {
					t.Errorf("flags %d: got %v (%v), want %v", c.flags, got.Status, got.Err, c.want)
				}
				if got.Status == Bogus {
					if code, _ := EDE(got.Err); code != dns.ExtendedErrorCodeNSECMissing && code != dns.ExtendedErrorCodeDNSBogus {
						t.Errorf("flags %d: got EDE %d, want 12 or 6", c.flags, code)
					}
				}
			}
		})
	}
}

func TestNSEC3Params(t *testing.T) {
	chain := rfc5155Chain(t, 0)
	b2t7b := chain["2t7b4g4vsa5smi47k61mv5bv1a22bojr"]
	tests := []struct {
		name    string
		mod     func(n *dns.NSEC3)
		want    Status
		wantErr error
		wantEDE uint16
	}{
		{"usable", func(*dns.NSEC3) {}, Secure, nil, 0},
		{"unknown hash algorithm ignored", func(n *dns.NSEC3) { n.Hash = 2 }, Bogus, ErrNSECMissing, 12},
		{"unknown flags ignored", func(n *dns.NSEC3) { n.Flags = 2 }, Bogus, ErrNSECMissing, 12},
		{"iterations at the cap", func(n *dns.NSEC3) { n.Iterations = 150 }, Bogus, ErrNSECMissing, 12},
		{"iterations above the cap", func(n *dns.NSEC3) { n.Iterations = 151 }, Insecure, ErrNSEC3Iterations, 27},
		{"owner outside zone", func(n *dns.NSEC3) { n.Hdr.Name = strings.Replace(n.Hdr.Name, ".example.", ".other.", 1) }, Bogus, ErrNSECMissing, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := dns.Copy(b2t7b).(*dns.NSEC3)
			tt.mod(n)
			got := NSEC3NoData("ns1.example.", dns.TypeMX, "example.", []*dns.NSEC3{n}, nil)
			if got.Status != tt.want {
				t.Fatalf("got %v (%v), want %v", got.Status, got.Err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(got.Err, tt.wantErr) {
				t.Errorf("got %v, want %v", got.Err, tt.wantErr)
			}
			if code, _ := EDE(got.Err); tt.wantErr != nil && code != tt.wantEDE {
				t.Errorf("got EDE %d, want %d", code, tt.wantEDE)
			}
		})
	}
}

// TestNSEC3IterationFlood is the CVE-2023-50868 regression: a long QNAME
// and many NSEC3 records with distinct salts make a naive closest-encloser
// proof hash labels × records names. The per-query hash budget must stop
// it with ErrBudget (SERVFAIL), after at most MaxNSEC3Hashes hashes.
func TestNSEC3IterationFlood(t *testing.T) {
	var nsec3s []*dns.NSEC3
	for i := 0; i < 100; i++ {
		rr := mustRR(t, fmt.Sprintf("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 1 0 150 %08x 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A", i))
		nsec3s = append(nsec3s, rr.(*dns.NSEC3))
	}
	qname := strings.Repeat("a.", 100) + "example."
	b := NewBudget(Limits{}, Policy{})
	got := NSEC3NameError(qname, "example.", nsec3s, b)
	if got.Status != Bogus || !errors.Is(got.Err, ErrBudget) {
		t.Fatalf("got %v (%v), want bogus with ErrBudget", got.Status, got.Err)
	}
	if max := b.Limits().MaxNSEC3Hashes; b.Hashes() > max {
		t.Errorf("got %d hashes, want at most %d", b.Hashes(), max)
	}
	// The budget is per query: the next proof in the same query fails fast.
	before := b.Hashes()
	NSEC3NoData("x.example.", dns.TypeA, "example.", nsec3s, b)
	if b.Hashes() != before {
		t.Errorf("got %d more hashes after exhaustion, want 0", b.Hashes()-before)
	}
}

func TestNSEC3CoversAggressive(t *testing.T) {
	chain := rfc5155Chain(t, 0)
	n := chain["0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"] // example. → 2t7b (ns1.example.)
	tests := []struct {
		name         string
		cover, match bool
	}{
		{"c.x.w.example.", true, false}, // 0va5..., the B.1 next closer
		{"example.", false, true},
		{"ns1.example.", false, false},
		{"a.example.", false, false},
		{"other.", false, false},
	}
	b := NewBudget(Limits{}, Policy{})
	for _, tt := range tests {
		c, err := NSEC3Covers(n, "example.", tt.name, b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NSEC3Matches(n, "example.", tt.name, b)
		if err != nil {
			t.Fatal(err)
		}
		if c != tt.cover || m != tt.match {
			t.Errorf("%s: got cover %v match %v, want %v %v", tt.name, c, m, tt.cover, tt.match)
		}
	}
	last := chain["t644ebqk9bibcna874givr6joj62mlhv"] // xx.example. wraps to 0p9m
	for _, name := range []string{"z.example.", "b.example.", "zz.example."} {
		h, _ := b.hashName(name, last)
		want := h > "T644EBQK9BIBCNA874GIVR6JOJ62MLHV" || h < "0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM"
		if got, _ := NSEC3Covers(last, "example.", name, b); got != want {
			t.Errorf("wrap-around cover of %s (hash %s): got %v, want %v", name, h, got, want)
		}
	}
}

// TestNSEC3RootZone checks proofs from the root zone, whose NSEC3 owners
// are a single hash label: one NSEC3 (the root's own, from Deckard's
// val_nsec3_optout_ns_ad) matches the closest encloser "." and covers both
// li. and *.; its Opt-Out flag makes the NXDOMAIN Insecure.
func TestNSEC3RootZone(t *testing.T) {
	const rec = "ca5qlot3gsobijfasusg7dvc5kdtgp4e. 86400 IN NSEC3 1 %d 10 AE83CC9CD22A4A92 QVMFNLQ9AOEGUQEMOCFD5HGN8L8VAPHO NS SOA RRSIG DNSKEY NSEC3PARAM"
	for _, tt := range []struct {
		flags int
		want  Status
	}{{1, Insecure}, {0, Secure}} {
		n := mustRR(t, fmt.Sprintf(rec, tt.flags)).(*dns.NSEC3)
		if got := NSEC3NameError("li.", ".", []*dns.NSEC3{n}, nil); got.Status != tt.want {
			t.Errorf("flags %d: got %v (%v), want %v", tt.flags, got.Status, got.Err, tt.want)
		}
	}
	n := mustRR(t, fmt.Sprintf(rec, 0)).(*dns.NSEC3)
	if got := NSEC3NoData(".", dns.TypeA, ".", []*dns.NSEC3{n}, nil); got.Status != Secure {
		t.Errorf("root NODATA: got %v (%v), want Secure", got.Status, got.Err)
	}
}
