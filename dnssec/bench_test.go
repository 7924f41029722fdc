package dnssec

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkVerify measures the cost of validating one small RRset (two A
// records) with one signature, per algorithm. RSA keys are 2048 bits, the
// common size for real zones.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range allAlgorithms {
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			k := newKey(b, "example.", alg, 256)
			if alg <= dns.RSASHA512 {
				priv, err := k.key.Generate(2048)
				if err != nil {
					b.Fatal(err)
				}
				k.priv = priv
			}
			rrset := mustRRs(b, "www.example. 300 IN A 192.0.2.1", "www.example. 300 IN A 192.0.2.2")
			sigs := []*dns.RRSIG{k.sign(b, rrset)}
			keys := []*dns.DNSKEY{k.key}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if r := VerifyRRset(rrset, sigs, keys, "example.", testNow, NewBudget(Limits{}, Policy{})); r.Status != Secure {
						b.Fatalf("got %v (%v), want secure", r.Status, r.Err)
					}
				}
			})
		})
	}
}

// BenchmarkNSEC3NameError measures the RFC 5155 B.1 proof (12 iterations),
// the hashing of which dominates negative answers from NSEC3 zones.
func BenchmarkNSEC3NameError(b *testing.B) {
	set := pick(rfc5155Chain(b, 0), "b4um86eghhds6nea196smvmlo4ors995", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "35mthgpgcu1qg68fab165klnsnk3dpvl")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := NSEC3NameError("a.c.x.w.example.", "example.", set, NewBudget(Limits{}, Policy{})); r.Status != Secure {
				b.Fatalf("got %v (%v)", r.Status, r.Err)
			}
		}
	})
}
