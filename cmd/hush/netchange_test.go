package main

import (
	"io"
	"testing"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
)

type fakePool struct{ resets int }

func (f *fakePool) ResetConnections() { f.resets++ }
func (f *fakePool) Close() error      { return nil }

// TestForgetNetwork: a network change reaches the current resolver and
// every forwarder pool that can drop its connections.
func TestForgetNetwork(t *testing.T) {
	n, err := resolvertest.Default()
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{RootHints: n.RootHints(), Exchanger: n.Exchanger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := &fakePool{}, &fakePool{}
	forgetNetwork(&stage{res: r, closers: []io.Closer{p1, io.NopCloser(nil), p2}})
	if p1.resets != 1 || p2.resets != 1 {
		t.Errorf("resets %d and %d, want 1 each", p1.resets, p2.resets)
	}
}
