package main

import (
	"fmt"
	"github.com/hush-dns/hush/cookie"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// The apply functions of the settings table, one per setting: each parses
// the raw value of the setting named key into c, and reports a bad value
// with rawValue.errorf so that it names the flag or the config file line.

func applyListen(c *serveConfig, key string, r rawValue) error {
	c.Listen = nil
	for i, v := range r.vals {
		u, err := parseListenURL(v)
		if err != nil {
			return r.errorf(key, i, "%v", err)
		}
		c.Listen = append(c.Listen, u)
	}
	return nil
}

func applyRootHints(c *serveConfig, key string, r rawValue) error {
	p := r.path(r.vals[0])
	if err := checkReadable(p); err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	f, err := os.Open(p)
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	defer f.Close()
	hints, err := resolver.ParseRootHints(f)
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	c.RootHints, c.hints = p, hints
	return nil
}

func applyAllowUpstream(c *serveConfig, key string, r rawValue) (err error) {
	c.AllowUpstream, err = parsePrefixes(key, r)
	return err
}

func applyAllowClient(c *serveConfig, key string, r rawValue) (err error) {
	c.AllowClient, err = parsePrefixes(key, r)
	return err
}

func applyCacheSize(c *serveConfig, key string, r rawValue) error {
	b, n, err := parseCacheSize(r.vals[0])
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	c.CacheBytes, c.CacheSize = defaultCacheBytes, n
	if b > 0 {
		c.CacheBytes = b
	}
	return nil
}

func applyMaxConnections(c *serveConfig, key string, r rawValue) (err error) {
	c.MaxConns, err = parsePositiveInt(key, r)
	return err
}

func applyMaxConnectionsPerClient(c *serveConfig, key string, r rawValue) (err error) {
	c.MaxConnsPerClient, err = parsePositiveInt(key, r)
	return err
}

func applyQNameMinimisation(c *serveConfig, key string, r rawValue) (err error) {
	c.QNameMin, err = parseBool(key, r)
	return err
}

func applyMinTTL(c *serveConfig, key string, r rawValue) (err error) {
	c.MinTTL, err = parseDurationValue(key, r, false)
	return err
}

func applyMaxTTL(c *serveConfig, key string, r rawValue) (err error) {
	c.MaxTTL, err = parseDurationValue(key, r, false)
	return err
}

func applyTimeout(c *serveConfig, key string, r rawValue) (err error) {
	c.Timeout, err = parseDurationValue(key, r, true)
	return err
}

func applyUpstreamPort(c *serveConfig, key string, r rawValue) error {
	n, err := strconv.ParseUint(r.vals[0], 10, 16)
	if err != nil || n == 0 {
		return r.errorf(key, 0, "want a port number from 1 to 65535")
	}
	c.UpstreamPort = uint16(n)
	return nil
}

func applyDNSSEC(c *serveConfig, key string, r rawValue) error {
	switch r.vals[0] {
	case "validate":
		c.DNSSEC = true
	case "off":
		c.DNSSEC = false
	default:
		return r.errorf(key, 0, "want validate or off")
	}
	return nil
}

func applyTrustAnchor(c *serveConfig, key string, r rawValue) error {
	p := r.path(r.vals[0])
	f, err := os.Open(p)
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	defer f.Close()
	a, err := dnssec.ParseAnchors(f)
	if err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	if a.Len() == 0 {
		return r.errorf(key, 0, "no DS or DNSKEY records")
	}
	c.TrustAnchor, c.anchors = p, a
	return nil
}

func applyTrustAnchorState(c *serveConfig, key string, r rawValue) error {
	c.TrustAnchorState = r.path(r.vals[0])
	return nil
}

func applyDNSSECSHA1(c *serveConfig, key string, r rawValue) error {
	b, err := parseBool(key, r)
	if err != nil {
		return err
	}
	c.NoSHA1 = !b
	return nil
}

func applyInsecureDomain(c *serveConfig, key string, r rawValue) error {
	c.InsecureDomains = nil
	for i, v := range r.vals {
		nta, err := parseNTA(v)
		if err != nil {
			return r.errorf(key, i, "%v", err)
		}
		c.InsecureDomains = append(c.InsecureDomains, nta)
	}
	return nil
}

func applyTLSCert(c *serveConfig, key string, r rawValue) (err error) {
	c.TLSCert, err = readablePath(key, r)
	return err
}

func applyTLSKey(c *serveConfig, key string, r rawValue) (err error) {
	c.TLSKey, err = readablePath(key, r)
	return err
}

// parsePositiveInt parses a count that must be at least 1.
func parsePositiveInt(key string, r rawValue) (int, error) {
	n, err := strconv.Atoi(r.vals[0])
	if err != nil {
		return 0, r.errorf(key, 0, "not an integer")
	}
	if n <= 0 {
		return 0, r.errorf(key, 0, "must be greater than 0")
	}
	return n, nil
}

func parseBool(key string, r rawValue) (bool, error) {
	b, err := strconv.ParseBool(r.vals[0])
	if err != nil {
		return false, r.errorf(key, 0, "want true or false")
	}
	return b, nil
}

// readablePath resolves a file name (relative to the config file when it
// came from there) and checks that hush can read it.
func readablePath(key string, r rawValue) (string, error) {
	p := r.path(r.vals[0])
	if err := checkReadable(p); err != nil {
		return "", r.errorf(key, 0, "%v", err)
	}
	return p, nil
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

func applyRateLimit(c *serveConfig, key string, r rawValue) (err error) {
	c.RateLimit, err = parseRate(key, r)
	return err
}

func applyZoneRateLimit(c *serveConfig, key string, r rawValue) (err error) {
	c.ZoneRateLimit, err = parseRate(key, r)
	return err
}

func applyServerCookies(c *serveConfig, key string, r rawValue) (err error) {
	c.ServerCookies, err = parseBool(key, r)
	return err
}

func applyUpstreamCookies(c *serveConfig, key string, r rawValue) (err error) {
	c.UpstreamCookies, err = parseBool(key, r)
	return err
}

func applyDNS0x20(c *serveConfig, key string, r rawValue) (err error) {
	c.DNS0x20, err = parseBool(key, r)
	return err
}

// applyCookieSecret reads the secret file now, so that a bad one stops
// hush at start; the error never quotes the file's content.
func applyCookieSecret(c *serveConfig, key string, r rawValue) (err error) {
	if c.CookieSecret, err = readablePath(key, r); err != nil {
		return err
	}
	if c.cookieSecrets, err = cookie.LoadSecrets(c.CookieSecret); err != nil {
		return r.errorf(key, 0, "%v", err)
	}
	return nil
}

// parseRate parses a queries-per-second limit: "auto", 0 (off) or a
// positive number.
func parseRate(key string, r rawValue) (float64, error) {
	v := r.vals[0]
	if v == "auto" {
		return autoRate, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f != f || f > 1e9 {
		return 0, r.errorf(key, 0, "want auto, 0 (off) or queries per second")
	}
	return f, nil
}

func applyServeStale(c *serveConfig, key string, r rawValue) (err error) {
	c.ServeStale, err = parseBool(key, r)
	return err
}

func applyServeStaleMaxAge(c *serveConfig, key string, r rawValue) (err error) {
	c.StaleMaxAge, err = parseDurationValue(key, r, true)
	return err
}

func applyServeStaleClientTimeout(c *serveConfig, key string, r rawValue) (err error) {
	c.StaleClientTimeout, err = parseDurationValue(key, r, true)
	return err
}

func applyPrefetch(c *serveConfig, key string, r rawValue) (err error) {
	c.Prefetch, err = parseBool(key, r)
	return err
}
