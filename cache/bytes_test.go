package cache

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// bigTXT is an answer of 125 TXT strings of 255 octets, about 32 KB packed:
// the kind of answer an attacker serves from its own zone to fill caches.
func bigTXT(tb testing.TB, name string) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.Response = true
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 3600}}
	for i := range 125 {
		txt.Txt = append(txt.Txt, strings.Repeat(string(rune('a'+i%26)), 255))
	}
	m.Answer = []dns.RR{txt}
	return m
}

// TestByteBound: however large the answers, the cache holds no more bytes
// than MaxBytes, each entry counts at least its packed size, and the count
// matches what the entries present add up to.
func TestByteBound(t *testing.T) {
	const maxBytes = 1 << 20
	c := New(Config{MaxBytes: maxBytes})
	var wireLen int
	for i := range 200 {
		name := fmt.Sprintf("r%d.attacker.example.", i)
		m := bigTXT(t, name)
		if i == 0 {
			p, _ := m.Pack()
			wireLen = len(p)
		}
		c.SetMsg(NewKey(name, dns.TypeTXT, dns.ClassINET, true, false), m, Meta{}, t0)
		if got := c.Bytes(); got > maxBytes {
			t.Fatalf("after %d answers Bytes() = %d, want <= %d", i+1, got, maxBytes)
		}
	}
	n := c.Len()
	if n == 0 || n*wireLen > maxBytes {
		t.Fatalf("Len() = %d answers of %d bytes, want some, and no more than %d bytes' worth", n, wireLen, maxBytes)
	}
	// Every entry weighs the same here: the total is n of them, and each
	// counts its wire bytes and the overhead.
	if got, min := c.Bytes(), int64(n*(wireLen+EntryOverhead)); got < min {
		t.Errorf("Bytes() = %d for %d entries, want at least %d", got, n, min)
	}
	// The shards hold at least minShardBytes each, so the bound is used:
	// at most one large answer per shard is missing from a full cache.
	if shards := c.store.Shards(); int64(n+shards)*int64(wireLen+EntryOverhead) < maxBytes {
		t.Errorf("Len() = %d in %d shards: the cache holds far less than its bound", n, shards)
	}

	// RRsets count alike.
	before := c.Bytes()
	c.Purge()
	if got := c.Bytes(); got != 0 {
		t.Errorf("Bytes() after Purge = %d, want 0", got)
	}
	for i := range 200 {
		name := fmt.Sprintf("r%d.attacker.example.", i)
		c.SetRRset(bigTXT(t, name).Answer, Meta{}, t0)
	}
	if got := c.Bytes(); got > maxBytes || got < before/2 {
		t.Errorf("Bytes() with RRsets = %d, want at most %d and about %d", got, maxBytes, before)
	}
	got, _, ok := c.GetRRset("r199.attacker.example.", dns.TypeTXT, dns.ClassINET, t0)
	if !ok || len(got) != 1 || len(got[0].(*dns.TXT).Txt) != 125 {
		t.Errorf("GetRRset of the last large RRset = %v, %v; want it whole", len(got), ok)
	}
}

// TestByteBoundTooLarge: an answer larger than the whole cache is not
// stored, and takes nothing from what is.
func TestByteBoundTooLarge(t *testing.T) {
	c := New(Config{MaxBytes: 16 << 10})
	small := positive.msg(t, www, dns.TypeA)
	c.SetMsg(NewKey(www, dns.TypeA, dns.ClassINET, true, false), small, Meta{}, t0)
	big := bigTXT(t, "big.example.")
	k := NewKey("big.example.", dns.TypeTXT, dns.ClassINET, true, false)
	c.SetMsg(k, big, Meta{}, t0)
	if _, _, ok := c.GetMsg(k, t0); ok {
		t.Errorf("an answer larger than the cache was stored")
	}
	if _, _, ok := c.GetMsg(NewKey(www, dns.TypeA, dns.ClassINET, true, false), t0); !ok {
		t.Errorf("a too large answer evicted a small one")
	}
	if got := c.Bytes(); got > 16<<10 || got == 0 {
		t.Errorf("Bytes() = %d, want one small entry's worth", got)
	}
}

// TestBytesMatchHeap: what the cache counts is what it takes from the Go
// heap, within a margin, for small answers (where the fixed overhead
// dominates) and large ones.
func TestBytesMatchHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("fills caches to measure the heap")
	}
	for _, tt := range []struct {
		name string
		n    int
		msg  func(name string) *dns.Msg
	}{
		{"small", 20_000, func(name string) *dns.Msg {
			return answer{Answer: []string{name + " 300 IN A 192.0.2.1"}}.msg(t, name, dns.TypeA)
		}},
		{"signed", 5_000, func(name string) *dns.Msg {
			return answer{Answer: []string{name + " 300 IN A 192.0.2.1", strings.Replace(sigA, "www.example.com.", name, 1)}}.msg(t, name, dns.TypeA)
		}},
		{"large", 200, func(name string) *dns.Msg { return bigTXT(t, name) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			names := make([]string, tt.n)
			msgs := make([]*dns.Msg, tt.n)
			for i := range names {
				names[i] = fmt.Sprintf("host-%d.example.com.", i)
				msgs[i] = tt.msg(names[i])
			}
			c := New(Config{MaxBytes: 1 << 30})
			heap0 := liveHeap()
			for i, m := range msgs {
				q := m.Question[0]
				c.SetMsg(NewKey(names[i], q.Qtype, q.Qclass, true, false), m, Meta{}, t0)
			}
			grown := liveHeap() - heap0
			counted := c.Bytes()
			if c.Len() != tt.n {
				t.Fatalf("Len() = %d, want %d", c.Len(), tt.n)
			}
			ratio := float64(grown) / float64(counted)
			t.Logf("%d entries: heap grew %d bytes, cache counts %d (ratio %.2f)", tt.n, grown, counted, ratio)
			if ratio < 0.6 || ratio > 1.25 {
				t.Errorf("heap grew %d bytes for a cache that counts %d: ratio %.2f, want 0.6 to 1.25", grown, counted, ratio)
			}
			runtime.KeepAlive(msgs)
			runtime.KeepAlive(c)
		})
	}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestSetAllocs: storing packs into a pooled buffer; only the copy of the
// packed message's size is made per entry. Guards against the per-call
// buffer coming back (SetMsg made 17 allocations with it, SetRRset 6).
func TestSetAllocs(t *testing.T) {
	c := New(Config{})
	m := answer{
		Answer: []string{"www.example.com. 300 IN A 192.0.2.1", sigA},
		Ns:     []string{soaRR, sigSOA},
	}.msg(t, www, dns.TypeA)
	k := NewKey(www, dns.TypeA, dns.ClassINET, true, false)
	rrset := rrs(t, "example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN NS ns2.example.com.")
	for _, tt := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"SetMsg", 16, func() { c.SetMsg(k, m, Meta{}, t0) }},
		{"SetRRset", 5, func() { c.SetRRset(rrset, Meta{}, t0) }},
	} {
		n := testing.AllocsPerRun(50, tt.f)
		t.Logf("%s: %v allocations", tt.name, n)
		if n > tt.max {
			t.Errorf("%s allocates %v times, want at most %v", tt.name, n, tt.max)
		}
	}
}
