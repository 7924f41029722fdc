package resolver_test

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest/rpl"
	"github.com/miekg/dns"
)

// rplKeys are the scenario config keys rplFactory maps (or, for the
// val-override ones, the player itself reads). Others are ignored and
// counted by TestConformance, so that the testbound dialect reads too.
var rplKeys = map[string]bool{
	"stub-addr": true, "stub-name": true, "trust-anchor": true, "domain-insecure": true,
	"query-minimization": true, "val-override-date": true, "val-override-timestamp": true,
	"do-not-query-localhost": true, "do-ip4": true, "do-ip6": true,
}

// rplFeatures are the "features" settings rplFactory maps.
var rplFeatures = map[string]bool{}

// ignoredKeys lists the config keys of s that rplFactory does not map,
// features by their setting name ("features:dns64_prefix").
func ignoredKeys(s *rpl.Scenario) []string {
	var out []string
	for _, kv := range s.Config {
		switch {
		case kv.Key == "features":
			for _, f := range strings.Split(kv.Value, ";") {
				k, _, _ := strings.Cut(f, "=")
				if k = strings.TrimSpace(k); !rplFeatures[k] {
					out = append(out, "features:"+k)
				}
			}
		case !rplKeys[kv.Key]:
			out = append(out, kv.Key)
		}
	}
	return out
}

// off reports whether a scenario's boolean config value says no.
func off(v string) bool {
	switch strings.ToLower(v) {
	case "off", "no", "false", "0":
		return true
	}
	return false
}

// rplFactory maps a Deckard scenario's configuration onto resolver.Config:
// stub-addr (named stub-name) gives the root servers, trust-anchor turns
// validation on with those anchors, domain-insecure makes negative trust
// anchors, query-minimization off turns minimisation off, and
// do-not-query-localhost off lets loopback servers be queried. Scenario
// servers use public and private addresses, all in-process, so every
// upstream address but loopback is allowed.
func rplFactory(s *rpl.Scenario, ex rpl.Exchanger, now func() time.Time) (rpl.Resolver, error) {
	nsName := "hint.root-servers.invalid."
	if v, ok := s.ConfigValue("stub-name"); ok {
		nsName = dns.Fqdn(v)
	}
	var hints []dns.RR
	for i, v := range s.ConfigValues("stub-addr") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("stub-addr: %w", err)
		}
		ns := nsName
		if i > 0 {
			ns = fmt.Sprintf("hint%d.root-servers.invalid.", i)
		}
		hints = append(hints, &dns.NS{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600000}, Ns: ns})
		if a.Is4() {
			hints = append(hints, &dns.A{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600000}, A: a.AsSlice()})
		} else {
			hints = append(hints, &dns.AAAA{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 3600000}, AAAA: a.AsSlice()})
		}
	}
	allow := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	cfg := resolver.Config{
		RootHints:     hints,
		Exchanger:     ex,
		Now:           now,
		AllowUpstream: allow,
	}
	if v, _ := s.ConfigValue("query-minimization"); off(v) {
		cfg.NoQNameMinimisation = true
	}
	if tas := s.ConfigValues("trust-anchor"); len(tas) > 0 {
		an := dnssec.NewAnchors()
		for _, ta := range tas {
			rr, err := dns.NewRR(ta)
			if err != nil {
				return nil, fmt.Errorf("trust-anchor: %w", err)
			}
			if err := an.Add(rr); err != nil {
				return nil, fmt.Errorf("trust-anchor: %w", err)
			}
		}
		cfg.DNSSEC, cfg.TrustAnchors = true, an
	}
	for _, d := range s.ConfigValues("domain-insecure") {
		cfg.NegativeAnchors = append(cfg.NegativeAnchors, dnssec.NTA{Name: dns.Fqdn(d)})
	}
	return resolver.New(cfg)
}
