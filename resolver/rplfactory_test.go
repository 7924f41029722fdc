package resolver_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hush-dns/hush/cache"
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
	"do-not-query-localhost": true, "do-ip4": true, "do-ip6": true, "harden-glue": true,
	"features": true, "forward-addr": true,
}

// rplFeatures are the "features" settings (Deckard's Knot Resolver
// dialect) rplFactory maps.
var rplFeatures = map[string]bool{"min_ttl": true, "max_ttl": true}

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
// stub-addr (named stub-name) gives the root servers (the built-in ones
// without it), forward-addr makes hush forward to that server, trust-anchor turns
// validation on with those anchors, domain-insecure makes negative trust
// anchors, query-minimization off turns minimisation off, and
// do-not-query-localhost off lets loopback servers be queried. Scenario
// servers use public and private addresses, all in-process, so every
// upstream address but loopback is allowed.
func rplFactory(s *rpl.Scenario, ex rpl.Exchanger, now func() time.Time) (rpl.Resolver, error) {
	verbose := os.Getenv("HUSH_RPL_VERBOSE") != ""
	if verbose {
		ex = verboseExchanger{ex}
	}
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
	// Scenario servers use private and documentation addresses too;
	// loopback only with do-not-query-localhost: off, as in Deckard.
	var allow []netip.Prefix
	for _, p := range []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "fc00::/7", "fe80::/10", "100::/64", "2001:db8::/32"} {
		allow = append(allow, netip.MustParsePrefix(p))
	}
	if v, ok := s.ConfigValue("do-not-query-localhost"); ok && off(v) {
		allow = append(allow, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	}
	if len(hints) == 0 {
		// Scenarios without stub-addr script the real root servers; the
		// network is simulated, so nothing leaves the process.
		hints = resolver.DefaultRootHints()
	}
	var fwd []netip.AddrPort
	for _, v := range s.ConfigValues("forward-addr") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("forward-addr: %w", err)
		}
		fwd = append(fwd, netip.AddrPortFrom(a, 53))
	}
	cfg := resolver.Config{
		Forwarders:    fwd,
		RootHints:     hints,
		Exchanger:     ex,
		Now:           now,
		AllowUpstream: allow,
	}
	if v, _ := s.ConfigValue("query-minimization"); off(v) {
		cfg.NoQNameMinimisation = true
	}
	if v, _ := s.ConfigValue("do-ip4"); off(v) {
		cfg.NoIPv4 = true
	}
	if v, _ := s.ConfigValue("do-ip6"); off(v) {
		cfg.NoIPv6 = true
	}
	if v, _ := s.ConfigValue("harden-glue"); off(v) {
		cfg.OutOfZoneGlue = true
	}
	var cc cache.Config
	for _, f := range s.ConfigValues("features") {
		for _, kv := range strings.Split(f, ";") {
			k, v, _ := strings.Cut(kv, "=")
			secs, err := strconv.Atoi(strings.TrimSpace(v))
			switch k = strings.TrimSpace(k); {
			case !rplFeatures[k]:
				continue
			case err != nil:
				return nil, fmt.Errorf("features: %s: %w", k, err)
			case k == "min_ttl":
				cc.MinTTL = time.Duration(secs) * time.Second
			case k == "max_ttl":
				cc.MaxTTL = time.Duration(secs) * time.Second
			}
		}
	}
	if cc != (cache.Config{}) {
		cc.MaxEntries = 10_000
		cfg.Cache = cache.New(cc)
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
	r, err := resolver.New(cfg)
	if err != nil || !verbose {
		return r, err
	}
	return verboseResolver{r, s.Name}, nil
}

// verboseResolver prints the errors behind SERVFAIL answers
// (HUSH_RPL_VERBOSE=1), which the player's answer cannot show.
type verboseResolver struct {
	*resolver.Resolver
	name string
}

func (v verboseResolver) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	m, err := v.Resolver.ServeDNS(ctx, q)
	if err != nil {
		fmt.Printf("rpl:   %s: %s %s: error: %v\n", v.name, q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], err)
	}
	return m, err
}

// verboseExchanger prints every upstream query and what came back
// (HUSH_RPL_VERBOSE=1).
type verboseExchanger struct{ rpl.Exchanger }

func (v verboseExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	m, err := v.Exchanger.Exchange(ctx, network, server, q)
	line := fmt.Sprintf("rpl:   > %s %s %s %s", server.Addr(), network, q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype])
	if err != nil {
		fmt.Println(line, "error:", err)
		return m, err
	}
	var rrs []string
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			rrs = append(rrs, strings.ReplaceAll(rr.String(), "\t", " "))
		}
		rrs = append(rrs, "|")
	}
	fmt.Println(line, dns.RcodeToString[m.Rcode], "aa", m.Authoritative, strings.Join(rrs, " ; "))
	return m, err
}
