package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// edesOf returns the Extended DNS Error codes m carries, in every OPT
// record of it (the transport keeps one, but a second must not hide).
func edesOf(m *dns.Msg) []uint16 {
	var out []uint16
	for _, rr := range m.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					out = append(out, e.InfoCode)
				}
			}
		}
	}
	return out
}

// TestForwardedInsecureEDE: through a forwarder, an answer from a zone
// the chain of trust proves unsigned (an insecure delegation, an opt-out
// span, an algorithm or digest hush does not validate) is Insecure, as
// when hush iterates: the data, no AD, and no EDE 6 (DNSSEC Bogus), which
// would tell the client the answer failed validation yet was served. A
// truly Bogus answer is SERVFAIL. Each holds with a validating upstream
// and with one that does not validate (it passes CD up), whose Bogus
// answers the forwarding hush must catch itself; through Config.Forwarders
// and through a forward zone for the root; and the verdict matches the
// one hush reaches iterating on its own.
func TestForwardedInsecureEDE(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = signedAnchors(t, n)
	})
	// upstream is inner as a forwarder would reach it; with cd, inner
	// does not validate for it and serves Bogus data too.
	upstream := func(cd bool) resolver.Forwarder {
		return forwarderFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
			q = q.Copy()
			q.CheckingDisabled = cd
			r, err := inner.ServeDNS(ctx, q)
			if err != nil {
				r = new(dns.Msg)
				r.SetRcode(q, dns.RcodeServerFailure)
				r.SetEdns0(1232, true)
				r.IsEdns0().Option = append(r.IsEdns0().Option, &dns.EDNS0_EDE{InfoCode: edeOf(err)})
			}
			r.Id, r.Response, r.RecursionAvailable, r.CheckingDisabled = q.Id, true, true, false
			r.Question = q.Question
			return r, nil
		})
	}
	fwd := netip.MustParseAddrPort("127.0.0.99:53")
	// Config.Forwarders (not what hush serve --forward uses) answers an
	// upstream's SERVFAIL with EDE 22 of its own rather than the
	// upstream's: failEDE says whether a SERVFAIL's EDE is checked.
	outers := []struct {
		name    string
		cfg     resolver.Config
		failEDE bool
	}{
		{"forwarders/validating", resolver.Config{Forwarders: []netip.AddrPort{fwd},
			Exchanger: &exchangerFunc{addr: fwd, fw: upstream(false)}}, false},
		{"forwarders/non-validating", resolver.Config{Forwarders: []netip.AddrPort{fwd},
			Exchanger: &exchangerFunc{addr: fwd, fw: upstream(true)}}, true},
		{"forward-zone/validating", resolver.Config{ForwardZones: []resolver.ForwardZone{{Zone: ".", Forwarder: upstream(false)}}}, true},
		{"forward-zone/non-validating", resolver.Config{ForwardZones: []resolver.ForwardZone{{Zone: ".", Forwarder: upstream(true)}}}, true},
	}
	const none = 0
	tests := []struct {
		name  string
		qtype uint16
		rcode int // what a client gets: SERVFAIL for Bogus
		ad    bool
		ede   uint16
	}{
		{"www.insecure.sec.", dns.TypeA, dns.RcodeSuccess, false, none},
		{"www.insecure.sec.", dns.TypeMX, dns.RcodeSuccess, false, none},
		{"nx.insecure.sec.", dns.TypeA, dns.RcodeNameError, false, none},
		{"to-secure.insecure.sec.", dns.TypeA, dns.RcodeSuccess, false, none},
		{"to-insecure.cname.sec.", dns.TypeA, dns.RcodeSuccess, false, none},
		{"www.unsigned.optout.", dns.TypeA, dns.RcodeSuccess, false, none},
		{"www.dsa.broken.", dns.TypeA, dns.RcodeSuccess, false, dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm},
		{"www.digest.broken.", dns.TypeA, dns.RcodeSuccess, false, dns.ExtendedErrorCodeUnsupportedDSDigestType},
		{"insecure.sec.", dns.TypeDS, dns.RcodeSuccess, true, none},
		{"www.alg13.sec.", dns.TypeA, dns.RcodeSuccess, true, none},
		{"www.expired.broken.", dns.TypeA, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeSignatureExpired},
		{"www.nosig.broken.", dns.TypeA, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeRRSIGsMissing},
	}
	// served is what a client of r gets for the question: a SERVFAIL
	// carries the error's EDE, as the transport would attach it.
	served := func(r *resolver.Resolver, name string, qtype uint16) (rcode int, ad bool, edes []uint16) {
		m, err := askDO(t, r, name, qtype, true, false)
		if err != nil {
			return dns.RcodeServerFailure, false, []uint16{edeOf(err)}
		}
		return m.Rcode, m.AuthenticatedData, edesOf(m)
	}
	for _, o := range outers {
		o.cfg.DNSSEC = true
		o.cfg.TrustAnchors = signedAnchors(t, n)
		outer, err := resolver.New(o.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(o.name+"/"+tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
				rcode, ad, edes := served(outer, tc.name, tc.qtype)
				irc, iad, iedes := served(inner, tc.name, tc.qtype)
				var want []uint16
				if tc.ede != none {
					want = []uint16{tc.ede}
				}
				if rcode == dns.RcodeServerFailure && !o.failEDE {
					want, iedes = edes, edes
				}
				if rcode != tc.rcode || ad != tc.ad || !slices.Equal(edes, want) {
					t.Errorf("got %s AD=%v EDE %v; want %s AD=%v EDE %v",
						dns.RcodeToString[rcode], ad, edes, dns.RcodeToString[tc.rcode], tc.ad, want)
				}
				if rcode != dns.RcodeServerFailure && slices.Contains(edes, resolver.EDEDNSSECBogus) {
					t.Errorf("%s served with EDE 6 (DNSSEC Bogus): a Bogus answer must be SERVFAIL", dns.RcodeToString[rcode])
				}
				// Iterating, hush comes to the same verdict.
				if irc != rcode || iad != ad || !slices.Equal(iedes, edes) {
					t.Errorf("forwarded: %s AD=%v EDE %v; iterating: %s AD=%v EDE %v",
						dns.RcodeToString[rcode], ad, edes, dns.RcodeToString[irc], iad, iedes)
				}
			})
		}
	}
}

var errNotForwarder = errors.New("not the forwarder")

// exchangerFunc is the Exchanger of a resolver whose one forwarder
// (Config.Forwarders) is addr, answered by fw.
type exchangerFunc struct {
	addr netip.AddrPort
	fw   resolver.Forwarder
}

func (e *exchangerFunc) Exchange(ctx context.Context, _ string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	if server != e.addr {
		return nil, errNotForwarder
	}
	return e.fw.Exchange(ctx, q)
}

// checkInfoEDE fails t unless an answer m served for e (not Bogus)
// carries exactly the EDE e names, or none: never EDE 6, which says an
// answer failed validation.
func checkInfoEDE(t *testing.T, m *dns.Msg, e resolvertest.Expectation) {
	t.Helper()
	var want []uint16
	if e.EDE != 0 {
		want = []uint16{e.EDE}
	}
	if got := edesOf(m); !slices.Equal(got, want) {
		t.Errorf("EDE: got %v, want %v (%s)", got, want, e.Why)
	}
}
