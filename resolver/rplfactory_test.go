package resolver_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
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
	// Unbound's spelling, its stub-zone and forward-zone clauses, and the
	// options hush has an equivalent for.
	"qname-minimisation": true, "name": true, "private-address": true, "private-domain": true,
	"dns64-prefix": true, "module-config": true, "cache-min-ttl": true, "cache-max-ttl": true,
}

// rplSections are the config sections whose keys rplFactory reads:
// Deckard's flat config ("") and Unbound's server, stub-zone and
// forward-zone clauses.
var rplSections = map[string]bool{"": true, "server": true, "stub-zone": true, "forward-zone": true}

// rplFeatures are the "features" settings (Deckard's Knot Resolver
// dialect) rplFactory maps.
var rplFeatures = map[string]bool{"min_ttl": true, "max_ttl": true}

// ignoredKeys lists the config keys of s that rplFactory does not map,
// features by their setting name ("features:dns64_prefix").
func ignoredKeys(s *rpl.Scenario) []string {
	var out []string
	for _, kv := range s.Config {
		switch {
		case !rplSections[kv.Section]:
			// auth-zone, view, rpz…: hush has no equivalent clause.
			out = append(out, kv.Section+":"+kv.Key)
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

// rplFactory maps a scenario's configuration onto resolver.Config, in
// Deckard's flat dialect and Unbound's clauses (testbound): stub-addr
// (named stub-name), or the stub-addr of a stub-zone clause for ".",
// gives the root servers (the built-in ones without it); a stub-zone
// clause for another name is a StubZone (ADDR or ADDR@PORT; stub-prime
// and stub-first have no equivalent); forward-addr, or a forward-zone
// clause for ".", makes hush forward everything, and a forward-zone
// clause for another name is a ForwardZone over the scenario's network;
// trust-anchor turns validation on with those anchors, domain-insecure
// makes negative trust anchors, query-minimization or
// qname-minimisation off turns minimisation off, private-address and
// private-domain are rebinding protection, "dns64" in module-config
// turns DNS64 on with dns64-prefix (64:ff9b::/96 by default), and
// do-not-query-localhost off lets loopback servers be queried (the
// stub-addr servers themselves always may be). Scenario servers use
// public and private addresses, all in-process, so every upstream
// address but loopback is allowed.
func rplFactory(s *rpl.Scenario, ex rpl.Exchanger, now func() time.Time) (rpl.Resolver, error) {
	verbose := os.Getenv("HUSH_RPL_VERBOSE") != ""
	if verbose {
		ex = verboseExchanger{ex}
	}
	nsName := "hint.root-servers.invalid."
	if v, ok := s.ConfigValue("stub-name"); ok {
		nsName = dns.Fqdn(v)
	}
	// The root's servers: Deckard's flat stub-addr, or the stub-addr of
	// Unbound's stub-zone clause for ".". Other stub-zone clauses are
	// hush's stub zones; forward-zone clauses its forward zones.
	rootStubs := s.ConfigValues("stub-addr")
	if s.Testbound {
		rootStubs = nil
	}
	var stubZones []resolver.StubZone
	var fwdZones []resolver.ForwardZone
	var fwd []netip.AddrPort
	var upstreams []netip.Prefix
	for _, g := range s.Groups("stub-zone") {
		zone, _ := rpl.Value(g, "name")
		zone = dns.CanonicalName(dns.Fqdn(zone))
		if zone == "." {
			rootStubs = append(rootStubs, rpl.Values(g, "stub-addr")...)
			continue
		}
		sz := resolver.StubZone{Zone: zone}
		for _, v := range rpl.Values(g, "stub-addr") {
			ap, err := rplAddrPort(v)
			if err != nil {
				return nil, fmt.Errorf("stub-addr: %w", err)
			}
			sz.Servers = append(sz.Servers, ap)
			upstreams = append(upstreams, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
		}
		if len(sz.Servers) > 0 {
			stubZones = append(stubZones, sz)
		}
	}
	for _, g := range s.Groups("forward-zone") {
		zone, _ := rpl.Value(g, "name")
		zone = dns.CanonicalName(dns.Fqdn(zone))
		var addrs []netip.AddrPort
		for _, v := range rpl.Values(g, "forward-addr") {
			ap, err := rplAddrPort(v)
			if err != nil {
				return nil, fmt.Errorf("forward-addr: %w", err)
			}
			addrs = append(addrs, ap)
			upstreams = append(upstreams, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
		}
		switch {
		case len(addrs) == 0:
		case zone == ".":
			fwd = append(fwd, addrs...)
		default:
			fwdZones = append(fwdZones, resolver.ForwardZone{Zone: zone, Forwarder: rplForwarder{ex, addrs}})
		}
	}
	var hints []dns.RR
	var stubs []netip.Prefix
	for i, v := range rootStubs {
		ap, err := rplAddrPort(v)
		if err != nil {
			return nil, fmt.Errorf("stub-addr: %w", err)
		}
		a := ap.Addr()
		ns := nsName
		if i > 0 {
			ns = fmt.Sprintf("hint%d.root-servers.invalid.", i)
		}
		// The root servers the scenario names are the operator's own
		// choice, as a hush operator lists loopback root hints in
		// AllowUpstream; only delegations to loopback stay refused
		// (iter_donotq127).
		stubs = append(stubs, netip.PrefixFrom(a, a.BitLen()))
		hints = append(hints, &dns.NS{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600000}, Ns: ns})
		if a.Is4() {
			hints = append(hints, &dns.A{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600000}, A: a.AsSlice()})
		} else {
			hints = append(hints, &dns.AAAA{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 3600000}, AAAA: a.AsSlice()})
		}
	}
	stubs = append(stubs, upstreams...)
	// Scenario servers use private and documentation addresses too;
	// loopback only with do-not-query-localhost: off, as in Deckard.
	allow := stubs
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
	for _, kv := range s.Config {
		if kv.Key != "forward-addr" || kv.Section != "" {
			continue
		}
		a, err := netip.ParseAddr(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("forward-addr: %w", err)
		}
		fwd = append(fwd, netip.AddrPortFrom(a, 53))
	}
	cfg := resolver.Config{
		Forwarders:    fwd,
		ForwardZones:  fwdZones,
		StubZones:     stubZones,
		RootHints:     hints,
		Exchanger:     ex,
		Now:           now,
		AllowUpstream: allow,
	}
	if v, _ := s.ConfigValue("query-minimization"); off(v) {
		cfg.NoQNameMinimisation = true
	}
	if v, _ := s.ConfigValue("qname-minimisation"); off(v) {
		cfg.NoQNameMinimisation = true
	}
	for _, v := range s.ConfigValues("private-address") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, err2 := netip.ParseAddr(v)
			if err2 != nil {
				return nil, fmt.Errorf("private-address: %w", err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.PrivateAddresses = append(cfg.PrivateAddresses, p.Masked())
	}
	cfg.PrivateDomains = s.ConfigValues("private-domain")
	if v, _ := s.ConfigValue("module-config"); slices.Contains(strings.Fields(v), "dns64") {
		cfg.DNS64Prefix = resolver.DNS64WellKnown
		if v, ok := s.ConfigValue("dns64-prefix"); ok {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("dns64-prefix: %w", err)
			}
			cfg.DNS64Prefix = p
		}
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
	// Unbound's cache-min-ttl and cache-max-ttl are the features above.
	for k, d := range map[string]*time.Duration{"cache-min-ttl": &cc.MinTTL, "cache-max-ttl": &cc.MaxTTL} {
		if v, ok := s.ConfigValue(k); ok {
			secs, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			*d = time.Duration(secs) * time.Second
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

// rplAddrPort reads a server address as Unbound writes it: ADDR, or
// ADDR@PORT; port 53 by default.
func rplAddrPort(v string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(v, "@")
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p := uint64(53)
	if ok {
		if p, err = strconv.ParseUint(port, 10, 16); err != nil {
			return netip.AddrPort{}, fmt.Errorf("port of %s: %w", v, err)
		}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

// rplForwarder is a scenario's forward-zone: the query goes over UDP to
// each address in turn until one answers.
type rplForwarder struct {
	ex    rpl.Exchanger
	addrs []netip.AddrPort
}

func (f rplForwarder) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	var err error
	for _, a := range f.addrs {
		var m *dns.Msg
		if m, err = f.ex.Exchange(ctx, "udp", a, q); err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("rpl forward-zone: %w", err)
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
