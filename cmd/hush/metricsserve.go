package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/hush-dns/hush/metrics"
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

// metricsServer is the --metrics-listen listener.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// startMetrics listens on u and serves h there until stop.
func startMetrics(ctx context.Context, u metricsURL, h http.Handler, stderr io.Writer) (*metricsServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", u.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("metrics-listen %s: %w", u, err)
	}
	s := &metricsServer{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    8 << 10,
		},
		done: make(chan error, 1),
	}
	// Scrapers' connection errors would name their addresses; hush logs
	// no client address, so net/http's error log goes nowhere.
	s.srv.ErrorLog = discardLogger()
	go func() { s.done <- s.srv.Serve(ln) }()
	fmt.Fprintf(stderr, "hush: serving metrics on http://%s%s and %s\n", ln.Addr(), u.Path, metrics.HealthPath)
	return s, nil
}

// stop shuts the listener down, letting scrapes in progress finish until
// ctx is done.
func (s *metricsServer) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
