package main

import (
	"crypto/rand"
	"fmt"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
)

// guards are the flood defences of the UDP listeners built from the
// settings: server cookies and the per-client rate limit. cookies is
// never nil (an empty Keeper is off), so that a reload can turn them on;
// a nil clients is off.
type guards struct {
	cookies *cookie.Keeper
	clients *ratelimit.Clients
	// random is the server cookie secret used without --cookie-secret:
	// drawn once per process, so that a reload keeps the cookies given.
	random cookie.Secret
}

// newGuards builds cfg's guards. Without --cookie-secret the server
// cookie secret is random for this process: cookies stay valid until it
// restarts, and instances do not share them.
func newGuards(cfg serveConfig) (guards, error) {
	var g guards
	_, _ = rand.Read(g.random[:]) // crypto/rand.Read never fails (Go 1.24+)
	g.cookies = cookie.NewKeeper(cookieServer(cfg, g.random))
	c, err := clientLimiter(cfg)
	if err != nil {
		return guards{}, err
	}
	g.clients = c
	return g, nil
}

// cookieServer is the server cookie maker of cfg, with random as the
// secret when the settings name none; nil when cookies are off.
func cookieServer(cfg serveConfig, random cookie.Secret) *cookie.Server {
	if !cfg.ServerCookies {
		return nil
	}
	secrets := cfg.cookieSecrets
	if len(secrets) == 0 {
		secrets = []cookie.Secret{random}
	}
	return cookie.NewServer(secrets[0], secrets[1:]...)
}

// clientRate is the UDP rate limit per client network cfg asks for, 0
// when off.
func clientRate(cfg *serveConfig) float64 {
	return effectiveRate(cfg.RateLimit, cfg.AllowClient, defaultPublicRateLimit)
}

// clientLimiter is the UDP rate limiter of cfg, nil when off.
func clientLimiter(cfg serveConfig) (*ratelimit.Clients, error) {
	qps := clientRate(&cfg)
	if qps <= 0 {
		return nil, nil
	}
	c, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: qps})
	if err != nil {
		return nil, fmt.Errorf("rate-limit: %w", err)
	}
	return c, nil
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
