package resolver_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// cookieSpy records the client cookie of each query, per server.
type cookieSpy struct {
	ex resolver.Exchanger
	mu sync.Mutex
	// sent maps a server to the client cookies it was sent, in order.
	sent map[netip.Addr][]string
}

func (c *cookieSpy) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	if opt := q.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if ck, ok := o.(*dns.EDNS0_COOKIE); ok && len(ck.Cookie) >= 16 {
				c.mu.Lock()
				c.sent[server.Addr()] = append(c.sent[server.Addr()], ck.Cookie[:16])
				c.mu.Unlock()
			}
		}
	}
	return c.ex.Exchange(ctx, network, server, q)
}

func (c *cookieSpy) last(a netip.Addr) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sent[a]
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// TestNetworkChangedNewCookies: after a change of network the resolver
// sends the same server another client cookie; before, the same one.
func TestNetworkChangedNewCookies(t *testing.T) {
	n := suspendNet(t) // one root server
	rootAddr := netip.MustParseAddr("127.53.200.1")
	spy := &cookieSpy{ex: n.Exchanger(t), sent: map[netip.Addr][]string{}}
	r := newResolver(t, n, func(c *resolver.Config) { c.Exchanger = spy })
	// Each name under a TLD that does not exist goes to the root.
	ask(t, r, "one.nx-tld-1.", dns.TypeA)
	first := spy.last(rootAddr)
	ask(t, r, "two.nx-tld-2.", dns.TypeA)
	if first == "" || spy.last(rootAddr) != first {
		t.Fatalf("client cookies to the root %q then %q; want one, stable", first, spy.last(rootAddr))
	}
	r.NetworkChanged()
	ask(t, r, "three.nx-tld-3.", dns.TypeA)
	if got := spy.last(rootAddr); got == "" || got == first {
		t.Errorf("after the network changed the root got client cookie %q; want a new one (was %q)", got, first)
	}
}
