//go:build !nodemo

package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/metrics"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/hush-dns/hush/transport"
)

// demoBuilt: this build has hush demo (see demo_off.go).
const demoBuilt = true

// runDemo runs hush demo: the simulated internet of resolver/resolvertest,
// in-process, and a resolver that reaches only it, on a free loopback
// port. Nothing leaves the process but the answers to the local client.
func runDemo(ctx context.Context, stdout, stderr io.Writer) error {
	silenceLibraryLogs(stderr)
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			return fmt.Errorf("demo: trust anchor: %w", err)
		}
	}
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n, // in-process: refuses anything outside 127.0.0.0/8
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Cache:         cache.New(cache.Config{MaxEntries: 10_000}),
		DNSSEC:        true,
		TrustAnchors:  anchors,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	socks, err := openSockets(ctx, []listenURL{{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:0")}})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer socks.Close()
	port := netip.MustParseAddrPort(socks.TCP[0].Addr().String()).Port()
	printDemo(stdout, len(n.Zones()), port)
	return serveSockets(ctx, socks, transport.Config{}, nil, serveHooks{handler: resolverOnly(r)}, stderr)
}

func printDemo(w io.Writer, zones int, port uint16) {
	fmt.Fprintf(w, "hush demo: a simulated, DNSSEC-signed internet of %d zones (in-process, on 127.53.0.0/16) and a validating resolver on dns://127.0.0.1:%d\n", zones, port)
	fmt.Fprintf(w, "It touches neither your system's DNS nor the internet. Try, in another terminal:\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range []struct{ cmd, what string }{
		{"dig @127.0.0.1 -p %d +dnssec www.alg13.sec A", "a signed zone (ECDSA P-256): flags show ad"},
		{"dig @127.0.0.1 -p %d +dnssec www.alg15.sec A", "signed with Ed25519: ad"},
		{"dig @127.0.0.1 -p %d +dnssec nx.alg8.sec A", "NXDOMAIN proven by NSEC: ad"},
		{"dig @127.0.0.1 -p %d +dnssec x.ent.nsec3.sec A", "NXDOMAIN proven by NSEC3: ad"},
		{"dig @127.0.0.1 -p %d +dnssec x.wild.sec A", "a wildcard answer with its proof: ad"},
		{"dig @127.0.0.1 -p %d +dnssec www.insecure.sec A", "an unsigned zone (insecure delegation): no ad"},
		{"dig @127.0.0.1 -p %d +dnssec to-insecure.cname.sec A", "a signed CNAME into an unsigned zone: no ad"},
		{"dig @127.0.0.1 -p %d +dnssec www.expired.broken A", "expired signatures: SERVFAIL, EDE 7"},
		{"dig @127.0.0.1 -p %d +dnssec www.dsmismatch.broken A", "DS matches no key: SERVFAIL, EDE 9"},
		{"dig @127.0.0.1 -p %d +dnssec +cd www.expired.broken A", "the same with checking disabled: the data, no ad"},
		{"hush query --server dns://127.0.0.1:%d --dnssec www.alg13.sec A", "the same, with hush's own client"},
	} {
		fmt.Fprintf(tw, "  "+c.cmd+"\t# %s\n", port, c.what)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}

// resolverOnly gives every listener the resolver itself: no policy, no
// counting (hush demo).
func resolverOnly(h transport.Handler) func(metrics.Transport) transport.Handler {
	return func(metrics.Transport) transport.Handler { return h }
}
