package main

import (
	"crypto/rand"
	"fmt"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
)

// guards are the flood defences of the UDP listeners built from the
// settings: server cookies and the per-client rate limit. A nil member is
// off.
type guards struct {
	cookies *cookie.Keeper
	clients *ratelimit.Clients
}

// newGuards builds cfg's guards. Without --cookie-secret the server
// cookie secret is random for this process: cookies stay valid until it
// restarts, and instances do not share them.
func newGuards(cfg serveConfig) (guards, error) {
	var g guards
	if cfg.ServerCookies {
		secrets := cfg.cookieSecrets
		if len(secrets) == 0 {
			var s cookie.Secret
			_, _ = rand.Read(s[:]) // crypto/rand.Read never fails (Go 1.24+)
			secrets = []cookie.Secret{s}
		}
		g.cookies = cookie.NewKeeper(cookie.NewServer(secrets[0], secrets[1:]...))
	}
	if qps := effectiveRate(cfg.RateLimit, cfg.AllowClient, defaultPublicRateLimit); qps > 0 {
		c, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: qps})
		if err != nil {
			return guards{}, fmt.Errorf("rate-limit: %w", err)
		}
		g.clients = c
	}
	return g, nil
}

// zoneLimiter is the resolver's per-zone rate limit of cfg, nil when off.
// parseRate bounds the rate, so NewZones cannot fail on it.
func zoneLimiter(cfg serveConfig) *ratelimit.Zones {
	qps := effectiveRate(cfg.ZoneRateLimit, cfg.AllowClient, defaultPublicZoneRateLimit)
	if qps <= 0 {
		return nil
	}
	z, err := ratelimit.NewZones(ratelimit.ZoneConfig{QPS: qps})
	if err != nil {
		return nil
	}
	return z
}
