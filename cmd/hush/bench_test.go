package main

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
)

// BenchmarkUDPCacheHit measures a cache hit end to end: a query over a
// real loopback UDP socket, through the listener's checks, the resolver's
// cache, and back.
func BenchmarkUDPCacheHit(b *testing.B) {
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
	pc, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := transport.NewUDPServer(transport.Config{Handler: r})
	go srv.Serve(pc)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	q := new(dns.Msg)
	q.SetQuestion("www.plain.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	if _, err := r.ServeDNS(context.Background(), q); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	wire, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	b.ReportAllocs()
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
}

// BenchmarkServeDNSCacheHit is the same hit without sockets: what the
// resolver itself costs per cached answer.
func BenchmarkServeDNSCacheHit(b *testing.B) {
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
	if _, err := r.ServeDNS(context.Background(), q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := r.AnswerCached(q); !ok {
				b.Error("miss")
				return
			}
		}
	})
}
