package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

// hintAddr is the address of an A or AAAA record of the root hints,
// IPv4-mapped addresses unmapped; false for any other record.
func hintAddr(rr dns.RR) (netip.Addr, bool) {
	var ip net.IP
	switch rr := rr.(type) {
	case *dns.A:
		ip = rr.A
	case *dns.AAAA:
		ip = rr.AAAA
	default:
		return netip.Addr{}, false
	}
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}

// blockedHints returns the root servers' addresses in hints that hush will
// not query: loopback or private ones that allow does not cover. Without a
// warning, every query then fails with EDE 22 and nothing says why.
func blockedHints(hints []dns.RR, allow []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, rr := range hints {
		a, ok := hintAddr(rr)
		if !ok {
			continue
		}
		if resolver.IsPublic(a) || slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// hintsWarning is the one-line start-up warning for root hints hush will
// not query, or "" when there is nothing to say: the root is forwarded,
// or every root server may be asked.
func hintsWarning(cfg serveConfig) string {
	if len(cfg.Forward) > 0 || slices.ContainsFunc(cfg.ForwardZones, func(z zoneUpstreams) bool { return dns.CanonicalName(dns.Fqdn(z.Zone)) == "." }) {
		return ""
	}
	hints := cfg.hints
	if hints == nil {
		hints = resolver.DefaultRootHints()
	}
	blocked := blockedHints(hints, cfg.AllowUpstream)
	if len(blocked) == 0 {
		return ""
	}
	all := len(blocked) == countHintAddrs(hints)
	names := make([]string, 0, 3)
	suggest := make([]string, 0, 3)
	for i, a := range blocked {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(blocked)-3))
			break
		}
		names = append(names, a.String())
		suggest = append(suggest, "--allow-upstream "+netip.PrefixFrom(a, a.BitLen()).String())
	}
	effect := "those servers are never queried"
	if all {
		effect = "every query will fail with EDE 22 (No Reachable Authority)"
	}
	return fmt.Sprintf("hush: warning: the root hints name loopback or private addresses that --allow-upstream does not cover (%s): %s; add %s",
		strings.Join(names, ", "), effect, strings.Join(suggest, " "))
}

// countHintAddrs counts the distinct addresses in hints.
func countHintAddrs(hints []dns.RR) int {
	var seen []netip.Addr
	for _, rr := range hints {
		if a, ok := hintAddr(rr); ok && !slices.Contains(seen, a) {
			seen = append(seen, a)
		}
	}
	return len(seen)
}

// unreachableAfter is how long every upstream query must have failed
// before hush says so, and the least time between two such lines.
const unreachableAfter = 30 * time.Second

// upstreamHealth follows whether any upstream (authoritative server or
// forwarder) answers, so that a user can tell a dead network from a broken
// resolver. It keeps times and a class of error, never a server, a name or
// a client. Safe for concurrent use; the exchange path touches only
// atomics.
type upstreamHealth struct {
	t0  time.Time        // base of the times below (monotonic)
	now func() time.Time // time.Now unless a test drives it

	// Times are nanoseconds since t0, plus one so that 0 means never.
	lastOK       atomic.Int64
	failingSince atomic.Int64 // first failure since the last answer
	lastFail     atomic.Int64
	class        atomic.Int32 // failClass of the last failure

	// Touched by check only (one goroutine).
	warned     bool
	lastWarned int64
}

func newUpstreamHealth(now func() time.Time) *upstreamHealth {
	if now == nil {
		now = time.Now
	}
	return &upstreamHealth{t0: now(), now: now}
}

func (h *upstreamHealth) stamp() int64 { return int64(h.now().Sub(h.t0)) + 1 }

// observe records the outcome of one upstream query. A nil h records
// nothing.
func (h *upstreamHealth) observe(err error) {
	if h == nil {
		return
	}
	t := h.stamp()
	if err == nil {
		h.lastOK.Store(t)
		h.failingSince.Store(0)
		return
	}
	if errors.Is(err, context.Canceled) {
		// The client went away: says nothing about the network.
		return
	}
	h.class.Store(int32(classify(err)))
	h.lastFail.Store(t)
	h.failingSince.CompareAndSwap(0, t)
}

// check returns the line to print now, or "": "no upstream answered in
// the last 30 s" once every upstream query for that long has failed (and
// queries are still being tried), at most once per 30 s, and a line when
// upstreams answer again after that.
func (h *upstreamHealth) check() string {
	now := h.stamp()
	since := h.failingSince.Load()
	if since == 0 {
		if h.warned && h.lastOK.Load() != 0 {
			h.warned = false
			return "hush: upstreams answer again"
		}
		return ""
	}
	win := int64(unreachableAfter)
	if now-since < win || now-h.lastFail.Load() >= win {
		return ""
	}
	if h.lastOK.Load() > since || (h.warned && now-h.lastWarned < win) {
		return ""
	}
	h.warned, h.lastWarned = true, now
	return fmt.Sprintf("hush: no upstream answered in the last %d s: %s", int(unreachableAfter/time.Second), failClass(h.class.Load()))
}

// watch prints check's lines through logf every few seconds until ctx
// ends.
func (h *upstreamHealth) watch(ctx context.Context, logf func(string)) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if line := h.check(); line != "" {
				logf(line)
			}
		}
	}
}

// failClass says what kind of failure an upstream query met, in words
// that name no server.
type failClass int32

const (
	failOther failClass = iota
	failTimeout
	failNetUnreachable
	failHostUnreachable
	failRefused
	failCertificate
)

func (c failClass) String() string {
	switch c {
	case failTimeout:
		return "timed out"
	case failNetUnreachable:
		return "network unreachable"
	case failHostUnreachable:
		return "host unreachable"
	case failRefused:
		return "connection refused"
	case failCertificate:
		return "certificate not trusted"
	}
	return "errors"
}

func classify(err error) failClass {
	var (
		ne  net.Error
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		inv x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return failNetUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH):
		return failHostUnreachable
	case errors.Is(err, syscall.ECONNREFUSED):
		return failRefused
	case errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &inv):
		return failCertificate
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return failTimeout
	}
	return failOther
}
