package resolver

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestJoinAsked checks that a server being asked the same question
// already goes first, whatever its place in the order, and that
// nothing else changes.
func TestJoinAsked(t *testing.T) {
	a := []netip.Addr{
		netip.MustParseAddr("127.53.0.1"),
		netip.MustParseAddr("127.53.0.2"),
		netip.MustParseAddr("127.53.0.3"),
	}
	for _, tc := range []struct {
		name    string
		running []exKey
		want    []netip.Addr
	}{
		{"none running", nil, a},
		{"first running", []exKey{{a[0], "www.example.", dns.TypeA}}, a},
		{"third running", []exKey{{a[2], "www.example.", dns.TypeA}}, []netip.Addr{a[2], a[0], a[1]}},
		{"other question", []exKey{{a[2], "www.example.", dns.TypeAAAA}, {a[1], "example.", dns.TypeA}}, a},
		{"two running: the earlier in order", []exKey{{a[2], "www.example.", dns.TypeA}, {a[1], "www.example.", dns.TypeA}}, []netip.Addr{a[1], a[0], a[2]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Resolver{}
			release := make(chan struct{})
			started := make(chan struct{})
			done := make(chan struct{})
			for _, k := range tc.running {
				go func() {
					defer func() { done <- struct{}{} }()
					_, _, _ = r.exflights.do(context.Background(), k, func() (*dns.Msg, error) {
						started <- struct{}{}
						<-release
						return nil, nil
					})
				}()
				<-started
			}
			got := r.joinAsked(slices.Clone(a), "WWW.Example.", dns.TypeA)
			close(release)
			for range tc.running {
				<-done
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
