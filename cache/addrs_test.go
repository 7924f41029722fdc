package cache

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAppendAddrs: the addresses read from the wire form are those
// GetRRset's records carry, RRSIGs skipped, for A and AAAA; anything
// else, an absent or expired set, is a miss that leaves dst alone.
func TestAppendAddrs(t *testing.T) {
	sig := "ns.example. 300 IN RRSIG A 13 2 300 20300101000000 20250101000000 12345 example. AAAA"
	c := New(Config{})
	c.SetRRset(rrs(t, "ns.example. 300 IN A 192.0.2.1", "ns.example. 300 IN A 192.0.2.2", sig), Meta{}, t0)
	c.SetRRset(rrs(t, "NS.Example. 300 IN AAAA 2001:db8::1", "ns.example. 300 IN AAAA ::ffff:192.0.2.9"), Meta{}, t0)
	c.SetRRset(rrs(t, "ns.example. 300 IN TXT \"x\""), Meta{}, t0)
	c.SetRRset(rrs(t, "short.example. 5 IN A 192.0.2.7"), Meta{}, t0)
	// An A record without data, as miekg/dns unpacks one from the wire:
	// skipped, as GetRRset's readers skip its invalid address.
	empty := &dns.A{Hdr: dns.RR_Header{Name: "holey.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}}
	c.SetRRset([]dns.RR{empty, rr(t, "holey.example. 300 IN A 192.0.2.3")}, Meta{}, t0)
	keep := []netip.Addr{netip.MustParseAddr("198.51.100.1")}
	for _, tc := range []struct {
		name  string
		owner string
		qtype uint16
		at    time.Duration
		want  []string // nil: a miss
	}{
		{"A with its RRSIG", "ns.example.", dns.TypeA, 0, []string{"192.0.2.1", "192.0.2.2"}},
		{"owner in another case", "NS.EXAMPLE.", dns.TypeA, time.Minute, []string{"192.0.2.1", "192.0.2.2"}},
		{"AAAA, mapped kept as IPv6", "ns.example.", dns.TypeAAAA, 0, []string{"2001:db8::1", "::ffff:192.0.2.9"}},
		{"not an address type", "ns.example.", dns.TypeTXT, 0, nil},
		{"a record without an address", "holey.example.", dns.TypeA, 0, []string{"192.0.2.3"}},
		{"absent", "other.example.", dns.TypeA, 0, nil},
		{"expired", "short.example.", dns.TypeA, 10 * time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.at)
			dst := slices.Clone(keep)
			got, ok := c.AppendAddrs(dst, tc.owner, tc.qtype, now)
			if ok != (tc.want != nil) {
				t.Fatalf("ok = %v, want %v", ok, tc.want != nil)
			}
			want := slices.Clone(keep)
			for _, s := range tc.want {
				want = append(want, netip.MustParseAddr(s))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if !ok {
				return
			}
			// The same addresses as GetRRset's records.
			set, _, _ := c.GetRRset(tc.owner, tc.qtype, dns.ClassINET, now)
			var fromRRs []netip.Addr
			for _, r := range set {
				var a netip.Addr
				switch r := r.(type) {
				case *dns.A:
					a, _ = netip.AddrFromSlice(r.A.To4())
				case *dns.AAAA:
					a, _ = netip.AddrFromSlice(r.AAAA.To16())
				}
				if a.IsValid() {
					fromRRs = append(fromRRs, a)
				}
			}
			if !slices.Equal(got[len(keep):], fromRRs) {
				t.Errorf("wire %v, records %v", got[len(keep):], fromRRs)
			}
		})
	}
	if _, ok := c.AppendAddrs(nil, "short.example.", dns.TypeA, t0); ok {
		t.Error("an expired set was dropped, yet found again")
	}
}

// TestAppendAddrsZeroAlloc: reading the addresses allocates nothing when
// dst has room.
func TestAppendAddrsZeroAlloc(t *testing.T) {
	c := New(Config{})
	c.SetRRset(rrs(t, "ns.example. 300 IN A 192.0.2.1", "ns.example. 300 IN A 192.0.2.2"), Meta{}, t0)
	dst := make([]netip.Addr, 0, 4)
	if n := testing.AllocsPerRun(100, func() { _, _ = c.AppendAddrs(dst[:0], "ns.example.", dns.TypeA, t0) }); n != 0 {
		t.Errorf("%v allocations per read", n)
	}
}

// FuzzAppendWireAddrs: no input makes the wire reader panic or read past
// the message, and what it accepts it reads whole.
func FuzzAppendWireAddrs(f *testing.F) {
	m := &dns.Msg{Compress: true, Answer: rrs(f, "ns.example. 300 IN A 192.0.2.1", "ns.example. 300 IN AAAA 2001:db8::1")}
	b, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint16(dns.TypeA))
	f.Add(b[:len(b)-3], uint16(dns.TypeAAAA))
	f.Fuzz(func(t *testing.T, msg []byte, qtype uint16) {
		got, ok := appendWireAddrs(nil, msg, qtype)
		if !ok && len(got) != 0 {
			t.Fatalf("failed read returned %v", got)
		}
	})
}
