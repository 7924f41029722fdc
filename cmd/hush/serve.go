package main

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
	"github.com/spf13/cobra"
)

// serveConfig is hush serve's parsed and validated settings: defaults,
// then the config file, then the flags given on the command line.
type serveConfig struct {
	// Listen are the addresses to serve on (dns:// = UDP and TCP).
	Listen []listenURL
	// RootHints is a zone file of root server NS and address records;
	// empty means the root hints built into hush.
	RootHints string
	// hints are the records read from RootHints when the settings were
	// checked; nil means the built-in ones.
	hints []dns.RR
	// AllowUpstream are prefixes hush may send queries to although they
	// are loopback, private, link-local or unspecified.
	AllowUpstream []netip.Prefix
	// Forward are recursive resolvers to forward every question to
	// instead of iterating from the root.
	Forward []netip.AddrPort
	// AllowClient are the client prefixes answered; others are refused.
	AllowClient []netip.Prefix
	// CacheSize is the number of cache entries (one entry is one
	// name, type and class: an RRset or a negative answer).
	CacheSize int
	// MaxConns and MaxConnsPerClient cap the open connections of each
	// connection-oriented listener (TCP, DoT, DoH, DoQ), in all and per
	// client address.
	MaxConns, MaxConnsPerClient int
	// QNameMin turns on QNAME minimisation (RFC 9156).
	QNameMin bool
	// MinTTL and MaxTTL clamp the TTLs of cached records.
	MinTTL, MaxTTL time.Duration
	// Timeout is the time one client query may take.
	Timeout time.Duration
	// UpstreamPort is the port authoritative servers are queried on.
	UpstreamPort uint16
	// DNSSEC turns validation on.
	DNSSEC bool
	// TrustAnchor is the file the trust anchors came from; empty means
	// the built-in root anchors. anchors holds what it parsed to.
	TrustAnchor string
	anchors     *dnssec.Anchors
	// NoSHA1 treats the SHA-1 DNSSEC algorithms and digests as unsupported.
	NoSHA1 bool
	// InsecureDomains are negative trust anchors.
	InsecureDomains []dnssec.NTA
	// TLSCert and TLSKey are the PEM files of the encrypted listeners'
	// certificate chain and key; both empty means a self-signed
	// certificate made at start. tlsCert is the pair they held when the
	// settings were checked.
	TLSCert, TLSKey string
	tlsCert         *tls.Certificate
	// Ops are the settings for operating hush (settings_ops.go).
	Ops opsConfig
}

// Defaults for hush serve. defaultCacheSize and defaultTimeout match
// resolver.DefaultCacheEntries and resolver.DefaultLimits.Timeout.
const (
	defaultListen       = "dns://127.0.0.1:53"
	defaultCacheSize    = 100_000
	defaultMaxTTL       = 24 * time.Hour
	defaultTimeout      = 10 * time.Second
	defaultUpstreamPort = 53
)

func defaultServeConfig() serveConfig {
	return serveConfig{
		Listen:            []listenURL{{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}},
		AllowClient:       []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		CacheSize:         defaultCacheSize,
		MaxConns:          transport.DefaultMaxTCPConns,
		MaxConnsPerClient: transport.DefaultMaxConnsPerClient,
		QNameMin:          true,
		MaxTTL:            defaultMaxTTL,
		Timeout:           defaultTimeout,
		UpstreamPort:      defaultUpstreamPort,
		DNSSEC:            true,
		Ops:               opsConfig{LogLevel: logInfo},
	}
}

// settingKind is the shape of a setting's value.
type settingKind int

const (
	scalarSetting settingKind = iota
	listSetting               // repeatable flag, YAML list
	boolSetting               // flag without a value means true
)

// setting is one hush serve setting: a flag and a config key of the same
// name. The table drives the flags, the config file keys, --help and the
// README test, so they cannot drift apart.
type setting struct {
	name  string
	kind  settingKind
	typ   string // value type shown in --help
	def   string // default as shown in --help and the README
	usage string
	// apply parses r (one value, or several for a list) into c.
	apply func(c *serveConfig, r rawValue) error
}

// serveSettings returns the settings table in the order --help lists
// them and buildServeConfig checks them.
func serveSettings() []setting {
	return append([]setting{
		{
			name: "listen", kind: listSetting, typ: "URL", def: defaultListen,
			usage: "address to serve on, repeatable; dns://HOST:PORT is UDP and TCP (IPv6: dns://[::1]:53), tls://HOST:PORT is DNS over TLS, https://HOST:PORT/PATH is DNS over HTTPS (HTTP/1.1, HTTP/2 and HTTP/3 on one port), quic://HOST:PORT is DNS over QUIC",
			apply: func(c *serveConfig, r rawValue) error {
				c.Listen = nil
				for i, v := range r.vals {
					u, err := parseListenURL(v)
					if err != nil {
						return r.errorf("listen", i, "%v", err)
					}
					c.Listen = append(c.Listen, u)
				}
				return nil
			},
		},
		{
			name: "root-hints", kind: scalarSetting, typ: "FILE", def: "built-in",
			usage: "zone file with the root servers' NS and A/AAAA records; built-in: the IANA root hints",
			apply: func(c *serveConfig, r rawValue) error {
				p := r.path(r.vals[0])
				if err := checkReadable(p); err != nil {
					return r.errorf("root-hints", 0, "%v", err)
				}
				f, err := os.Open(p)
				if err != nil {
					return r.errorf("root-hints", 0, "%v", err)
				}
				defer f.Close()
				hints, err := resolver.ParseRootHints(f)
				if err != nil {
					return r.errorf("root-hints", 0, "%v", err)
				}
				c.RootHints, c.hints = p, hints
				return nil
			},
		},
		{
			name: "allow-upstream", kind: listSetting, typ: "CIDR", def: "",
			usage: "prefix hush may query although it is loopback, private or link-local, repeatable (public addresses are always allowed)",
			apply: func(c *serveConfig, r rawValue) (err error) {
				c.AllowUpstream, err = parsePrefixes("allow-upstream", r)
				return err
			},
		},
		{
			name: "forward", kind: listSetting, typ: "ADDR[:PORT]", def: "",
			usage: "recursive resolver to send every question to instead of iterating from the root, repeatable (port 53 unless given; answers are still validated)",
			apply: func(c *serveConfig, r rawValue) error {
				c.Forward = nil
				for i, v := range r.vals {
					if v == "" {
						continue
					}
					ap, err := netip.ParseAddrPort(v)
					if err != nil {
						a, err2 := netip.ParseAddr(v)
						if err2 != nil {
							return r.errorf("forward", i, "want an IP address, optionally with :port ([v6]:port)")
						}
						ap = netip.AddrPortFrom(a, 53)
					}
					if ap.Port() == 0 {
						return r.errorf("forward", i, "port 0")
					}
					c.Forward = append(c.Forward, ap)
				}
				return nil
			},
		},
		{
			name: "allow-client", kind: listSetting, typ: "CIDR", def: "127.0.0.0/8,::1/128",
			usage: "client prefix to answer, repeatable; replaces the default; others are refused",
			apply: func(c *serveConfig, r rawValue) (err error) {
				c.AllowClient, err = parsePrefixes("allow-client", r)
				return err
			},
		},
		{
			name: "cache-size", kind: scalarSetting, typ: "N", def: strconv.Itoa(defaultCacheSize),
			usage: "cache entries (one per name, type and class: an RRset or a negative answer)",
			apply: func(c *serveConfig, r rawValue) error {
				v := r.vals[0]
				n, err := strconv.Atoi(v)
				if err != nil {
					return r.errorf("cache-size", 0, "not an integer")
				}
				if n <= 0 {
					return r.errorf("cache-size", 0, "must be greater than 0")
				}
				c.CacheSize = n
				return nil
			},
		},
		{
			name: "max-connections", kind: scalarSetting, typ: "N", def: strconv.Itoa(transport.DefaultMaxTCPConns),
			usage: "open connections each TCP, tls://, https:// or quic:// listener accepts; more are closed at once",
			apply: func(c *serveConfig, r rawValue) error {
				n, err := strconv.Atoi(r.vals[0])
				if err != nil {
					return r.errorf("max-connections", 0, "not an integer")
				}
				if n <= 0 {
					return r.errorf("max-connections", 0, "must be greater than 0")
				}
				c.MaxConns = n
				return nil
			},
		},
		{
			name: "max-connections-per-client", kind: scalarSetting, typ: "N", def: strconv.Itoa(transport.DefaultMaxConnsPerClient),
			usage: "open connections one client (an IPv4 address or an IPv6 /64) may hold on each TCP, tls://, https:// or quic:// listener; more are closed at once",
			apply: func(c *serveConfig, r rawValue) error {
				n, err := strconv.Atoi(r.vals[0])
				if err != nil {
					return r.errorf("max-connections-per-client", 0, "not an integer")
				}
				if n <= 0 {
					return r.errorf("max-connections-per-client", 0, "must be greater than 0")
				}
				c.MaxConnsPerClient = n
				return nil
			},
		},
		{
			name: "qname-minimisation", kind: boolSetting, typ: "bool", def: "true",
			usage: "send each server only the labels it needs to see (RFC 9156); --qname-minimisation=false turns it off",
			apply: func(c *serveConfig, r rawValue) error {
				v := r.vals[0]
				b, err := strconv.ParseBool(v)
				if err != nil {
					return r.errorf("qname-minimisation", 0, "want true or false")
				}
				c.QNameMin = b
				return nil
			},
		},
		{
			name: "min-ttl", kind: scalarSetting, typ: "DURATION", def: "0s",
			usage: "lowest TTL hush keeps records for (a duration like 30s or 5m, or seconds)",
			apply: func(c *serveConfig, r rawValue) (err error) {
				c.MinTTL, err = parseDurationValue("min-ttl", r, false)
				return err
			},
		},
		{
			name: "max-ttl", kind: scalarSetting, typ: "DURATION", def: "24h",
			usage: "highest TTL hush keeps records for (a duration like 1h, or seconds)",
			apply: func(c *serveConfig, r rawValue) (err error) {
				c.MaxTTL, err = parseDurationValue("max-ttl", r, false)
				return err
			},
		},
		{
			name: "timeout", kind: scalarSetting, typ: "DURATION", def: "10s",
			usage: "time one client query may take before hush answers SERVFAIL",
			apply: func(c *serveConfig, r rawValue) (err error) {
				c.Timeout, err = parseDurationValue("timeout", r, true)
				return err
			},
		},
		{
			name: "upstream-port", kind: scalarSetting, typ: "PORT", def: strconv.Itoa(defaultUpstreamPort),
			usage: "port authoritative servers are queried on; for tests and labs, leave it at 53 otherwise",
			apply: func(c *serveConfig, r rawValue) error {
				v := r.vals[0]
				n, err := strconv.ParseUint(v, 10, 16)
				if err != nil || n == 0 {
					return r.errorf("upstream-port", 0, "want a port number from 1 to 65535")
				}
				c.UpstreamPort = uint16(n)
				return nil
			},
		},
		{
			name: "dnssec", kind: scalarSetting, typ: "MODE", def: "validate",
			usage: "validate: check DNSSEC signatures from the trust anchors, SERVFAIL for bogus answers, AD for secure ones; off: no validation",
			apply: func(c *serveConfig, r rawValue) error {
				switch r.vals[0] {
				case "validate":
					c.DNSSEC = true
				case "off":
					c.DNSSEC = false
				default:
					return r.errorf("dnssec", 0, "want validate or off")
				}
				return nil
			},
		},
		{
			name: "trust-anchor", kind: scalarSetting, typ: "FILE", def: "built-in",
			usage: "zone file of DS or DNSKEY records to validate from, replacing the built-in root KSKs (key tags 20326 and 38696)",
			apply: func(c *serveConfig, r rawValue) error {
				p := r.path(r.vals[0])
				f, err := os.Open(p)
				if err != nil {
					return r.errorf("trust-anchor", 0, "%v", err)
				}
				defer f.Close()
				a, err := dnssec.ParseAnchors(f)
				if err != nil {
					return r.errorf("trust-anchor", 0, "%v", err)
				}
				if a.Len() == 0 {
					return r.errorf("trust-anchor", 0, "no DS or DNSKEY records")
				}
				c.TrustAnchor, c.anchors = p, a
				return nil
			},
		},
		{
			name: "dnssec-sha1", kind: boolSetting, typ: "bool", def: "true",
			usage: "validate RSASHA1 (algorithms 5 and 7) and SHA-1 DS digests; false treats them as unsupported, so zones relying on them are Insecure (RFC 8624 permits either)",
			apply: func(c *serveConfig, r rawValue) error {
				b, err := strconv.ParseBool(r.vals[0])
				if err != nil {
					return r.errorf("dnssec-sha1", 0, "want true or false")
				}
				c.NoSHA1 = !b
				return nil
			},
		},
		{
			name: "insecure-domain", kind: listSetting, typ: "NAME", def: "",
			usage: "negative trust anchor (RFC 7646): treat this domain as unsigned, repeatable; NAME@2026-12-31 or NAME@RFC3339-TIME sets an expiry",
			apply: func(c *serveConfig, r rawValue) error {
				c.InsecureDomains = nil
				for i, v := range r.vals {
					nta, err := parseNTA(v)
					if err != nil {
						return r.errorf("insecure-domain", i, "%v", err)
					}
					c.InsecureDomains = append(c.InsecureDomains, nta)
				}
				return nil
			},
		},
		{
			name: "tls-cert", kind: scalarSetting, typ: "FILE", def: "",
			usage: "PEM certificate chain for tls://, https:// and quic:// listeners, with --tls-key; without both, a self-signed certificate is made at start and its SPKI pin printed",
			apply: func(c *serveConfig, r rawValue) error {
				p := r.path(r.vals[0])
				if err := checkReadable(p); err != nil {
					return r.errorf("tls-cert", 0, "%v", err)
				}
				c.TLSCert = p
				return nil
			},
		},
		{
			name: "tls-key", kind: scalarSetting, typ: "FILE", def: "",
			usage: "PEM private key of --tls-cert",
			apply: func(c *serveConfig, r rawValue) error {
				p := r.path(r.vals[0])
				if err := checkReadable(p); err != nil {
					return r.errorf("tls-key", 0, "%v", err)
				}
				c.TLSKey = p
				return nil
			},
		},
	}, opsSettings()...)
}

// checkTLSFiles checks that --tls-cert and --tls-key come together and
// hold a matching pair, and loads it.
func checkTLSFiles(c *serveConfig, used map[string]rawValue) error {
	switch {
	case c.TLSCert == "" && c.TLSKey == "":
		return nil
	case c.TLSKey == "":
		return used["tls-cert"].errorf("tls-cert", 0, "needs tls-key too")
	case c.TLSCert == "":
		return used["tls-key"].errorf("tls-key", 0, "needs tls-cert too")
	}
	cert, err := loadKeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return used["tls-cert"].errorf("tls-cert", 0, "%v", err)
	}
	c.tlsCert = cert
	return nil
}

// buildServeConfig applies the file's values and then the flags' values
// over the defaults, validating each, and checks the settings against each
// other. A flag replaces the file's value for the same key.
func buildServeConfig(settings []setting, file, flags map[string]rawValue) (serveConfig, error) {
	cfg := defaultServeConfig()
	used := make(map[string]rawValue)
	for _, s := range settings {
		r, ok := flags[s.name]
		if !ok {
			r, ok = file[s.name]
		}
		if !ok {
			continue
		}
		if err := s.apply(&cfg, r); err != nil {
			return serveConfig{}, err
		}
		used[s.name] = r
	}
	if cfg.MinTTL > cfg.MaxTTL {
		// Blame min-ttl when the user set it: with the defaults only a
		// raised min-ttl can pass max-ttl.
		key := "min-ttl"
		r, ok := used[key]
		if !ok {
			key = "max-ttl"
			r = used[key]
		}
		return serveConfig{}, r.errorf(key, 0, "min-ttl (%v) is greater than max-ttl (%v)", cfg.MinTTL, cfg.MaxTTL)
	}
	if err := checkTLSFiles(&cfg, used); err != nil {
		return serveConfig{}, err
	}
	return cfg, nil
}

func parsePrefixes(key string, r rawValue) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(r.vals))
	for i, v := range r.vals {
		p, err := parsePrefix(v)
		if err != nil {
			return nil, r.errorf(key, i, "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix parses a CIDR prefix; a bare address is a one-address
// prefix. Host bits are cleared: 10.1.2.3/8 means 10.0.0.0/8.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR")
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR")
	}
	return p.Masked(), nil
}

// parseDuration parses a Go duration (1h30m, 250ms) or a plain number of
// seconds, which is how TTLs are usually written. Negative is an error.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (want e.g. 30s, 5m, 1h or seconds)")
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, nil
}

func parseDurationValue(key string, r rawValue, positive bool) (time.Duration, error) {
	d, err := parseDuration(r.vals[0])
	if err != nil {
		return 0, r.errorf(key, 0, "%v", err)
	}
	if positive && d == 0 {
		return 0, r.errorf(key, 0, "must be greater than 0")
	}
	return d, nil
}

// checkReadable reports whether p is a regular file hush can open.
func checkReadable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err // the caller names the file already
		}
		return fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot read: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	return nil
}

// flagValue holds a serve flag's text as given; buildServeConfig parses
// it together with the config file so that both report errors alike.
type flagValue struct {
	vals []string
	list bool
	typ  string
}

func (f *flagValue) String() string { return strings.Join(f.vals, ",") }
func (f *flagValue) Type() string   { return f.typ }

// Set appends for a repeatable flag and replaces otherwise.
func (f *flagValue) Set(s string) error {
	if f.list {
		f.vals = append(f.vals, s)
	} else {
		f.vals = []string{s}
	}
	return nil
}

func newServeCmd(e *env) *cobra.Command {
	settings := serveSettings()
	values := make(map[string]*flagValue, len(settings))
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the recursive resolver",
		Long: "Run the recursive resolver until SIGINT or SIGTERM.\n\n" +
			"Settings come from the defaults, then the YAML file named by --config\n" +
			"(keys are the flag names without --), then the flags on the command line.\n" +
			"A flag replaces the file's value for the same key, lists included.\n" +
			"Relative file names in the config file are relative to its directory.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var file map[string]rawValue
			if cmd.Flags().Changed("config") {
				if configPath == "" {
					return usageErrorf("--config %q: empty file name", configPath)
				}
				var err error
				if file, err = loadConfigFile(configPath, settings); err != nil {
					return err
				}
			}
			flags := make(map[string]rawValue)
			for name, v := range values {
				if cmd.Flags().Changed(name) {
					flags[name] = rawValue{vals: v.vals}
				}
			}
			cfg, err := buildServeConfig(settings, file, flags)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return e.serve(ctx, cfg, e.stdout, e.stderr)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	for _, s := range settings {
		v := &flagValue{list: s.kind == listSetting, typ: s.typ}
		values[s.name] = v
		fs.Var(v, s.name, s.usage)
		f := fs.Lookup(s.name)
		f.DefValue = s.def
		if s.kind == boolSetting {
			f.NoOptDefVal = "true"
		}
	}
	fs.StringVar(&configPath, "config", "", "YAML config `FILE`; flags given on the command line override it")
	return cmd
}

// parseNTA parses NAME or NAME@EXPIRY, EXPIRY being a date (2026-12-31,
// the end of that day, UTC) or an RFC 3339 time.
func parseNTA(v string) (dnssec.NTA, error) {
	name, exp, hasExp := strings.Cut(v, "@")
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return dnssec.NTA{}, fmt.Errorf("%q is not a domain name", name)
	}
	nta := dnssec.NTA{Name: dns.CanonicalName(name)}
	if hasExp {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			d, derr := time.Parse("2006-01-02", exp)
			if derr != nil {
				return dnssec.NTA{}, fmt.Errorf("expiry %q: want a date (2006-01-02) or an RFC 3339 time", exp)
			}
			t = d.Add(24 * time.Hour)
		}
		nta.Expires = t
	}
	return nta, nil
}
