package cache

import (
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestClampMsg(t *testing.T) {
	c := New(Config{MinTTL: 10 * time.Second, MaxTTL: time.Hour})
	for _, tc := range []struct {
		name string
		a    answer
		want []uint32
		same bool // m itself comes back
	}{
		{"within bounds: untouched", answer{Answer: []string{www + " 300 IN A 192.0.2.1"}}, []uint32{300}, true},
		{"above MaxTTL", answer{Answer: []string{www + " 2147483647 IN A 192.0.2.1"}}, []uint32{3600}, false},
		{"top bit set is zero, raised to MinTTL", answer{Answer: []string{www + " 4294967295 IN A 192.0.2.1"}}, []uint32{10}, false},
		{"below MinTTL raised", answer{Answer: []string{www + " 1 IN A 192.0.2.1"}}, []uint32{10}, false},
		{"glue lowered to the entry", answer{
			Answer: []string{www + " 300 IN A 192.0.2.1"},
			Extra:  []string{"ns1.example.com. 86400 IN A 192.0.2.53"},
		}, []uint32{300, 300}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.a.msg(t, www, dns.TypeA)
			before := ttlsOf(m)
			got := c.ClampMsg(dns.TypeA, m, t0)
			if g := ttlsOf(got); !slices.Equal(g, tc.want) {
				t.Errorf("TTLs %v; want %v", g, tc.want)
			}
			if (got == m) != tc.same {
				t.Errorf("returned the message itself: %t; want %t", got == m, tc.same)
			}
			if !slices.Equal(ttlsOf(m), before) {
				t.Errorf("the input's TTLs changed: %v, were %v", ttlsOf(m), before)
			}
		})
	}
}
