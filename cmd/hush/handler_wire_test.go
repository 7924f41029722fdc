package main

import (
	"context"
	"net/netip"
	"testing"

	"github.com/hush-dns/hush/filter"
	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestObservedAppendCached: the counting handler passes wire hits through
// and counts them as AnswerCached's hits are counted; with an answer
// policy it leaves every query to AnswerCached, where the policy runs.
func TestObservedAppendCached(t *testing.T) {
	n, err := resolvertest.Default()
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n.Exchanger(t),
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("www.plain.example.", dns.TypeA)
	if _, err := r.ServeDNS(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	name := make([]byte, 64)
	nl, err := dns.PackDomainName("www.plain.example.", name, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{})
	o := &observed{live: newLiveHandler(&stage{res: r}), m: m, t: metrics.UDP}
	out, ok := o.AppendCached(nil, name[:nl], dns.TypeA, false, false, false)
	if !ok {
		t.Fatalf("AppendCached missed a cached answer")
	}
	var got dns.Msg
	if err := got.Unpack(out); err != nil || len(got.Answer) == 0 {
		t.Fatalf("AppendCached = %v, %v; want the cached answer", &got, err)
	}
	if tot := m.Totals(); tot.Queries != 1 || tot.CacheHits != 1 {
		t.Errorf("Totals() = %+v after one wire hit, want 1 query, 1 cache hit", tot)
	}

	fb := filter.NewBuilder()
	policy := fb.Build(filter.Options{})
	withPolicy := &observed{live: newLiveHandler(&stage{res: r, policy: policy}), m: m, t: metrics.UDP}
	if _, ok := withPolicy.AppendCached(nil, name[:nl], dns.TypeA, false, false, false); ok {
		t.Errorf("AppendCached answered with a policy configured, want AnswerCached to")
	}
}
