//go:build !noquic

package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkDoHCacheHit measures cache hits over DNS over HTTPS, POSTed
// over HTTP/2 and HTTP/3: on one connection (one request at a time) and
// on many (one connection per parallel goroutine), handshakes excluded.
func BenchmarkDoHCacheHit(b *testing.B) {
	ts := startDoH(b, Config{Handler: newCacheHandler(b), MaxConns: 10000}, DoHOptions{MaxConnsPerClient: 10000})
	raw := pack(b, query("www.example.com.", dns.TypeA, true, 1232, true))
	loop := func(c *http.Client, next func() bool) error {
		buf := make([]byte, 1500)
		for next() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, ts.url, bytes.NewReader(raw))
			if err != nil {
				return err
			}
			req.Header["Content-Type"] = hdrDNSMessage
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, err = io.ReadAtLeast(resp.Body, buf, 12)
			resp.Body.Close()
			if err != nil && err != io.ErrUnexpectedEOF {
				return err
			}
		}
		return nil
	}
	for _, proto := range []string{"h2", "h3"} {
		b.Run(proto+"/one-conn", func(b *testing.B) {
			c := ts.client(b, proto)
			if err := loop(c, func() bool { return false }); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := loop(c, b.Loop); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
		})
		b.Run(proto+"/many-conns", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				if err := loop(ts.client(b, proto), pb.Next); err != nil {
					b.Error(err)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
		})
	}
}
