package cache

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkShardedGetParallel reads a full Sharded from every P, nine reads
// in ten hitting.
func BenchmarkShardedGetParallel(b *testing.B) {
	const n = 100_000
	s := NewSharded[uint64, uint64](n, 0, mix64)
	for i := range uint64(n) {
		s.Add(i, i)
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine walks its own pseudo-random sequence over keys
		// 0 … n·10/9, so about 90% are present.
		x := seq.Add(1) * 0x9e3779b97f4a7c15
		var hits int
		for pb.Next() {
			x++
			k := mix64(x) % (n * 10 / 9)
			if _, ok := s.Get(k); ok {
				hits++
			}
		}
		_ = hits
	})
}

// benchCache returns a Cache holding answers for names[i], an A answer with
// an authority NS and glue, DO set and an OPT record.
func benchCache(b *testing.B, n int) (*Cache, []Key) {
	b.Helper()
	c := New(Config{})
	keys := make([]Key, n)
	for i := range keys {
		name := fmt.Sprintf("host%d.example.com.", i)
		m := answer{
			Answer: []string{name + " 3600 IN A 192.0.2.1", name + " 3600 IN A 192.0.2.2"},
			Ns:     []string{"example.com. 3600 IN NS ns1.example.com."},
			Extra:  []string{"ns1.example.com. 3600 IN A 192.0.2.53"},
		}.msg(b, name, dns.TypeA)
		m.SetEdns0(1232, true)
		keys[i] = NewKey(name, dns.TypeA, dns.ClassINET, true, false)
		c.SetMsg(keys[i], m, Meta{Rank: RankAnswer}, t0)
	}
	return c, keys
}

func BenchmarkCacheGetMsg(b *testing.B) {
	c, keys := benchCache(b, 1000)
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, ok := c.GetMsg(keys[i%len(keys)], now); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkCacheAppendMsgParallel(b *testing.B) {
	c, keys := benchCache(b, 10_000)
	now := t0.Add(time.Minute)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 1232)
		x := seq.Add(1) * 0x9e3779b97f4a7c15
		for pb.Next() {
			x++
			var ok bool
			buf, _, ok = c.AppendMsg(buf[:0], keys[mix64(x)%uint64(len(keys))], uint16(x), now)
			if !ok {
				b.Error("miss")
				return
			}
		}
	})
}

func BenchmarkCacheSetMsg(b *testing.B) {
	c := New(Config{})
	m := positive.msg(b, www, dns.TypeA)
	k := NewKey(www, dns.TypeA, dns.ClassINET, false, false)
	b.ReportAllocs()
	for b.Loop() {
		c.SetMsg(k, m, Meta{}, t0)
	}
}
