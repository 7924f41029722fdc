package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/hush-dns/hush/transport"
)

// runDemo runs hush demo: the simulated internet of resolver/resolvertest,
// in-process, and a resolver that reaches only it, on a free loopback
// port. Nothing leaves the process but the answers to the local client.
func runDemo(ctx context.Context, stdout, stderr io.Writer) error {
	n, err := resolvertest.Default()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	r, err := resolver.New(resolver.Config{
		RootHints:     n.RootHints(),
		Exchanger:     n, // in-process: refuses anything outside 127.0.0.0/8
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Cache:         cache.New(cache.Config{MaxEntries: 10_000}),
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
	return serveSockets(ctx, socks, transport.Config{Handler: r}, stderr)
}

func printDemo(w io.Writer, zones int, port uint16) {
	fmt.Fprintf(w, "hush demo: a simulated internet of %d zones (in-process, on 127.53.0.0/16) and a resolver on dns://127.0.0.1:%d\n", zones, port)
	fmt.Fprintf(w, "It touches neither your system's DNS nor the internet. Try, in another terminal:\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range []struct{ cmd, what string }{
		{"dig @127.0.0.1 -p %d www.plain.example A", "an address"},
		{"dig @127.0.0.1 -p %d plain.example MX", "mail servers"},
		{"dig @127.0.0.1 -p %d a.chain.example A", "a CNAME chain across three zones"},
		{"dig @127.0.0.1 -p %d www.glueless.example A", "a delegation without glue"},
		{"dig @127.0.0.1 -p %d anything.wild.example A", "a wildcard"},
		{"dig @127.0.0.1 -p %d nope.plain.example A", "NXDOMAIN, with the SOA"},
		{"dig @127.0.0.1 -p %d www.plain.example MX", "NODATA"},
		{"dig @127.0.0.1 -p %d txt.big.example TXT", "an answer too big for UDP (dig retries over TCP)"},
		{"dig @127.0.0.1 -p %d www.lame.example A", "a lame delegation: SERVFAIL with EDE 22"},
		{"hush query --server dns://127.0.0.1:%d a.chain.example A", "the same, with hush's own client"},
	} {
		fmt.Fprintf(tw, "  "+c.cmd+"\t# %s\n", port, c.what)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}
