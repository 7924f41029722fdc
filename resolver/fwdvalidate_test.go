package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// resolverForwarder is a validating recursive resolver (hush's own,
// iterating the simulated internet) answering as an upstream would: the
// Exchanger of a forwarding resolver whose one forwarder is addr.
type resolverForwarder struct {
	addr  netip.AddrPort
	inner *resolver.Resolver
}

func (f *resolverForwarder) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	if server != f.addr {
		return nil, errors.New("not the forwarder")
	}
	r, err := f.inner.ServeDNS(ctx, q.Copy())
	if err != nil {
		r = new(dns.Msg)
		r.SetRcode(q, dns.RcodeServerFailure)
		var re *resolver.Error
		if errors.As(err, &re) && re.EDE != 0 {
			r.SetEdns0(1232, true)
			r.IsEdns0().Option = append(r.IsEdns0().Option, &dns.EDNS0_EDE{InfoCode: re.EDE})
		}
	}
	r.Id, r.Response, r.RecursionAvailable = q.Id, true, true
	r.Question = q.Question
	return r, nil
}

func signedAnchors(t *testing.T, n *resolvertest.Network) *dnssec.Anchors {
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	return anchors
}

// TestForwardedValidation plays the signed internet's table through a
// validating forwarder: a forwarding hush validates on its own and comes
// to the same verdicts, Insecure zones included.
func TestForwardedValidation(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	fwd := netip.MustParseAddrPort("127.0.0.99:53")
	outer, err := resolver.New(resolver.Config{
		Forwarders:   []netip.AddrPort{fwd},
		Exchanger:    &resolverForwarder{addr: fwd, inner: inner},
		DNSSEC:       true,
		TrustAnchors: signedAnchors(t, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resolvertest.SignedExpectations() {
		t.Run(e.Name+"/"+dns.TypeToString[e.Type], func(t *testing.T) {
			m, err := askDO(t, outer, e.Name, e.Type, true, false)
			if e.Security == resolvertest.Bogus {
				var re *resolver.Error
				if !errors.As(err, &re) {
					t.Fatalf("got %v (%v), want Bogus: SERVFAIL with EDE %d (%s)", m, err, e.EDE, e.Why)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want %v", err, e.Security)
			}
			if m.Rcode != e.Rcode {
				t.Errorf("rcode %d, want %d", m.Rcode, e.Rcode)
			}
			if ad := e.Security == resolvertest.Secure; m.AuthenticatedData != ad {
				t.Errorf("AD %v, want %v (%s)", m.AuthenticatedData, ad, e.Why)
			}
		})
	}
}
