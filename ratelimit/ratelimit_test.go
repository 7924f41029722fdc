package ratelimit

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Now()

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func mustClients(t testing.TB, cfg ClientConfig) *Clients {
	t.Helper()
	c, err := NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientsBucket plays sequences of queries at given times (ms after
// t0) and checks each verdict.
func TestClientsBucket(t *testing.T) {
	type q struct {
		ms     int
		client string
		want   Verdict
	}
	for _, tc := range []struct {
		name string
		cfg  ClientConfig
		qs   []q
	}{
		{"burst then refill", ClientConfig{QPS: 10, Burst: 2, Slip: -1}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.1", Allow}, {0, "192.0.2.1", Drop},
			{99, "192.0.2.1", Drop}, {100, "192.0.2.1", Allow}, {100, "192.0.2.1", Drop},
			{400, "192.0.2.1", Allow}, {400, "192.0.2.1", Allow}, {400, "192.0.2.1", Drop},
		}},
		{"a /24 is one client", ClientConfig{QPS: 1, Burst: 1, Slip: -1}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.200", Drop}, {0, "::ffff:192.0.2.9", Drop},
			{0, "192.0.3.1", Allow},
		}},
		{"a /56 is one client", ClientConfig{QPS: 1, Burst: 1, Slip: -1}, []q{
			{0, "2001:db8:0:1::1", Allow}, {0, "2001:db8:0:ff:ffff::1", Drop},
			{0, "2001:db8:0:100::1", Allow}, {0, "::1", Allow}, {0, "::2", Drop},
		}},
		{"/32 and /48 when configured", ClientConfig{QPS: 1, Burst: 1, Slip: -1, IPv4Prefix: 32, IPv6Prefix: 48}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.2", Allow}, {0, "192.0.2.2", Drop},
			{0, "2001:db8:0:1::1", Allow}, {0, "2001:db8:0:2::1", Drop},
		}},
		{"slip 2: every other over-limit answer truncated", ClientConfig{QPS: 1, Burst: 1, Slip: 2}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.1", Drop}, {0, "192.0.2.1", Slip},
			{0, "192.0.2.1", Drop}, {0, "192.0.2.1", Slip},
		}},
		{"slip 1: all truncated", ClientConfig{QPS: 1, Burst: 1, Slip: 1}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.1", Slip}, {0, "192.0.2.1", Slip},
		}},
		{"slip 3", ClientConfig{QPS: 1, Burst: 1, Slip: 3}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.1", Drop}, {0, "192.0.2.1", Drop}, {0, "192.0.2.1", Slip},
		}},
		{"default burst is QPS", ClientConfig{QPS: 3, Slip: -1}, []q{
			{0, "192.0.2.1", Allow}, {0, "192.0.2.1", Allow}, {0, "192.0.2.1", Allow}, {0, "192.0.2.1", Drop},
		}},
		{"fractional rate", ClientConfig{QPS: 0.5, Burst: 1, Slip: -1}, []q{
			{0, "192.0.2.1", Allow}, {1999, "192.0.2.1", Drop}, {2000, "192.0.2.1", Allow},
		}},
		{"time going back does not refill", ClientConfig{QPS: 1, Burst: 1, Slip: -1}, []q{
			{1000, "192.0.2.1", Allow}, {0, "192.0.2.1", Drop}, {1500, "192.0.2.1", Drop}, {2000, "192.0.2.1", Allow},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustClients(t, tc.cfg)
			for i, q := range tc.qs {
				if got := c.Check(netip.MustParseAddr(q.client), at(q.ms)); got != q.want {
					t.Fatalf("query %d (%s at %d ms) = %v; want %v", i, q.client, q.ms, got, q.want)
				}
			}
		})
	}
}

func TestNewClientsConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg ClientConfig
		ok  bool
	}{
		{ClientConfig{QPS: 1}, true},
		{ClientConfig{}, false},
		{ClientConfig{QPS: -1}, false},
		{ClientConfig{QPS: 1, IPv4Prefix: 33}, false},
		{ClientConfig{QPS: 1, IPv6Prefix: 64}, false},
		{ClientConfig{QPS: 1, Burst: -1}, false},
	} {
		if _, err := NewClients(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("NewClients(%+v) error %v; want ok %t", tc.cfg, err, tc.ok)
		}
	}
}

// TestClientsBounded: the table does not grow with the number of
// clients, and a flood of fresh (spoofed) networks cannot evict a
// network that is over its limit.
func TestClientsBounded(t *testing.T) {
	c := mustClients(t, ClientConfig{QPS: 1, Burst: 5, Slip: -1, Entries: 4096})
	if got, want := c.Bytes(), 4096*entrySize; got != want {
		t.Fatalf("Bytes = %d; want %d", got, want)
	}
	attacker := netip.MustParseAddr("198.51.100.7")
	for c.Check(attacker, at(0)) == Allow {
	}
	for i := range 100000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), 1})
		c.Check(a, at(1))
	}
	if got := c.Check(attacker, at(2)); got != Drop {
		t.Errorf("the limited network after a churn of 100000 others: %v; want drop", got)
	}
	if got, want := c.Bytes(), 4096*entrySize; got != want {
		t.Errorf("Bytes after the churn = %d; want %d", got, want)
	}
}

func TestClientsAllocs(t *testing.T) {
	c := mustClients(t, ClientConfig{QPS: 100})
	a4 := netip.MustParseAddr("192.0.2.1")
	a6 := netip.MustParseAddr("2001:db8::1")
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() {
		c.Check(a4, now)
		c.Check(a6, now)
	}); n != 0 {
		t.Errorf("Check allocates %v times; want 0", n)
	}
}

func TestClientsConcurrent(t *testing.T) {
	// 4 goroutines share one /24 with burst 1000 and no refill in the
	// test's time: exactly 1000 are allowed.
	c := mustClients(t, ClientConfig{QPS: 0.001, Burst: 1000, Slip: -1})
	var allowed atomic.Int64
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				if c.Check(netip.AddrFrom4([4]byte{192, 0, 2, byte(g*50 + i%50)}), at(0)) == Allow {
					allowed.Add(1)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if got := allowed.Load(); got != 1000 {
		t.Errorf("allowed %d of 2000; want 1000", got)
	}
}

// FuzzClientKey: two addresses share a bucket exactly when they are in
// the same configured network.
func FuzzClientKey(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1}, []byte{192, 0, 2, 200})
	f.Add(make([]byte, 16), []byte{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, []byte{1, 2, 3, 5})
	c := mustClients(f, ClientConfig{QPS: 1, Entries: 64})
	f.Fuzz(func(t *testing.T, x, y []byte) {
		a, ok1 := netip.AddrFromSlice(x)
		b, ok2 := netip.AddrFromSlice(y)
		if !ok1 || !ok2 {
			return
		}
		if c.key(a) == 0 || c.key(b) == 0 {
			t.Fatal("key 0 marks an empty slot")
		}
		a, b = a.Unmap(), b.Unmap()
		same := false
		if a.Is4() == b.Is4() {
			bits := 24
			if a.Is6() {
				bits = 56
			}
			pa, _ := a.Prefix(bits)
			pb, _ := b.Prefix(bits)
			same = pa == pb
		}
		// ::/56 and 0:0:0:2::/63 share a bucket on purpose.
		zeroish := func(x netip.Addr) bool {
			p, _ := x.Prefix(55)
			return x.Is6() && p.Addr().As16()[6] == 0 && p == netip.MustParsePrefix("::/55")
		}
		if (c.key(a) == c.key(b)) != same && !(zeroish(a) && zeroish(b)) {
			t.Fatalf("%v and %v: same key %t; want %t", a, b, c.key(a) == c.key(b), same)
		}
	})
}

func BenchmarkClientsCheck(b *testing.B) {
	c := mustClients(b, ClientConfig{QPS: 1e9})
	now := time.Now()
	b.ReportAllocs()
	var n atomic.Uint32
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1) << 16
		for pb.Next() {
			i++
			c.Check(netip.AddrFrom4([4]byte{10, byte(i >> 24), byte(i >> 16), byte(i >> 8)}), now)
		}
	})
}

func TestZones(t *testing.T) {
	type q struct {
		ms   int
		zone string
		want bool
	}
	for _, tc := range []struct {
		name string
		cfg  ZoneConfig
		qs   []q
	}{
		{"limit per zone, case and final dot ignored", ZoneConfig{QPS: 2, Factor: -1}, []q{
			{0, "example.com.", true}, {0, "EXAMPLE.com", true}, {0, "example.COM.", false},
			{0, "example.net.", true}, {500, "example.com.", true}, {500, "example.com.", false},
		}},
		{"factor lets every Nth through", ZoneConfig{QPS: 1, Factor: 3}, []q{
			{0, "a.", true}, {0, "a.", false}, {0, "a.", false}, {0, "a.", true}, {0, "a.", false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, err := NewZones(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, q := range tc.qs {
				if got := z.Allow(q.zone, at(q.ms)); got != q.want {
					t.Fatalf("query %d (%s at %d ms) = %t; want %t", i, q.zone, q.ms, got, q.want)
				}
			}
		})
	}
	if _, err := NewZones(ZoneConfig{}); err == nil {
		t.Error("NewZones without a rate succeeded")
	}
}

func TestZonesAllocs(t *testing.T) {
	z, err := NewZones(ZoneConfig{QPS: 100})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() { z.Allow("Example.COM.", now) }); n != 0 {
		t.Errorf("Allow allocates %v times; want 0", n)
	}
}

func BenchmarkZonesAllow(b *testing.B) {
	z, err := NewZones(ZoneConfig{QPS: 1e9})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			z.Allow("random-subdomain-target.example.", now)
		}
	})
}
