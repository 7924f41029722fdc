package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/transport"
)

// metricsURL is where --metrics-listen serves: plain HTTP on its own
// address, never a DoH listener's (the exposition is for the operator's
// scraper, not for DNS clients).
type metricsURL struct {
	Addr netip.AddrPort
	Path string
}

func (u metricsURL) String() string { return "http://" + u.Addr.String() + u.Path }

// parseMetricsURL parses http://ADDR:PORT/PATH; the path defaults to
// /metrics and may not be the health check's.
func parseMetricsURL(s string) (metricsURL, error) {
	if !transport.HTTP {
		return metricsURL{}, errNoMetricsListener
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return metricsURL{}, errors.New("want http://ADDR:PORT/PATH (an IP address, IPv6 in brackets)")
	}
	host, port := u.Hostname(), u.Port()
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return metricsURL{}, fmt.Errorf("%q is not an IP address", host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return metricsURL{}, errors.New("want a port from 1 to 65535")
	}
	path := u.Path
	if path == "" || path == "/" {
		path = "/metrics"
	}
	if path == metrics.HealthPath {
		return metricsURL{}, fmt.Errorf("path %s is the health check's", metrics.HealthPath)
	}
	return metricsURL{Addr: netip.AddrPortFrom(a, uint16(p)), Path: path}, nil
}
