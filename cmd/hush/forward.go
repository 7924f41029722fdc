package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/upstream"
	"github.com/miekg/dns"
)

// forwardConfig is the forwarding part of hush serve's settings.
type forwardConfig struct {
	// Forward are the upstreams every question goes to (the root's
	// forward zone) instead of iterating from the root.
	Forward []upstream.Spec
	// ForwardCA are PEM files of the CAs upstream certificates are
	// checked against instead of the system's roots; caPool holds them.
	ForwardCA []string
	caPool    *x509.CertPool
	// ForwardZones send a zone's names to other upstreams.
	ForwardZones []zoneUpstreams
	// StubZones iterate a zone from the given authoritative servers.
	StubZones []resolver.StubZone
	// ForwardPolicy chooses among a zone's upstreams.
	ForwardPolicy upstream.Policy
	// PrivateAddresses and PrivateDomains are DNS rebinding protection.
	PrivateAddresses []netip.Prefix
	PrivateDomains   []string
	// DNS64 is the DNS64 prefix; the zero Prefix is off.
	DNS64 netip.Prefix
}

// zoneUpstreams is one --forward-zone.
type zoneUpstreams struct {
	Zone     string
	Upstream []upstream.Spec
}

// parseForwardURL parses one --forward value. A bare ADDR[:PORT] is
// checked exactly as before URLs were accepted, with the same errors.
func parseForwardURL(v string) (upstream.Spec, error) {
	if !strings.Contains(v, "://") {
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			a, err2 := netip.ParseAddr(v)
			if err2 != nil {
				return upstream.Spec{}, errors.New("want an IP address, optionally with :port ([v6]:port)")
			}
			ap = netip.AddrPortFrom(a, 53)
		}
		if ap.Port() == 0 {
			return upstream.Spec{}, errors.New("port 0")
		}
		return upstream.Spec{Scheme: "dns", Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
	}
	s, err := upstream.Parse(v)
	if err != nil {
		// Parse names the URL; the flag's error does already.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return upstream.Spec{}, err
	}
	return s, nil
}

// parseZoneList parses ZONE=V1[,V2...] into the zone and the values.
func parseZoneList(v string) (string, []string, error) {
	zone, list, ok := strings.Cut(v, "=")
	if !ok || zone == "" || list == "" {
		return "", nil, errors.New("want ZONE=VALUE[,VALUE...]")
	}
	if _, ok := dns.IsDomainName(zone); !ok {
		return "", nil, fmt.Errorf("%q is not a domain name", zone)
	}
	return dns.CanonicalName(dns.Fqdn(zone)), strings.Split(list, ","), nil
}

// forwardUsage is --forward's help.
const forwardUsage = "recursive resolver to send every question to instead of iterating from the root, repeatable: ADDR[:PORT] or dns://ADDR[:PORT] (plain DNS, port 53), tls://ADDR[:PORT][#NAME] (853), https://ADDR[:PORT][/PATH][#NAME] (443, /dns-query; ?http3=1 for HTTP/3), quic://ADDR[:PORT][#NAME] (853); NAME is the name the certificate must prove, the address otherwise; ?pin=sha256/BASE64 pins the key instead. Answers are still validated"

// applyForward parses --forward: URLs, or bare ADDR[:PORT] as before.
func applyForward(c *serveConfig, key string, r rawValue) error {
	c.Forward = nil
	for i, v := range r.vals {
		if v == "" {
			continue
		}
		s, err := parseForwardURL(v)
		if err != nil {
			return r.errorf(key, i, "%v", err)
		}
		c.Forward = append(c.Forward, s)
	}
	return nil
}

// forwardSettings are the forwarding settings of hush serve's table but
// --forward itself.
func forwardSettings() []setting {
	return []setting{
		{
			name: "forward-ca", kind: listSetting, typ: "FILE", def: "",
			usage: "PEM file of CA certificates that upstream (tls://, https://, quic://) certificates are checked against instead of the system's roots, repeatable",
			apply: func(c *serveConfig, key string, r rawValue) error {
				c.ForwardCA, c.caPool = nil, nil
				var files []string
				for i, v := range r.vals {
					if v == "" {
						continue
					}
					p := r.path(v)
					if _, err := upstream.LoadCAs(p); err != nil {
						return r.errorf(key, i, "%v", err)
					}
					files = append(files, p)
				}
				if len(files) == 0 {
					return nil
				}
				pool, err := upstream.LoadCAs(files...)
				if err != nil {
					return r.errorf(key, 0, "%v", err)
				}
				c.ForwardCA, c.caPool = files, pool
				return nil
			},
		},
		{
			name: "forward-zone", kind: listSetting, typ: "ZONE=URL[,URL...]", def: "",
			usage: "send the names at and under ZONE to these upstreams (the --forward URL forms), repeatable; the longest --forward-zone or --stub-zone that holds a name wins. A zone the public DNS does not delegate (lan., a private reverse zone) is not validated; one it delegates is",
			apply: func(c *serveConfig, key string, r rawValue) error {
				c.ForwardZones = nil
				seen := map[string]bool{}
				for i, v := range r.vals {
					if v == "" {
						continue
					}
					zone, urls, err := parseZoneList(v)
					if err != nil {
						return r.errorf(key, i, "%v", err)
					}
					if seen[zone] {
						return r.errorf(key, i, "zone %s given twice", zone)
					}
					seen[zone] = true
					zu := zoneUpstreams{Zone: zone}
					for _, u := range urls {
						s, err := parseForwardURL(u)
						if err != nil {
							return r.errorf(key, i, "%s: %v", u, err)
						}
						zu.Upstream = append(zu.Upstream, s)
					}
					c.ForwardZones = append(c.ForwardZones, zu)
				}
				return nil
			},
		},
		{
			name: "stub-zone", kind: listSetting, typ: "ZONE=ADDR[,ADDR...]", def: "",
			usage: "iterate the names at and under ZONE from these authoritative servers (ADDR or ADDR:PORT, port 53), with recursion not desired, repeatable; they are queried whatever --allow-upstream says",
			apply: func(c *serveConfig, key string, r rawValue) error {
				c.StubZones = nil
				seen := map[string]bool{}
				for i, v := range r.vals {
					if v == "" {
						continue
					}
					zone, addrs, err := parseZoneList(v)
					if err != nil {
						return r.errorf(key, i, "%v", err)
					}
					if seen[zone] {
						return r.errorf(key, i, "zone %s given twice", zone)
					}
					seen[zone] = true
					sz := resolver.StubZone{Zone: zone}
					for _, a := range addrs {
						s, err := parseForwardURL(a)
						if err != nil || strings.Contains(a, "://") {
							return r.errorf(key, i, "%s: want an IP address, optionally with :port ([v6]:port)", a)
						}
						sz.Servers = append(sz.Servers, s.Addr)
					}
					c.StubZones = append(c.StubZones, sz)
				}
				return nil
			},
		},
		{
			name: "private-address", kind: listSetting, typ: "CIDR", def: "",
			usage: "DNS rebinding protection: remove A and AAAA records in this prefix from answers for names outside --private-domain and the forward and stub zones (EDE 15 says so), repeatable; private is RFC 1918, 100.64.0.0/10, loopback, link-local, 0.0.0.0/8 and ULA. Off unless given; a router wants --private-address private",
			apply: func(c *serveConfig, key string, r rawValue) error {
				c.PrivateAddresses = nil
				for i, v := range r.vals {
					switch {
					case v == "":
					case v == "private":
						c.PrivateAddresses = append(c.PrivateAddresses, resolver.PrivateRanges()...)
					default:
						p, err := netip.ParsePrefix(v)
						if err != nil {
							a, err2 := netip.ParseAddr(v)
							if err2 != nil {
								return r.errorf(key, i, "want a CIDR prefix or private")
							}
							p = netip.PrefixFrom(a, a.BitLen())
						}
						c.PrivateAddresses = append(c.PrivateAddresses, p.Masked())
					}
				}
				return nil
			},
		},
		{
			name: "private-domain", kind: listSetting, typ: "ZONE", def: "",
			usage: "names at and under ZONE may hold private addresses (see --private-address), repeatable",
			apply: func(c *serveConfig, key string, r rawValue) error {
				c.PrivateDomains = nil
				for i, v := range r.vals {
					if v == "" {
						continue
					}
					if _, ok := dns.IsDomainName(v); !ok {
						return r.errorf(key, i, "not a domain name")
					}
					c.PrivateDomains = append(c.PrivateDomains, dns.CanonicalName(dns.Fqdn(v)))
				}
				return nil
			},
		},
		{
			name: "dns64", kind: scalarSetting, typ: "PREFIX", def: "off",
			usage: "DNS64 (RFC 6147): AAAA answers made of this /96 and the IPv4 addresses of names without AAAA records, for IPv6-only networks behind NAT64; on means 64:ff9b::/96. Never for clients that set DO and CD",
			apply: func(c *serveConfig, key string, r rawValue) error {
				switch v := r.vals[0]; v {
				case "off", "":
					c.DNS64 = netip.Prefix{}
				case "on":
					c.DNS64 = resolver.DNS64WellKnown
				default:
					p, err := netip.ParsePrefix(v)
					if err != nil || p.Bits() != 96 || !p.Addr().Is6() || p.Addr().Is4In6() {
						return r.errorf(key, 0, "want on, off or an IPv6 /96 such as 64:ff9b::/96")
					}
					c.DNS64 = p.Masked()
				}
				return nil
			},
		},
		{
			name: "forward-policy", kind: scalarSetting, typ: "POLICY", def: "fastest",
			usage: "how a query picks among several upstreams of a zone: fastest (by smoothed RTT, now and then another; each query goes to one upstream), parallel (all at once, the first answer wins) or strict (in the order given, the next when one fails)",
			apply: func(c *serveConfig, key string, r rawValue) error {
				p, err := upstream.ParsePolicy(r.vals[0])
				if err != nil {
					return r.errorf(key, 0, "want fastest, parallel or strict")
				}
				c.ForwardPolicy = p
				return nil
			},
		},
	}
}

// checkForwarding checks what one setting alone cannot: every zone is
// routed once.
func checkForwarding(c *serveConfig) error {
	for _, f := range c.ForwardZones {
		for _, s := range c.StubZones {
			if s.Zone == f.Zone {
				return usageErrorf("%s is both a --forward-zone and a --stub-zone", f.Zone)
			}
		}
		if f.Zone == "." && len(c.Forward) > 0 {
			return usageErrorf("--forward-zone .=... and --forward both name the root's upstreams")
		}
	}
	return nil
}

// forwarding builds the resolver's forward zones (a pool of upstreams per
// zone) and stub zones. Close the returned closers when done.
func forwarding(c serveConfig, stderr io.Writer) ([]resolver.ForwardZone, []io.Closer, error) {
	opts := upstream.Options{
		RootCAs: c.caPool,
		// Upstream messages name upstreams by address, never a query.
		Logf: func(format string, args ...any) {
			fmt.Fprintf(stderr, "hush: "+format+"\n", args...)
		},
	}
	zones := c.ForwardZones
	if len(c.Forward) > 0 {
		zones = append([]zoneUpstreams{{Zone: ".", Upstream: c.Forward}}, zones...)
	}
	var (
		out     []resolver.ForwardZone
		closers []io.Closer
	)
	for _, z := range zones {
		ups := make([]upstream.Upstream, 0, len(z.Upstream))
		for _, s := range z.Upstream {
			u, err := upstream.New(s, opts)
			if err != nil {
				return nil, closers, err
			}
			ups = append(ups, u)
		}
		p, err := upstream.NewPool(ups, c.ForwardPolicy, 0, opts)
		if err != nil {
			return nil, closers, err
		}
		closers = append(closers, p)
		out = append(out, resolver.ForwardZone{Zone: z.Zone, Forwarder: p})
	}
	return out, closers, nil
}
