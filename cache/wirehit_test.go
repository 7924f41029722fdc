package cache

import (
	"bytes"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// wireName packs a presentation name into wire form.
func wireName(tb testing.TB, name string) []byte {
	tb.Helper()
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		tb.Fatalf("PackDomainName(%q): %v", name, err)
	}
	return buf[:n]
}

// TestAppendWire: a lookup by wire name finds what NewKey's name finds,
// whatever the case, with the same bytes as AppendMsg; names presentation
// format would escape, SERVFAILs and answers carrying an OPT are misses.
func TestAppendWire(t *testing.T) {
	c := New(Config{})
	now := t0.Add(3 * time.Second)
	m := positive.msg(t, www, dns.TypeA)
	c.SetMsg(NewKey(www, dns.TypeA, dns.ClassINET, true, false), m, Meta{Security: 1}, t0)
	withOPT := positive.msg(t, "opt.example.com.", dns.TypeA)
	withOPT.Answer[0].Header().Name = "opt.example.com."
	withOPT.SetEdns0(1232, true)
	c.SetMsg(NewKey("opt.example.com.", dns.TypeA, dns.ClassINET, true, false), withOPT, Meta{}, t0)
	c.SetMsg(NewKey("fail.example.com.", dns.TypeA, dns.ClassINET, true, false),
		answer{Rcode: dns.RcodeServerFailure}.msg(t, "fail.example.com.", dns.TypeA), Meta{}, t0)
	odd := `a\.b.example.com.`
	c.SetMsg(NewKey(odd, dns.TypeA, dns.ClassINET, true, false), answer{Answer: []string{odd + " 300 IN A 192.0.2.7"}}.msg(t, odd, dns.TypeA), Meta{}, t0)

	want, _, _ := c.AppendMsg(nil, NewKey(www, dns.TypeA, dns.ClassINET, false, false), 0, now)
	tests := []struct {
		name  string
		qtype uint16
		hit   bool
	}{
		{www, dns.TypeA, true},
		{"WwW.ExAmPlE.CoM.", dns.TypeA, true},
		{www, dns.TypeAAAA, false},
		{"other.example.com.", dns.TypeA, false},
		{"opt.example.com.", dns.TypeA, false},
		{"fail.example.com.", dns.TypeA, false},
		{odd, dns.TypeA, false},
	}
	for _, tt := range tests {
		dst := []byte("prefix")
		got, meta, ok := c.AppendWire(dst, wireName(t, tt.name), tt.qtype, dns.ClassINET, false, false, now)
		if ok != tt.hit {
			t.Errorf("AppendWire(%s, %s) hit = %v, want %v", tt.name, dns.TypeToString[tt.qtype], ok, tt.hit)
			continue
		}
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Errorf("AppendWire(%s) overwrote dst", tt.name)
		}
		if !ok {
			if len(got) != len("prefix") {
				t.Errorf("AppendWire(%s) miss appended %d bytes", tt.name, len(got)-len("prefix"))
			}
			continue
		}
		if !bytes.Equal(got[len("prefix"):], want) || meta.Security != 1 {
			t.Errorf("AppendWire(%s) = %x (security %d), want AppendMsg's %x (security 1)", tt.name, got[len("prefix"):], meta.Security, want)
		}
	}
	// Names that are not one whole uncompressed name.
	for _, bad := range [][]byte{nil, {3, 'w', 'w'}, {0xc0, 12}, {1, 'a', 0, 0}, {64}} {
		if _, _, ok := c.AppendWire(nil, bad, dns.TypeA, dns.ClassINET, false, false, now); ok {
			t.Errorf("AppendWire(%x) hit, want a miss", bad)
		}
	}
}
