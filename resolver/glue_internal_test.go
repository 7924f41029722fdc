package resolver

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestKeepGlueTTLClamp: parent-side glue lives no longer than the cache
// would keep it (24 h), a TTL with the top bit set counts as zero (RFC
// 2181 §8) and is not kept, and the lowest TTL of the set decides.
func TestKeepGlueTTLClamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		ttls []uint32
		want time.Duration // 0: not kept
	}{
		{"ordinary", []uint32{3600}, time.Hour},
		{"lowest of the set", []uint32{7200, 600}, 10 * time.Minute},
		{"above a day", []uint32{7 * 86400}, day},
		{"largest positive", []uint32{math.MaxInt32}, day},
		{"top bit set", []uint32{math.MaxInt32 + 1}, 0},
		{"all ones", []uint32{math.MaxUint32}, 0},
		{"top bit set beside a sane one", []uint32{3600, math.MaxUint32}, 0},
		{"zero", []uint32{0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(Config{RootHints: []dns.RR{glueRR(t, ". 3600 IN NS a.root."), glueRR(t, "a.root. 3600 IN A 127.0.0.1")}})
			if err != nil {
				t.Fatal(err)
			}
			var set []dns.RR
			for i, ttl := range tc.ttls {
				rr := glueRR(t, fmt.Sprintf("ns.example. 1 IN A 192.0.2.%d", i+1))
				rr.Header().Ttl = ttl
				set = append(set, rr)
			}
			r.keepGlue(set, now)
			e, ok := r.glue.Get("ns.example.")
			if tc.want == 0 {
				if ok {
					t.Fatalf("kept until %v, want not kept", e.expires)
				}
				return
			}
			if !ok {
				t.Fatal("not kept")
			}
			if got := e.expires.Sub(now); got != tc.want {
				t.Errorf("kept for %v, want %v", got, tc.want)
			}
			if len(e.addrs) != len(tc.ttls) || e.addrs[0] != netip.MustParseAddr("192.0.2.1") {
				t.Errorf("addrs %v", e.addrs)
			}
		})
	}
}

func glueRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}
