package main

import (
	"crypto/rand"
	"fmt"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
)

// guards are the flood defences built from the settings: server cookies
// and the per-client rate limit for the UDP listeners, the per-zone rate
// limit for the resolver. A nil member is off.
type guards struct {
	cookies *cookie.Keeper
	clients *ratelimit.Clients
	zones   *ratelimit.Zones
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
	if qps := effectiveRate(cfg.ZoneRateLimit, cfg.AllowClient, defaultPublicZoneRateLimit); qps > 0 {
		z, err := ratelimit.NewZones(ratelimit.ZoneConfig{QPS: qps})
		if err != nil {
			return guards{}, fmt.Errorf("zone-rate-limit: %w", err)
		}
		g.zones = z
	}
	return g, nil
}
