package filter

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// genList writes n distinct names in hosts format, of the lengths seen in
// real lists (20 to 30 octets, three or four labels).
func genList(n int) string {
	var sb strings.Builder
	sb.Grow(n * 40)
	for i := range n {
		fmt.Fprintf(&sb, "0.0.0.0 t%x.ads%d.example%d.com\n", uint64(i)*2654435761%(1<<32), i%97, i%13)
	}
	return sb.String()
}

// BenchmarkLoad1M loads a 1,000,000-name blocklist and reports the heap it
// keeps (heap-bytes, after a GC, with the Policy alive) and the table's
// own accounting (table-bytes).
func BenchmarkLoad1M(b *testing.B) {
	text := genList(1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		bl := NewBuilder()
		if _, err := bl.AddBlocklist(strings.NewReader(text)); err != nil {
			b.Fatal(err)
		}
		p := bl.Build(Options{})
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "heap-bytes")
		b.ReportMetric(float64(p.Stats().Bytes), "table-bytes")
		runtime.KeepAlive(p)
		b.StartTimer()
	}
}

func benchPolicy(b *testing.B) *Policy {
	bl := NewBuilder()
	if _, err := bl.AddBlocklist(strings.NewReader(genList(1_000_000))); err != nil {
		b.Fatal(err)
	}
	return bl.Build(Options{})
}

// BenchmarkMatch1M matches names against a 1,000,000-name list: a miss
// (the common case, what a cache hit pays) and a blocked name.
func BenchmarkMatch1M(b *testing.B) {
	p := benchPolicy(b)
	for _, tc := range []struct{ name, qname string }{
		{"miss", "www.example.com."},
		{"miss-long", "a.b.c.d.cdn.example.net."},
		{"blocked", "x.t0.ads0.example0.com."},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p.Match(tc.qname)
				}
			})
		})
	}
	b.Run("answer-miss", func(b *testing.B) {
		q := new(dns.Msg)
		q.SetQuestion("www.example.com.", dns.TypeA)
		b.ReportAllocs()
		for b.Loop() {
			p.Answer(q)
		}
	})
}
