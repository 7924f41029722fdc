package upstream

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkExchange: one upstream of each kind on loopback (hush's own
// listeners answering from memory), queries in parallel.
func BenchmarkExchange(b *testing.B) {
	z := &zone{}
	c := newCert(b, "upstream.test")
	cfg := tconfig(z)
	doq, _ := startDoQ(b, cfg, c, nil)
	urls := map[string]string{
		"dns":   "dns://" + startDNS(b, cfg).String(),
		"tls":   "tls://" + startDoT(b, cfg, c).String() + "#upstream.test",
		"https": "https://" + startDoH(b, cfg, c, false).String() + "/dns-query#upstream.test",
		"quic":  "quic://" + doq.String() + "#upstream.test",
	}
	for _, name := range []string{"dns", "tls", "https", "quic"} {
		b.Run(name, func(b *testing.B) {
			s, err := Parse(urls[name])
			if err != nil {
				b.Fatal(err)
			}
			u, err := New(s, Options{RootCAs: c.pool})
			if err != nil {
				b.Fatal(err)
			}
			defer u.Close()
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					q := query(fmt.Sprintf("n%d.test", n.Add(1)), dns.TypeA)
					if _, err := u.Exchange(context.Background(), q); err != nil {
						b.Error(err)
						return
					}
				}
			})
			st := u.(StatsReporter).Stats()
			b.ReportMetric(float64(st.Dials)*1000/float64(max(st.Exchanges, 1)), "dials/1000q")
		})
	}
}
