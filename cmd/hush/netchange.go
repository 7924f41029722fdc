package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hush-dns/hush/netwatch"
)

// connResetter is what a forwarder's pool offers to drop its upstream
// connections and failure memory (upstream.Pool does).
type connResetter interface{ ResetConnections() }

// forgetNetwork is what a change of network makes hush forget: which
// servers were fast, slow, lame or down (the resolver's infra state), the
// client cookies it gave authorities (resolver.NetworkChanged), and the
// forwarders' connections and hold-downs, all tied to a network the
// machine may no longer be on. The cache stays: answers do not depend on
// the network they came over.
func forgetNetwork(s *stage) {
	s.res.NetworkChanged()
	for _, c := range s.closers {
		if r, ok := c.(connResetter); ok {
			r.ResetConnections()
		}
	}
}

// watchNetwork runs netwatch.Watch for the life of ctx, applying
// forgetNetwork to the current stage after each change of addresses or
// routes. Where that cannot be watched it says so once, unless the system
// has no such thing (not Linux). The returned function stops it and waits.
func watchNetwork(ctx context.Context, current func() *stage, stderr io.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := netwatch.Watch(ctx, 0, 0, func() {
			forgetNetwork(current())
			fmt.Fprintln(stderr, "hush: network changed: server statistics, cookies and upstream connections forgotten")
		})
		if err != nil && ctx.Err() == nil && !errors.Is(err, netwatch.ErrUnsupported) {
			fmt.Fprintf(stderr, "hush: not watching for network changes: %v\n", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
