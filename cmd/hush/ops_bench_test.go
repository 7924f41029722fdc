package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/filter"
	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
)

// BenchmarkUDPCacheHitOps measures a cache hit over loopback UDP as hush
// serve answers it: the resolver alone (the baseline of
// BenchmarkUDPCacheHit), through the counting handler with no policy, and
// with a policy of 1,000,000 blocked names that the query does not match.
func BenchmarkUDPCacheHitOps(b *testing.B) {
	n, err := resolvertest.Default()
	if err != nil {
		b.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n.Exchanger(b),
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		b.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("www.plain.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	if _, err := r.ServeDNS(context.Background(), q); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	var sb strings.Builder
	for i := range 1_000_000 {
		fmt.Fprintf(&sb, "0.0.0.0 t%x.ads%d.example%d.com\n", uint64(i)*2654435761%(1<<32), i%97, i%13)
	}
	fb := filter.NewBuilder()
	if _, err := fb.AddBlocklist(strings.NewReader(sb.String())); err != nil {
		b.Fatal(err)
	}
	big := fb.Build(filter.Options{})
	m := metrics.New(metrics.Options{})
	for _, tc := range []struct {
		name string
		h    transport.Handler
	}{
		{"resolver", r},
		{"counted", &observed{live: newLiveHandler(&stage{res: r}), m: m, t: metrics.UDP}},
		{"counted-1M-policy", &observed{live: newLiveHandler(&stage{res: r, policy: big}), m: m, t: metrics.UDP}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchUDPHit(b, tc.h, q) })
	}
}

func benchUDPHit(b *testing.B, h transport.Handler, q *dns.Msg) {
	pc, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := transport.NewUDPServer(transport.Config{Handler: h})
	go srv.Serve(pc)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	wire, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 1500)
		for pb.Next() {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write(wire); err != nil {
				b.Error(err)
				return
			}
			nr, err := c.Read(buf)
			if err != nil {
				b.Error(err)
				return
			}
			if nr < 12 || buf[3]&0xf != 0 {
				b.Errorf("bad reply: %x", buf[:nr])
				return
			}
		}
	})
	b.StopTimer()
	// The machine may be shared: wall-clock queries/s says how busy it
	// was, CPU time per query (client and server, user and system) what
	// a hit costs.
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnswerCachedOps is the hit without sockets: what the counting
// handler and a 1,000,000-name policy add to the resolver's own cost.
func BenchmarkAnswerCachedOps(b *testing.B) {
	n, err := resolvertest.Default()
	if err != nil {
		b.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n.Exchanger(b),
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		b.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("www.plain.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	if _, err := r.ServeDNS(context.Background(), q); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	var sb strings.Builder
	for i := range 1_000_000 {
		fmt.Fprintf(&sb, "0.0.0.0 t%x.ads%d.example%d.com\n", uint64(i)*2654435761%(1<<32), i%97, i%13)
	}
	fb := filter.NewBuilder()
	if _, err := fb.AddBlocklist(strings.NewReader(sb.String())); err != nil {
		b.Fatal(err)
	}
	big := fb.Build(filter.Options{})
	m := metrics.New(metrics.Options{})
	for _, tc := range []struct {
		name string
		h    transport.CacheAnswerer
	}{
		{"resolver", r},
		{"counted", &observed{live: newLiveHandler(&stage{res: r}), m: m, t: metrics.UDP}},
		{"counted-1M-policy", &observed{live: newLiveHandler(&stage{res: r, policy: big}), m: m, t: metrics.UDP}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, ok := tc.h.AnswerCached(q); !ok {
					b.Fatal("miss")
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
