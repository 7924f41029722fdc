package cache

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// numbered returns a message whose records have TTLs 1001, 1002, … in
// message order, so that the TTL read at each offset says which record the
// offset belongs to.
func numbered(tb testing.TB, withOPT bool) (*dns.Msg, []uint32) {
	tb.Helper()
	m := answer{
		Answer: []string{
			"www.example.com. 1 IN CNAME web.example.com.",
			"web.example.com. 1 IN A 192.0.2.1",
			"web.example.com. 1 IN A 192.0.2.2",
		},
		Ns: []string{
			"example.com. 1 IN NS ns1.example.com.",
			"example.com. 1 IN NS ns2.example.net.",
		},
		Extra: []string{
			"ns1.example.com. 1 IN A 192.0.2.53",
			"ns1.example.com. 1 IN AAAA 2001:db8::53",
			`ns1.example.com. 1 IN TXT "with \"quotes\" and \000 bytes"`,
		},
	}.msg(tb, www, dns.TypeA)
	if withOPT {
		m.SetEdns0(1232, true)
	}
	var want []uint32
	n := uint32(1001)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, r := range sec {
			if r.Header().Rrtype == dns.TypeOPT {
				continue
			}
			r.Header().Ttl = n
			want = append(want, n)
			n++
		}
	}
	return m, want
}

func TestTTLOffsets(t *testing.T) {
	for _, tt := range []struct {
		name          string
		opt, compress bool
	}{
		{"plain", false, false},
		{"compressed", false, true},
		{"OPT", true, false},
		{"OPT compressed", true, true},
	} {
		m, want := numbered(t, tt.opt)
		m.Compress = tt.compress
		wire, err := m.Pack()
		if err != nil {
			t.Fatalf("%s: pack: %v", tt.name, err)
		}
		offs, err := ttlOffsets(nil, wire)
		if err != nil {
			t.Fatalf("%s: ttlOffsets: %v", tt.name, err)
		}
		var got []uint32
		for _, off := range offs {
			got = append(got, binary.BigEndian.Uint32(wire[off:]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: TTLs at offsets = %v, want %v", tt.name, got, want)
		}
	}
}

func TestTTLOffsetsErrors(t *testing.T) {
	// header builds a header with the given section counts.
	header := func(qd, an, ns, ar uint16) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint16(b[4:], qd)
		binary.BigEndian.PutUint16(b[6:], an)
		binary.BigEndian.PutUint16(b[8:], ns)
		binary.BigEndian.PutUint16(b[10:], ar)
		return b
	}
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	question := []byte{1, 'a', 0, 0, 1, 0, 1}
	rrA := []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1}
	tests := []struct {
		name string
		msg  []byte
		want error
		offs []uint16
	}{
		{"empty", nil, errShortMsg, nil},
		{"short header", make([]byte, 11), errShortMsg, nil},
		{"header only", header(0, 0, 0, 0), nil, nil},
		{"too long", make([]byte, 0x10000), errLongMsg, nil},
		{"question cut in name", cat(header(1, 0, 0, 0), []byte{3, 'a'}), errBadName, nil},
		{"question without type", cat(header(1, 0, 0, 0), []byte{1, 'a', 0, 0}), errShortQuest, nil},
		{"one A", cat(header(1, 1, 0, 0), question, rrA), nil, []uint16{25}},
		{"counts above content", cat(header(1, 2, 0, 0), question, rrA), errBadName, []uint16{25}},
		{"RR cut in fixed part", cat(header(1, 1, 0, 0), question, rrA[:8]), errShortRR, nil},
		{"RDLENGTH past end", cat(header(1, 1, 0, 0), question, rrA[:len(rrA)-1]), errShortRR, []uint16{25}},
		{"pointer cut", cat(header(1, 1, 0, 0), question, []byte{0xc0}), errBadName, nil},
		{"extended label", cat(header(1, 0, 0, 0), []byte{0x41, 0}), errBadName, nil},
		{"OPT skipped", cat(header(0, 0, 0, 1), []byte{0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0}), nil, nil},
	}
	for _, tt := range tests {
		offs, err := ttlOffsets(nil, tt.msg)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if !slices.Equal(offs, tt.offs) {
			t.Errorf("%s: offsets = %v, want %v", tt.name, offs, tt.offs)
		}
	}
}

// FuzzTTLOffsets feeds arbitrary bytes to the wire walker: it must not
// panic, and every offset it returns must have a TTL's four bytes behind
// it, in increasing order.
func FuzzTTLOffsets(f *testing.F) {
	for _, opt := range []bool{false, true} {
		m, _ := numbered(f, opt)
		for _, compress := range []bool{false, true} {
			m.Compress = compress
			wire, err := m.Pack()
			if err != nil {
				f.Fatalf("pack: %v", err)
			}
			f.Add(wire)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		offs, err := ttlOffsets(nil, msg)
		prev := -1
		for _, off := range offs {
			if int(off) <= prev || int(off)+4 > len(msg) {
				t.Fatalf("offset %d out of order or range (len %d, previous %d, err %v)", off, len(msg), prev, err)
			}
			prev = int(off)
		}
		// What the walker accepts, miekg/dns must find as many records in
		// (when it can parse the message at all).
		var m dns.Msg
		if err == nil && m.Unpack(msg) == nil {
			n := 0
			for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
				for _, r := range sec {
					if r.Header().Rrtype != dns.TypeOPT {
						n++
					}
				}
			}
			if n != len(offs) {
				t.Fatalf("walker found %d TTLs, miekg/dns %d records", len(offs), n)
			}
		}
	})
}
