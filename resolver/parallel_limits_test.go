package resolver_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestParallelNSNameLimitKeepsBudgetError: a delegation with more glueless
// NS names than MaxNSNames, none of which resolves. Before the parallel
// change the query ended with ErrBudget (nothing cached); now the limit
// error was lost when lookups were still pending at the time it was hit,
// and the query ended with a cached "no reachable authority".
func TestParallelNSNameLimitKeepsBudgetError(t *testing.T) {
	root := ". 3600 IN SOA a.root. host.root. 1 3600 600 86400 300\n. 3600 IN NS a.root.\na.root. 3600 IN A 127.53.200.1\n"
	par := "par. 3600 IN SOA ns.par. host.par. 1 3600 600 86400 300\n"
	var zones []string
	for i := 1; i <= 7; i++ {
		tld := fmt.Sprintf("t%d.", i)
		root += fmt.Sprintf("%s 3600 IN NS ns.%s\nns.%s 3600 IN A 127.53.200.%d\n", tld, tld, tld, 10+i)
		root += fmt.Sprintf("par. 3600 IN NS host.%s\n", tld)
		par += fmt.Sprintf("par. 3600 IN NS host.%s\n", tld)
		zones = append(zones, fmt.Sprintf("%s 3600 IN SOA ns.%s host.%s 1 3600 600 86400 300\n%s 3600 IN NS ns.%s\nns.%s 3600 IN A 127.53.200.%d\n", tld, tld, tld, tld, tld, tld, 10+i))
	}
	par += "www.par. 3600 IN A 192.0.2.1\n"
	zones[0] += "host.t1. 3600 IN A 127.53.200.30\n"
	n, err := resolvertest.New(append([]string{root, par}, zones...)...)
	if err != nil {
		t.Fatal(err)
	}
	n.SetFault(netip.MustParseAddr("127.53.200.11"), resolvertest.Fault{Refuse: true})
	r := newResolver(t, n)
	_, err = ask(t, r, "www.par.", dns.TypeA)
	if !errors.Is(err, resolver.ErrBudget) {
		t.Errorf("got %v, want ErrBudget (a limit of this query, nothing cached)", err)
	}
	_, err2 := ask(t, r, "www.par.", dns.TypeA)
	if err2 != nil && strings.Contains(err2.Error(), "cached failure") {
		t.Errorf("second ask answered from a cached failure made by a per-query limit: %v", err2)
	}
}

// TestParallelSiblingLimitErrorWaitsForOthers: par. is served by host.agood.
// (resolvable, its server a little slow) and host.zbad. (whose own zone
// is glueless, so looking it up needs a nested lookup the depth limit
// forbids). Sequentially, host.agood. came first and the query was
// answered; in parallel, host.zbad.'s budget error arrives first (its
// server is 100 ms slower: a simulated round trip) and must not abort
// the query while a good server is on its way.
func TestParallelSiblingLimitErrorWaitsForOthers(t *testing.T) {
	n, err := resolvertest.New(`. 3600 IN SOA a.root. host.root. 1 3600 600 86400 300
. 3600 IN NS a.root.
a.root. 3600 IN A 127.53.202.1
agood. 3600 IN NS ns.agood.
ns.agood. 3600 IN A 127.53.202.2
zbad. 3600 IN NS ns.zsrv.other.
other. 3600 IN NS ns.other.
ns.other. 3600 IN A 127.53.202.3
par. 3600 IN NS host.agood.
par. 3600 IN NS host.zbad.
`, `agood. 3600 IN SOA ns.agood. host.agood. 1 3600 600 86400 300
agood. 3600 IN NS ns.agood.
ns.agood. 3600 IN A 127.53.202.2
host.agood. 3600 IN A 127.53.202.4
`, `other. 3600 IN SOA ns.other. host.other. 1 3600 600 86400 300
other. 3600 IN NS ns.other.
ns.other. 3600 IN A 127.53.202.3
ns.zsrv.other. 3600 IN A 127.53.202.3
`, `zbad. 3600 IN SOA ns.other. host.zbad. 1 3600 600 86400 300
zbad. 3600 IN NS ns.zsrv.other.
host.zbad. 3600 IN A 127.53.202.4
`, `par. 3600 IN SOA host.agood. host.par. 1 3600 600 86400 300
par. 3600 IN NS host.agood.
par. 3600 IN NS host.zbad.
www.par. 3600 IN A 192.0.2.1
`)
	if err != nil {
		t.Fatal(err)
	}
	n.SetFault(netip.MustParseAddr("127.53.202.2"), resolvertest.Fault{Delay: 100 * time.Millisecond})
	r := newResolver(t, n, func(c *resolver.Config) { c.Limits.MaxDepth = 1 })
	m, err := ask(t, r, "www.par.", dns.TypeA)
	if err != nil || !answerHas(m, "192.0.2.1") {
		t.Errorf("got %v (%v), want the A record via host.agood.", m, err)
	}
}
