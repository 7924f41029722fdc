package cookie

import (
	"encoding/hex"
	"net/netip"
	"testing"
)

func TestJar(t *testing.T) {
	var secret [16]byte
	copy(secret[:], "hush client key!")
	srv := netip.MustParseAddr("192.0.2.53")
	other := netip.MustParseAddr("2001:db8::53")
	for _, tc := range []struct {
		name  string
		steps []jarStep
	}{
		{"server without cookies", []jarStep{
			{resp: nil, want: Accept, sendLen: 8},
			{resp: nil, want: Accept, sendLen: 8},
		}},
		{"server cookie learned and sent back", []jarStep{
			{resp: serverResp("0102030405060708090a0b0c0d0e0f10"), want: Accept, sendLen: 24},
			{resp: nil, want: Missing, sendLen: 24},
		}},
		{"wrong client cookie is spoofed and learns nothing", []jarStep{
			{resp: append(make([]byte, 8), make([]byte, 16)...), raw: true, want: Spoofed, sendLen: 8},
			{resp: nil, want: Accept, sendLen: 8},
		}},
		{"echoed client cookie alone is malformed", []jarStep{
			{resp: []byte{}, clientOnly: true, want: Spoofed, sendLen: 8},
		}},
		{"41 octets is malformed", []jarStep{
			{resp: serverResp(hex.EncodeToString(make([]byte, 33))), want: Spoofed, sendLen: 8},
		}},
		{"BADCOOKIE with our cookie: retry with the new server cookie", []jarStep{
			{resp: serverResp("aabbccddeeff0011"), badCookie: true, want: Retry, sendLen: 16},
			{resp: serverResp(hex.EncodeToString(make([]byte, 32))), want: Accept, sendLen: 40},
		}},
		{"BADCOOKIE with another client cookie is spoofed", []jarStep{
			{resp: append(make([]byte, 8), make([]byte, 16)...), raw: true, badCookie: true, want: Spoofed, sendLen: 8},
		}},
		{"forget", []jarStep{
			{resp: serverResp("0102030405060708"), want: Accept, sendLen: 16},
			{forget: true, resp: nil, want: Accept, sendLen: 8},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := NewJarSecret(secret, 64)
			c := j.Client(srv)
			for i, st := range tc.steps {
				if st.forget {
					j.Forget(srv)
				}
				opt := st.resp
				if !st.raw && opt != nil {
					opt = append(c[:], opt...)
				}
				if got := j.Check(srv, opt, st.badCookie); got != st.want {
					t.Fatalf("step %d: Check = %v; want %v", i, got, st.want)
				}
				sent := j.Option(nil, srv)
				if len(sent) != st.sendLen || [8]byte(sent[:8]) != c {
					t.Fatalf("step %d: option %x; want %d octets starting %x", i, sent, st.sendLen, c)
				}
				// Nothing leaks to another server.
				if o := j.Option(nil, other); len(o) != 8 {
					t.Fatalf("step %d: other server's option %x; want its client cookie alone", i, o)
				}
			}
		})
	}
}

type jarStep struct {
	resp       []byte // the server cookie part, or the whole option when raw
	raw        bool
	clientOnly bool
	badCookie  bool
	forget     bool
	want       Verdict
	sendLen    int
}

func serverResp(h string) []byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return b
}

func TestJarClientCookies(t *testing.T) {
	var k1, k2 [16]byte
	k2[0] = 1
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	j1, j2 := NewJarSecret(k1, 0), NewJarSecret(k2, 0)
	for _, tc := range []struct {
		name string
		x, y [8]byte
		same bool
	}{
		{"stable", j1.Client(a), j1.Client(a), true},
		{"mapped address is the IPv4 one", j1.Client(a), j1.Client(netip.MustParseAddr("::ffff:192.0.2.1")), true},
		{"per server", j1.Client(a), j1.Client(b), false},
		{"per secret", j1.Client(a), j2.Client(a), false},
	} {
		if (tc.x == tc.y) != tc.same {
			t.Errorf("%s: %x vs %x; want same %t", tc.name, tc.x, tc.y, tc.same)
		}
	}
}

func TestJarBounded(t *testing.T) {
	j := NewJar(jarShards * 4)
	for i := range 10000 {
		s := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		c := j.Client(s)
		if v := j.Check(s, append(c[:], make([]byte, 16)...), false); v != Accept {
			t.Fatalf("Check = %v; want accept", v)
		}
	}
	if n := j.Len(); n > jarShards*4 {
		t.Errorf("jar holds %d servers; want at most %d", n, jarShards*4)
	}
}

// FuzzJarCheck: no response option makes Check panic, and only one that
// echoes our client cookie is accepted.
func FuzzJarCheck(f *testing.F) {
	var secret [16]byte
	srv := netip.MustParseAddr("192.0.2.53")
	j := NewJarSecret(secret, 16)
	c := j.Client(srv)
	f.Add(append(c[:], make([]byte, 16)...), false)
	f.Add(c[:], true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, opt []byte, bad bool) {
		if opt == nil {
			return // judged by what the jar has learned, not by the option
		}
		v := j.Check(srv, opt, bad)
		ours := len(opt) >= 16 && len(opt) <= 40 && [8]byte(opt[:8]) == c
		if (v == Accept || v == Retry) != ours {
			t.Fatalf("Check(%x) = %v", opt, v)
		}
	})
}

// TestJarRekey: after a change of network the client cookie toward every
// server is new, what servers gave for the old one is forgotten, and a
// reply echoing the old one is not accepted.
func TestJarRekey(t *testing.T) {
	j := NewJar(0)
	a := netip.MustParseAddr("192.0.2.1")
	old := j.Client(a)
	if v := j.Check(a, append(old[:], make([]byte, 16)...), false); v != Accept {
		t.Fatalf("Check = %v; want accept", v)
	}
	if got := len(j.Option(nil, a)); got != ClientLen+16 {
		t.Fatalf("option of %d octets before Rekey; want client and server cookie", got)
	}
	j.Rekey()
	if j.Client(a) == old {
		t.Errorf("client cookie unchanged by Rekey")
	}
	if got := len(j.Option(nil, a)); got != ClientLen {
		t.Errorf("option of %d octets after Rekey; want the client cookie alone", got)
	}
	if v := j.Check(a, append(old[:], make([]byte, 16)...), false); v == Accept {
		t.Errorf("a reply echoing the old client cookie was accepted")
	}
}
