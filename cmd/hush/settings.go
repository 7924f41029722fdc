package main

import (
	"crypto/tls"
	"net/netip"
	"strconv"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/filter"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
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
	// forwardConfig holds --forward and the other forwarding settings
	// (forward.go).
	forwardConfig
	// AllowClient are the client prefixes answered; others are refused.
	AllowClient []netip.Prefix
	// CacheBytes bounds the cache in bytes (--cache-size with a unit).
	CacheBytes int64
	// CacheSize, when above zero, also bounds the cache in entries (one
	// entry is one name, type and class: an answer or an RRset): a
	// --cache-size without a unit, as old config files have.
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
	// TrustAnchorState is the file of the root anchor's RFC 5011 state;
	// empty means the anchors stay as configured.
	TrustAnchorState string
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
	// ServerCookies turns DNS cookies on the UDP listeners on; CookieSecret
	// is the file of their secrets (empty: a random one per start), and
	// cookieSecrets what it held when the settings were checked.
	ServerCookies bool
	CookieSecret  string
	cookieSecrets []cookie.Secret
	// RateLimit is the UDP queries per second of one client network
	// without a valid cookie; 0 is off, autoRate picks by AllowClient.
	RateLimit float64
	// ZoneRateLimit is the queries per second toward one zone's servers;
	// 0 is off, autoRate picks by AllowClient.
	ZoneRateLimit float64
	// UpstreamCookies and DNS0x20 are the resolver's defences toward
	// authorities (client cookies, random question case).
	UpstreamCookies, DNS0x20 bool
	// ServeStale serves expired answers (RFC 8767) kept up to
	// StaleMaxAge when a refresh fails or takes StaleClientTimeout.
	// Prefetch refreshes busy answers before they expire.
	Prefetch           bool
	ServeStale         bool
	StaleMaxAge        time.Duration
	StaleClientTimeout time.Duration
	// Ops are the settings for operating hush (settings_ops.go).
	Ops opsConfig
}

// autoRate marks a rate limit left to its default, which depends on
// whom hush answers (see effectiveRate).
const autoRate = -1

// Rate limit defaults when hush answers clients beyond this host: 200
// queries per second per /24 or /56 without a valid cookie (a busy office
// behind one address stays under it; a cookie or TCP lifts it), and 1000
// per second toward one zone's servers (Unbound's suggested ratelimit).
const (
	defaultPublicRateLimit     = 200
	defaultPublicZoneRateLimit = 1000
)

// effectiveRate resolves autoRate: off when every allowed client prefix
// is loopback (a home or lab setup, and the tests), def otherwise. An
// explicit value applies to every client, loopback included.
func effectiveRate(v float64, allow []netip.Prefix, def float64) float64 {
	if v != autoRate {
		return v
	}
	for _, p := range allow {
		if !p.Addr().IsLoopback() {
			return def
		}
	}
	return 0
}

// Defaults for hush serve. defaultTimeout matches
// resolver.DefaultLimits.Timeout; defaultCacheBytes is in memlimit.go.
const (
	defaultListen       = "dns://127.0.0.1:53"
	defaultMaxTTL       = 24 * time.Hour
	defaultTimeout      = 10 * time.Second
	defaultUpstreamPort = 53
)

func defaultServeConfig() serveConfig {
	return serveConfig{
		Listen:             []listenURL{{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}},
		AllowClient:        []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		CacheBytes:         defaultCacheBytes,
		MaxConns:           transport.DefaultMaxConns,
		MaxConnsPerClient:  transport.DefaultMaxConnsPerClient,
		QNameMin:           true,
		MaxTTL:             defaultMaxTTL,
		Timeout:            defaultTimeout,
		UpstreamPort:       defaultUpstreamPort,
		DNSSEC:             true,
		ServerCookies:      true,
		RateLimit:          autoRate,
		ZoneRateLimit:      autoRate,
		UpstreamCookies:    true,
		DNS0x20:            true,
		Prefetch:           true,
		ServeStale:         true,
		StaleMaxAge:        resolver.DefaultStaleMaxAge,
		StaleClientTimeout: resolver.DefaultStaleClientTimeout,
		Ops:                opsConfig{LogLevel: logInfo, BlockEDE: filter.EDEBlocked},
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
	// apply parses r (one value, or several for a list) into c; key is
	// name, for the errors it returns.
	apply func(c *serveConfig, key string, r rawValue) error
}

// serveSettings returns the settings table in the order --help lists
// them and buildServeConfig checks them.
func serveSettings() []setting {
	return append(append(baseSettings(), forwardSettings()...), opsSettings()...)
}

// baseSettings are the settings but the forwarding ones of forward.go
// (--forward itself aside, listed here where it always was).
func baseSettings() []setting {
	return []setting{
		{
			name: "listen", kind: listSetting, typ: "URL", def: defaultListen,
			usage: "address to serve on, repeatable; dns://HOST:PORT is UDP and TCP (IPv6: dns://[::1]:53), tls://HOST:PORT is DNS over TLS, https://HOST:PORT/PATH is DNS over HTTPS (HTTP/1.1, HTTP/2 and HTTP/3 on one port), quic://HOST:PORT is DNS over QUIC",
			apply: applyListen,
		},
		{
			name: "root-hints", kind: scalarSetting, typ: "FILE", def: "built-in",
			usage: "zone file with the root servers' NS and A/AAAA records; built-in: the IANA root hints",
			apply: applyRootHints,
		},
		{
			name: "allow-upstream", kind: listSetting, typ: "CIDR", def: "",
			usage: "prefix hush may query although it is loopback, private or link-local, repeatable (public addresses are always allowed)",
			apply: applyAllowUpstream,
		},
		{
			name: "forward", kind: listSetting, typ: "URL", def: "",
			usage: forwardUsage,
			apply: applyForward,
		},
		{
			name: "allow-client", kind: listSetting, typ: "CIDR", def: "127.0.0.0/8,::1/128",
			usage: "client prefix to answer, repeatable; replaces the default; others are refused",
			apply: applyAllowClient,
		},
		{
			name: "cache-size", kind: scalarSetting, typ: "SIZE", def: "64MiB",
			usage: "bytes the cache holds at most (64MiB, 512KiB, 1GB); a number without a unit counts entries instead, as before, within the default byte bound",
			apply: applyCacheSize,
		},
		{
			name: "max-connections", kind: scalarSetting, typ: "N", def: strconv.Itoa(transport.DefaultMaxConns),
			usage: "open connections each TCP, tls://, https:// or quic:// listener holds; when full, a new one closes the one idle the longest",
			apply: applyMaxConnections,
		},
		{
			name: "max-connections-per-client", kind: scalarSetting, typ: "N", def: strconv.Itoa(transport.DefaultMaxConnsPerClient),
			usage: "open connections one client (an IPv4 address or an IPv6 /64) may hold on each TCP, tls://, https:// or quic:// listener; more are closed at once",
			apply: applyMaxConnectionsPerClient,
		},
		{
			name: "qname-minimisation", kind: boolSetting, typ: "bool", def: "true",
			usage: "send each server only the labels it needs to see (RFC 9156); --qname-minimisation=false turns it off",
			apply: applyQNameMinimisation,
		},
		{
			name: "rate-limit", kind: scalarSetting, typ: "QPS", def: "auto",
			usage: "UDP queries per second one client network (/24, /56) may send without a valid DNS cookie; over it, answers are dropped or truncated; 0 turns it off; auto: 200 when --allow-client admits non-loopback clients, else off",
			apply: applyRateLimit,
		},
		{
			name: "zone-rate-limit", kind: scalarSetting, typ: "QPS", def: "auto",
			usage: "queries per second hush sends toward one zone's servers; 0 turns it off; auto: 1000 when --allow-client admits non-loopback clients, else off",
			apply: applyZoneRateLimit,
		},
		{
			name: "server-cookies", kind: boolSetting, typ: "bool", def: "true",
			usage: "DNS cookies (RFC 7873, 9018) on UDP listeners; --server-cookies=false turns them off",
			apply: applyServerCookies,
		},
		{
			name: "cookie-secret", kind: scalarSetting, typ: "FILE", def: "",
			usage: "file of server cookie secrets (32 hex digits per line, the first makes cookies, the rest are still accepted), shared by every instance of one service; none: a random secret per start",
			apply: applyCookieSecret,
		},
		{
			name: "upstream-cookies", kind: boolSetting, typ: "bool", def: "true",
			usage: "send DNS cookies to authoritative servers and drop answers with a wrong one; --upstream-cookies=false turns it off",
			apply: applyUpstreamCookies,
		},
		{
			name: "dns0x20", kind: boolSetting, typ: "bool", def: "true",
			usage: "randomise the case of questions sent to authoritative servers and drop answers that do not echo it; --dns0x20=false turns it off",
			apply: applyDNS0x20,
		},
		{
			name: "prefetch", kind: boolSetting, typ: "bool", def: "true",
			usage: "refresh an answer asked for in the last tenth of its TTL before it expires; --prefetch=false turns it off",
			apply: applyPrefetch,
		},
		{
			name: "serve-stale", kind: boolSetting, typ: "bool", def: "true",
			usage: "answer with expired data (TTL 30, EDE 3 or 19) when its authorities fail or are slow (RFC 8767); --serve-stale=false turns it off",
			apply: applyServeStale,
		},
		{
			name: "serve-stale-max-age", kind: scalarSetting, typ: "DURATION", def: "24h",
			usage: "how long expired answers are kept for serve-stale",
			apply: applyServeStaleMaxAge,
		},
		{
			name: "serve-stale-client-timeout", kind: scalarSetting, typ: "DURATION", def: "1.8s",
			usage: "how long a client waits for a refresh before it gets the stale answer",
			apply: applyServeStaleClientTimeout,
		},
		{
			name: "min-ttl", kind: scalarSetting, typ: "DURATION", def: "0s",
			usage: "lowest TTL hush keeps records for (a duration like 30s or 5m, or seconds)",
			apply: applyMinTTL,
		},
		{
			name: "max-ttl", kind: scalarSetting, typ: "DURATION", def: "24h",
			usage: "highest TTL hush keeps records for (a duration like 1h, or seconds)",
			apply: applyMaxTTL,
		},
		{
			name: "timeout", kind: scalarSetting, typ: "DURATION", def: "10s",
			usage: "time one client query may take before hush answers SERVFAIL",
			apply: applyTimeout,
		},
		{
			name: "upstream-port", kind: scalarSetting, typ: "PORT", def: strconv.Itoa(defaultUpstreamPort),
			usage: "port authoritative servers are queried on; for tests and labs, leave it at 53 otherwise",
			apply: applyUpstreamPort,
		},
		{
			name: "dnssec", kind: scalarSetting, typ: "MODE", def: "validate",
			usage: "validate: check DNSSEC signatures from the trust anchors, SERVFAIL for bogus answers, AD for secure ones; off: no validation",
			apply: applyDNSSEC,
		},
		{
			name: "trust-anchor", kind: scalarSetting, typ: "FILE", def: "built-in",
			usage: "zone file of DS or DNSKEY records to validate from, replacing the built-in root KSKs (key tags 20326 and 38696)",
			apply: applyTrustAnchor,
		},
		{
			name: "trust-anchor-state", kind: scalarSetting, typ: "FILE", def: "",
			usage: "file where hush keeps the root anchor's RFC 5011 state, so that it follows root KSK rollovers (written atomically; its directory must be writable); unset: the root anchor never changes",
			apply: applyTrustAnchorState,
		},
		{
			name: "dnssec-sha1", kind: boolSetting, typ: "bool", def: "true",
			usage: "validate RSASHA1 (algorithms 5 and 7) and SHA-1 DS digests; false treats them as unsupported, so zones relying on them are Insecure (RFC 8624 permits either)",
			apply: applyDNSSECSHA1,
		},
		{
			name: "insecure-domain", kind: listSetting, typ: "NAME", def: "",
			usage: "negative trust anchor (RFC 7646): treat this domain as unsigned, repeatable; NAME@2026-12-31 or NAME@RFC3339-TIME sets an expiry",
			apply: applyInsecureDomain,
		},
		{
			name: "tls-cert", kind: scalarSetting, typ: "FILE", def: "",
			usage: "PEM certificate chain for tls://, https:// and quic:// listeners, with --tls-key; without both, a self-signed certificate is made at start and its SPKI pin printed",
			apply: applyTLSCert,
		},
		{
			name: "tls-key", kind: scalarSetting, typ: "FILE", def: "",
			usage: "PEM private key of --tls-cert",
			apply: applyTLSKey,
		},
	}
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
		if err := s.apply(&cfg, s.name, r); err != nil {
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
	if err := checkForwarding(&cfg); err != nil {
		return serveConfig{}, err
	}
	return cfg, nil
}
