package resolver

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

type noExchange struct{}

func (noExchange) Exchange(context.Context, string, netip.AddrPort, *dns.Msg) (*dns.Msg, error) {
	return nil, errors.New("no network in this test")
}

func TestControlFlush(t *testing.T) {
	now := time.Now()
	fill := func() (*Resolver, *cache.Cache) {
		c := cache.New(cache.Config{MaxEntries: 100})
		r, err := New(Config{RootHints: DefaultRootHints(), Exchanger: noExchange{}, Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"example.com.", "www.example.com.", "example.net."} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			c.SetMsg(cache.NewKey(name, dns.TypeA, dns.ClassINET, false, false), m, cache.Meta{}, now)
			r.keys.Add(name, keyEntry{expires: now.Add(time.Hour)})
			r.glue.Add(name, glueEntry{})
		}
		a := netip.MustParseAddr("192.0.2.53")
		r.servers.success(a, 20*time.Millisecond, now)
		r.servers.setLame(a, "example.com.", now)
		return r, c
	}
	cached := func(c *cache.Cache, name string) bool {
		_, _, ok := c.GetMsg(cache.NewKey(name, dns.TypeA, dns.ClassINET, false, false), now)
		return ok
	}
	for _, tc := range []struct {
		name  string
		flush func(r *Resolver)
		gone  []string
		kept  []string
	}{
		{"name", func(r *Resolver) { r.FlushName("WWW.example.com") }, []string{"www.example.com."}, []string{"example.com.", "example.net."}},
		{"zone", func(r *Resolver) { r.FlushZone("example.com.") }, []string{"example.com.", "www.example.com."}, []string{"example.net."}},
		{"root zone", func(r *Resolver) { r.FlushZone(".") }, []string{"example.com.", "example.net."}, nil},
		{"all", func(r *Resolver) { r.FlushAll() }, []string{"example.com.", "www.example.com.", "example.net."}, nil},
	} {
		r, c := fill()
		tc.flush(r)
		for _, n := range tc.gone {
			if cached(c, n) {
				t.Errorf("%s: %s still cached", tc.name, n)
			}
			if _, ok := r.keys.Peek(n); ok {
				t.Errorf("%s: %s keys still cached", tc.name, n)
			}
			if _, ok := r.glue.Peek(n); ok {
				t.Errorf("%s: %s glue still kept", tc.name, n)
			}
		}
		for _, n := range tc.kept {
			if !cached(c, n) {
				t.Errorf("%s: %s flushed too", tc.name, n)
			}
		}
		if r.Cache() != c {
			t.Errorf("%s: Cache() is not the configured cache", tc.name)
		}
	}

	r, _ := fill()
	r.FlushInfra()
	for i := range r.servers.shards {
		if n := len(r.servers.shards[i].stats) + len(r.servers.shards[i].lame); n != 0 {
			t.Errorf("FlushInfra: shard %d keeps %d entries", i, n)
		}
	}
}
