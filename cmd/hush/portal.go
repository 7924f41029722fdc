package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/control"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/upstream"
	"github.com/miekg/dns"
)

// A captive-portal window (hush ctl portal open): for a few minutes, the
// names the user chose (or every name) go to the network's own resolver,
// the one its DHCP gave, so that a hotel's or café's login page can be
// reached while the portal blocks the root and encrypted DNS. Outside a
// window hush never asks that resolver.
//
// During the window the stage is rebuilt from the configuration with:
// the window's zones forwarded to the resolver (for an every-name window,
// the root: --forward replaced, while configured forward and stub zones
// below it stay; a window zone replaces a forward or stub zone of the same
// name), validation off below them (a portal answers what it likes, and
// the clock may be wrong too), rebinding protection off for them (portals
// live on private addresses), and a cache of the window's own, dropped
// when it closes, so nothing the portal said outlives the window. A flush
// during the window reaches the main cache too (mainCacheToo). When it ends
// (after its duration, by hush ctl portal close, or by a second open that
// replaces it) the stage is rebuilt from the configuration and the main
// cache, untouched by the window.

// portalCacheBytes bounds the window's cache: a login needs a few names.
const portalCacheBytes = 4 << 20

// portalWindow is an open window; opsRuntime.portal holds it, guarded by
// opsRuntime.mu.
type portalWindow struct {
	control.Portal
	cache *cache.Cache
	timer *time.Timer
}

// apply returns cfg as the window changes it.
func (w *portalWindow) apply(cfg serveConfig) serveConfig {
	c := cfg
	spec := upstream.Spec{Scheme: "dns", Addr: w.Resolver}
	zones := w.Zones
	if len(zones) == 0 {
		zones = []string{"."}
	}
	c.ForwardZones = slices.DeleteFunc(slices.Clone(cfg.ForwardZones), func(z zoneUpstreams) bool {
		return slices.Contains(zones, dns.CanonicalName(z.Zone))
	})
	c.StubZones = slices.DeleteFunc(slices.Clone(cfg.StubZones), func(z resolver.StubZone) bool {
		return slices.Contains(zones, dns.CanonicalName(z.Zone))
	})
	c.InsecureDomains = slices.Clone(cfg.InsecureDomains)
	c.PrivateDomains = slices.Clone(cfg.PrivateDomains)
	for _, z := range zones {
		if z == "." {
			c.Forward = []upstream.Spec{spec}
			c.PrivateAddresses = nil
		} else {
			c.ForwardZones = append(c.ForwardZones, zoneUpstreams{Zone: z, Upstream: []upstream.Spec{spec}})
			c.PrivateDomains = append(c.PrivateDomains, z)
		}
		c.InsecureDomains = append(c.InsecureDomains, dnssec.NTA{Name: z, Expires: w.Until})
	}
	// The resolver needs no allow-upstream entry: forwarders are the
	// operator's choice, and one would also let delegations in the
	// window's other names lead to it.
	return c
}

// mainCacheToo applies f to the main cache when a window is open: the
// stage's resolver then runs over the window's cache, and a flush that
// reached only that one would leave in the main cache what comes back
// when the window closes (an answer a new trust anchor makes Bogus).
// o.mu must be held.
func (o *opsRuntime) mainCacheToo(f func(c *cache.Cache)) {
	if o.portal != nil {
		f(o.cache)
	}
}

// build is newResolver for cfg, through the open window if there is
// one (then over the window's cache instead of c). o.mu must be held.
func (o *opsRuntime) build(cfg serveConfig, ntas []dnssec.NTA, c *cache.Cache) (*resolver.Resolver, []io.Closer, error) {
	if w := o.portal; w != nil {
		return o.newResolver(w.apply(cfg), ntas, w.cache)
	}
	return o.newResolver(cfg, ntas, c)
}

// PortalOpen implements control.Backend.
func (o *opsRuntime) PortalOpen(_ context.Context, p control.Portal) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.cfg.Listen {
		a := l.Addr.Addr().Unmap()
		if l.Scheme == "dns" && l.Addr.Port() == p.Resolver.Port() && (a == p.Resolver.Addr() || a.IsUnspecified()) {
			return fmt.Errorf("portal resolver %s is hush's own listener", p.Resolver)
		}
	}
	old := o.portal
	w := &portalWindow{Portal: p, cache: cache.New(cache.Config{MaxBytes: portalCacheBytes})}
	o.portal = w
	if err := o.rebuildLocked(); err != nil {
		o.portal = old
		return err
	}
	if old != nil {
		old.timer.Stop()
	}
	w.timer = time.AfterFunc(time.Until(p.Until), func() { o.portalExpired(w) })
	what := "every name"
	if len(p.Zones) > 0 {
		what = "the zones given"
	}
	o.logf(logWarn, "hush: captive-portal window open until %s: %s to the network's resolver %s, unvalidated",
		p.Until.UTC().Format(time.RFC3339), what, p.Resolver)
	return nil
}

// PortalClose implements control.Backend.
func (o *opsRuntime) PortalClose(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closePortalLocked()
}

// portalExpired closes w when its time is up, unless it was closed or
// replaced already.
func (o *opsRuntime) portalExpired(w *portalWindow) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.portal != w {
		return
	}
	if err := o.closePortalLocked(); err != nil {
		// The window must not outlive its bound: try again shortly.
		o.logf(logError, "hush: captive-portal window not closed, trying again in 5s: %s", oneLine(err.Error()))
		w.timer = time.AfterFunc(5*time.Second, func() { o.portalExpired(w) })
	}
}

func (o *opsRuntime) closePortalLocked() error {
	w := o.portal
	if w == nil {
		return nil
	}
	o.portal = nil
	if err := o.rebuildLocked(); err != nil {
		// The configuration built before and has not changed; should it
		// fail now, the window stays rather than leaving no resolver.
		o.portal = w
		return err
	}
	w.timer.Stop()
	o.logf(logWarn, "hush: captive-portal window closed")
	return nil
}

// rebuildLocked swaps in a stage built from the configuration in force,
// through the window if one is open.
func (o *opsRuntime) rebuildLocked() error {
	res, closers, err := o.build(o.cfg, o.ntas, o.cache)
	if err != nil {
		return err
	}
	o.retire(o.live.swap(&stage{policy: o.live.stage().policy, res: res, closers: closers}), o.cfg.Timeout)
	return nil
}

// portalUntil is when the open window closes; zero when none is.
func (o *opsRuntime) portalUntil() time.Time {
	if o.portal == nil {
		return time.Time{}
	}
	return o.portal.Until
}
