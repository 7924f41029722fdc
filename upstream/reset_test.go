package upstream

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// resettable is a fake that counts ResetConnections calls.
type resettable struct {
	fake
	resets int
}

func (r *resettable) ResetConnections() { r.resets++ }

// TestPoolResetConnections: after a network change the pool forgets that
// an upstream failed (it is asked first again, not after the others) and
// has its upstreams drop their connections.
func TestPoolResetConnections(t *testing.T) {
	a := &resettable{fake: fake{name: "a", err: errors.New("unreachable from this network")}}
	b := &fake{name: "b"}
	p, err := NewPool([]Upstream{a, b}, Strict, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exchange(context.Background(), query("example.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	a.err = nil // the new network reaches it
	calls := a.calls.Load()
	if _, err := p.Exchange(context.Background(), query("example.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != calls {
		t.Fatalf("a was asked while held down")
	}
	p.ResetConnections()
	if a.resets != 1 {
		t.Errorf("a reset %d times, want 1", a.resets)
	}
	if _, err := p.Exchange(context.Background(), query("example.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != calls+1 {
		t.Errorf("after the reset a was asked %d more times, want 1 (first, no hold-down)", a.calls.Load()-calls)
	}
}

// TestUpstreamResetConnections: after ResetConnections each encrypted
// upstream answers on a new connection, resuming its TLS session.
func TestUpstreamResetConnections(t *testing.T) {
	z := &zone{}
	c := newCert(t, "upstream.test")
	for name, raw := range peers(t, z, c) {
		if name == "dns" || name == "bare" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			u := mustUp(t, raw, Options{RootCAs: c.pool})
			if _, err := ask(t, u, "www.test"); err != nil {
				t.Fatal(err)
			}
			before := u.(StatsReporter).Stats().Dials
			u.(interface{ ResetConnections() }).ResetConnections()
			if _, err := ask(t, u, "www.test"); err != nil {
				t.Fatalf("after the reset: %v", err)
			}
			if after := u.(StatsReporter).Stats().Dials; after <= before {
				t.Errorf("dials: %d before the reset, %d after; want a new connection", before, after)
			}
		})
	}
}
