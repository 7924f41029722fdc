package resolver_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// BenchmarkMiss is the miss path against the simulated internet, sockets
// aside: every query is a name never asked before in a zone whose
// delegation is cached, so each costs an upstream exchange, its checks and
// the caching of its answer (NXDOMAIN: unsigned zone, no aggressive
// negative caching). Its ns/op is the resolver's CPU per uncached query.
func BenchmarkMiss(b *testing.B) {
	n, err := resolvertest.Default()
	if err != nil {
		b.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n.Exchanger(b),
		AllowUpstream: loopback,
	})
	if err != nil {
		b.Fatal(err)
	}
	ask := func(name string) {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		if _, err := r.ServeDNS(context.Background(), q); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
	}
	ask("www.plain.example.") // the delegations
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ask(fmt.Sprintf("miss%d.plain.example.", seq.Add(1)))
		}
	})
}
