package resolvertest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// walker is a deliberately naive iterative resolver: just enough to prove
// that the default internet's delegations, glue and glueless chains fit
// together. It is no model for the real one.
type walker struct {
	n       *Network
	queries int
}

var errWalk = errors.New("walk failed")

// resolve returns the final records and rcode for name, following
// referrals, glueless NS names (up to depth) and CNAMEs.
func (w *walker) resolve(name string, qtype uint16, depth int) ([]dns.RR, int, error) {
	if depth > 4 {
		return nil, 0, fmt.Errorf("%w: too deep at %s", errWalk, name)
	}
	var servers []netip.Addr
	for _, rr := range w.n.RootHints() {
		if a, ok := rr.(*dns.A); ok {
			servers = append(servers, netip.MustParseAddr(a.A.String()))
		}
	}
	var chain []dns.RR
	for range 20 {
		r := w.ask(servers, name, qtype)
		if r == nil {
			return chain, 0, fmt.Errorf("%w: no server answered for %s", errWalk, name)
		}
		if r.Authoritative {
			chain = append(chain, r.Answer...)
			if len(r.Answer) > 0 {
				last := r.Answer[len(r.Answer)-1]
				if c, ok := last.(*dns.CNAME); ok && qtype != dns.TypeCNAME && len(chain) < 12 {
					rest, rcode, err := w.resolve(c.Target, qtype, depth)
					return append(chain, rest...), rcode, err
				}
			}
			return chain, r.Rcode, nil
		}
		next := servers[:0:0]
		var names []string
		for _, rr := range r.Ns {
			if ns, ok := rr.(*dns.NS); ok {
				names = append(names, ns.Ns)
			}
		}
		if len(names) == 0 {
			return chain, 0, fmt.Errorf("%w: neither answer nor referral for %s", errWalk, name)
		}
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok {
				next = append(next, netip.MustParseAddr(a.A.String()))
			}
		}
		if len(next) == 0 {
			for _, ns := range names {
				addrs, _, err := w.resolve(ns, dns.TypeA, depth+1)
				if err != nil {
					continue
				}
				for _, rr := range addrs {
					if a, ok := rr.(*dns.A); ok {
						next = append(next, netip.MustParseAddr(a.A.String()))
					}
				}
			}
		}
		if len(next) == 0 {
			return chain, 0, fmt.Errorf("%w: no address for any server of %s", errWalk, name)
		}
		servers = next
	}
	return chain, 0, fmt.Errorf("%w: too many referrals for %s", errWalk, name)
}

// ask returns the first useful reply from servers, over TCP when
// truncated, skipping dead and refusing ones.
func (w *walker) ask(servers []netip.Addr, name string, qtype uint16) *dns.Msg {
	for _, s := range servers {
		w.queries++
		q := query(name, qtype, 1232)
		r, err := w.n.Exchange(context.Background(), "udp", netip.AddrPortFrom(s, 53), q)
		if err == nil && r.Truncated {
			r, err = w.n.Exchange(context.Background(), "tcp", netip.AddrPortFrom(s, 53), q)
		}
		if err != nil || r.Rcode == dns.RcodeRefused || r.Rcode == dns.RcodeServerFailure {
			continue
		}
		return r
	}
	return nil
}

// TestWalkDefaultInternet resolves every case of the package doc from the
// root and checks where it ends.
func TestWalkDefaultInternet(t *testing.T) {
	n := defaultNet(t)
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		last  string // the final record's rdata, or "" for no answer
		fails bool
	}{
		{"www.plain.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1", false},
		{"www.plain.example.", dns.TypeAAAA, dns.RcodeSuccess, "2001:db8::1", false},
		{"plain.example.", dns.TypeMX, dns.RcodeSuccess, "10 mail.plain.example.", false},
		{"alias.plain.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1", false},
		{"nx.plain.example.", dns.TypeA, dns.RcodeNameError, "", false},
		{"b.c.plain.example.", dns.TypeA, dns.RcodeSuccess, "", false},
		{"a.chain.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.13", false},
		{"b.sub.dname.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.13", false},
		{"www.sub.dname.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.12", false},
		{"www.local.dname.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.14", false},
		{"anything.wild.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.80", false},
		{"x.out.wild.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1", false},
		{"txt.big.example.", dns.TypeTXT, dns.RcodeSuccess, `"09-`, false},
		{"www.glueless.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.17", false},
		{"www.deep.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.19", false},
		{"www.deeper.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.20", false},
		{"www.half.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.24", false},
		{"www.partlame.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.25", false},
		{"www.mixed.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.26", false},
		{"a.root.hush.", dns.TypeA, dns.RcodeSuccess, "127.53.0.1", false},
		{"www.lame.example.", dns.TypeA, 0, "", true},
		{"www.cycle1.example.", dns.TypeA, 0, "", true},
		{"www.cycle2.test.", dns.TypeA, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			w := &walker{n: n}
			chain, rcode, err := w.resolve(tc.name, tc.qtype, 0)
			if tc.fails {
				if err == nil {
					t.Errorf("resolved to %v, want failure", chain)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[rcode], dns.RcodeToString[tc.rcode])
			}
			last := ""
			if len(chain) > 0 {
				rr := chain[len(chain)-1]
				last = strings.TrimPrefix(rr.String(), rr.Header().String())
			}
			if !strings.HasPrefix(last, tc.last) || (tc.last == "" && last != "") {
				t.Errorf("last record rdata = %q, want %q", last, tc.last)
			}
		})
	}
}
