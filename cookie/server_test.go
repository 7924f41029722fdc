package cookie

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret(%q): %v", s, err)
	}
	return sec
}

const (
	secretA = "e5e973e5a6b2a43f48e7dc849e37bfcf" // RFC 9018 A.1-A.3
	secretB = "dd3bdf9344b678b185a6f5cb60fca715" // A.4, before the rollover
	secretC = "445536bcd2513298075a5d379663c962" // A.4, after it
)

// TestRFC9018Vectors plays the exchanges of RFC 9018 Appendix A through
// Check: the request option as the client sent it, the server's secrets
// and clock, and the response option byte for byte.
func TestRFC9018Vectors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		active  string
		old     []string
		client  string
		query   string
		now     int64
		kind    Kind
		reply   string
		require bool
		action  Action
	}{
		{
			name: "A.1 learning a new server cookie", active: secretA,
			client: "198.51.100.100", query: "2464c4abcf10c957", now: 1559731985,
			kind: ClientOnly, reply: "2464c4abcf10c957010000005cf79f111f8130c3eee29480",
		},
		{
			name: "A.2 renewed after 40 minutes", active: secretA,
			client: "198.51.100.100", query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559734385,
			kind: Valid, reply: "2464c4abcf10c957010000005cf7a871d4a564a1442aca77",
		},
		{
			// The example's cookie is 1h43m old when sent, beyond the
			// hour RFC 9018 §4.3 recommends: a fresh one is made.
			name: "A.3 another client, expired cookie renewed", active: secretA,
			client: "203.0.113.203", query: "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", now: 1559734700,
			kind: Invalid, reply: "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e",
		},
		{
			name: "A.4 IPv6 client after the secret rolled over", active: secretC, old: []string{secretB},
			client: "2001:db8:220:1:59de:d0f4:8769:82b8", query: "22681ab97d52c298010000005cf7c57926556bd0934c72f8", now: 1559741961,
			kind: Valid, reply: "22681ab97d52c298010000005cf7c609a6bb79d16625507a",
		},
		{
			name: "A.4 without the old secret the cookie is not ours", active: secretC,
			client: "2001:db8:220:1:59de:d0f4:8769:82b8", query: "22681ab97d52c298010000005cf7c57926556bd0934c72f8", now: 1559741961,
			kind: Invalid, reply: "22681ab97d52c298010000005cf7c609a6bb79d16625507a",
			require: true, action: BadCookie,
		},
		{
			name: "A.1 client-only under require gets BADCOOKIE", active: secretA,
			client: "198.51.100.100", query: "2464c4abcf10c957", now: 1559731985,
			kind: ClientOnly, reply: "2464c4abcf10c957010000005cf79f111f8130c3eee29480",
			require: true, action: BadCookie,
		},
		{
			name: "A.2 a valid cookie is exempt from require", active: secretA,
			client: "198.51.100.100", query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559734385,
			kind: Valid, reply: "2464c4abcf10c957010000005cf7a871d4a564a1442aca77",
			require: true, action: Answer,
		},
		{
			name: "fresh valid cookie echoed unchanged", active: secretA,
			client: "198.51.100.100", query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559731985 + 1800,
			kind: Valid, reply: "2464c4abcf10c957010000005cf79f111f8130c3eee29480",
		},
		{
			name: "IPv4-mapped address hashed as IPv4", active: secretA,
			client: "::ffff:198.51.100.100", query: "2464c4abcf10c957", now: 1559731985,
			kind: ClientOnly, reply: "2464c4abcf10c957010000005cf79f111f8130c3eee29480",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old []Secret
			for _, o := range tc.old {
				old = append(old, mustSecret(t, o))
			}
			s := NewServer(mustSecret(t, tc.active), old...)
			r := s.Check(netip.MustParseAddr(tc.client), mustHex(t, tc.query), time.Unix(tc.now, 0), tc.require)
			if r.Kind != tc.kind {
				t.Errorf("kind = %v; want %v", r.Kind, tc.kind)
			}
			if r.Action != tc.action {
				t.Errorf("action = %v; want %v", r.Action, tc.action)
			}
			if !r.HasResponse {
				t.Fatalf("no response cookie; want %s", tc.reply)
			}
			if got := hex.EncodeToString(r.Response[:]); got != tc.reply {
				t.Errorf("response = %s; want %s", got, tc.reply)
			}
		})
	}
}

// TestCheck covers the rules of RFC 7873 §5.2 and the lifetime of RFC
// 9018 §4.3 around a cookie made at t0.
func TestCheck(t *testing.T) {
	const t0 = 1559731985
	s := NewServer(mustSecret(t, secretA))
	client := netip.MustParseAddr("198.51.100.100")
	good := mustHex(t, "2464c4abcf10c957010000005cf79f111f8130c3eee29480") // made at t0
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-1] ^= 1
	v2 := append([]byte(nil), good...)
	v2[ClientLen] = 2
	for _, tc := range []struct {
		name    string
		client  string
		opt     []byte
		now     int64
		require bool
		kind    Kind
		action  Action
		resp    bool
	}{
		{name: "no option", opt: nil, now: t0, kind: NoCookie},
		{name: "no option under require is the caller's business", opt: nil, now: t0, require: true, kind: NoCookie},
		{name: "empty option", opt: []byte{}, now: t0, kind: Malformed, action: FormErr},
		{name: "7 octets", opt: make([]byte, 7), now: t0, kind: Malformed, action: FormErr},
		{name: "9 octets", opt: make([]byte, 9), now: t0, kind: Malformed, action: FormErr},
		{name: "15 octets", opt: make([]byte, 15), now: t0, kind: Malformed, action: FormErr},
		{name: "41 octets", opt: make([]byte, 41), now: t0, kind: Malformed, action: FormErr},
		{name: "16 octets, a short foreign server cookie", opt: make([]byte, 16), now: t0, kind: Invalid, resp: true},
		{name: "40 octets, a long foreign server cookie", opt: make([]byte, 40), now: t0, kind: Invalid, resp: true},
		{name: "client only", opt: good[:8], now: t0, kind: ClientOnly, resp: true},
		{name: "valid at issue", opt: good, now: t0, kind: Valid, resp: true},
		{name: "valid an hour later", opt: good, now: t0 + 3600, kind: Valid, resp: true},
		{name: "expired an hour and a second later", opt: good, now: t0 + 3601, kind: Invalid, resp: true},
		{name: "five minutes in the future", opt: good, now: t0 - 300, kind: Valid, resp: true},
		{name: "more than five minutes in the future", opt: good, now: t0 - 301, kind: Invalid, resp: true},
		{name: "expired under require", opt: good, now: t0 + 3601, require: true, kind: Invalid, action: BadCookie, resp: true},
		{name: "hash altered", opt: flipped, now: t0, kind: Invalid, resp: true},
		{name: "another version", opt: v2, now: t0, kind: Invalid, resp: true},
		{name: "another client address", client: "198.51.100.101", opt: good, now: t0, kind: Invalid, resp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := client
			if tc.client != "" {
				c = netip.MustParseAddr(tc.client)
			}
			r := s.Check(c, tc.opt, time.Unix(tc.now, 0), tc.require)
			if r.Kind != tc.kind || r.Action != tc.action || r.HasResponse != tc.resp {
				t.Fatalf("got kind %v action %v response %t; want %v %v %t", r.Kind, r.Action, r.HasResponse, tc.kind, tc.action, tc.resp)
			}
			if !r.HasResponse {
				return
			}
			if got, want := r.Response[:ClientLen], tc.opt[:ClientLen]; string(got) != string(want) {
				t.Errorf("client cookie in response = %x; want %x", got, want)
			}
			// Whatever was sent, the cookie handed back verifies.
			if r2 := s.Check(c, r.Response[:], time.Unix(tc.now, 0), true); r2.Kind != Valid {
				t.Errorf("response cookie judged %v; want valid", r2.Kind)
			}
		})
	}
}

// TestRotation: cookies made with the previous secret are accepted and
// replaced by ones made with the new secret, even when fresh.
func TestRotation(t *testing.T) {
	const t0 = 1559731985
	client := netip.MustParseAddr("192.0.2.7")
	oldS := NewServer(mustSecret(t, secretA))
	issued := oldS.Check(client, mustHex(t, "0102030405060708"), time.Unix(t0, 0), false).Response
	rotated := NewServer(mustSecret(t, secretC), mustSecret(t, secretA))
	r := rotated.Check(client, issued[:], time.Unix(t0+10, 0), true)
	if r.Kind != Valid || r.Action != Answer {
		t.Fatalf("old cookie after rotation: %v %v; want valid answer", r.Kind, r.Action)
	}
	if r.Response == issued {
		t.Fatalf("old cookie echoed; want one made with the new secret")
	}
	fresh := NewServer(mustSecret(t, secretC))
	if k := fresh.Check(client, r.Response[:], time.Unix(t0+10, 0), false).Kind; k != Valid {
		t.Errorf("reissued cookie judged %v by the new secret alone; want valid", k)
	}
	if k := fresh.Check(client, issued[:], time.Unix(t0+10, 0), false).Kind; k != Invalid {
		t.Errorf("old cookie judged %v once the old secret is gone; want invalid", k)
	}
}

func TestCheckAllocs(t *testing.T) {
	s := NewServer(mustSecret(t, secretA), mustSecret(t, secretB))
	client := netip.MustParseAddr("2001:db8::1")
	now := time.Unix(1559731985, 0)
	opt := s.Check(client, mustHex(t, "0102030405060708"), now, false).Response
	if n := testing.AllocsPerRun(100, func() {
		s.Check(client, opt[:], now.Add(2000*time.Second), true)
	}); n != 0 {
		t.Errorf("Check allocates %v times; want 0", n)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{secretA, true},
		{"  " + secretA + "\n", true},
		{"E5E973E5A6B2A43F48E7DC849E37BFCF", true},
		{secretA[:30], false},
		{secretA + "00", false},
		{"zz" + secretA[2:], false},
		{"", false},
	} {
		_, err := ParseSecret(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSecret(%q) error %v; want ok %t", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrSecret) {
			t.Errorf("ParseSecret(%q) error %v; want ErrSecret", tc.in, err)
		}
	}
}

func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		n             int
		ok            bool
	}{
		{"one", secretA + "\n", 1, true},
		{"rotation", "# new first\n" + secretC + "\n\n" + secretA + "\n", 2, true},
		{"empty", "\n# nothing\n", 0, false},
		{"bad line", secretA + "\nnot-hex\n", 0, false},
		{"too many", secretA + "\n" + secretB + "\n" + secretC + "\n" + secretA + "\n" + secretB + "\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadSecrets(p)
			if (err == nil) != tc.ok || len(got) != tc.n {
				t.Fatalf("LoadSecrets: %d secrets, error %v; want %d, ok %t", len(got), err, tc.n, tc.ok)
			}
		})
	}
	if _, err := LoadSecrets(filepath.Join(dir, "absent")); err == nil {
		t.Error("LoadSecrets(absent file) succeeded")
	}
}

func BenchmarkCheck(b *testing.B) {
	s := NewServer(mustSecret(b, secretA))
	client := netip.MustParseAddr("198.51.100.100")
	now := time.Unix(1559731985, 0)
	valid := s.Check(client, mustHex(b, "2464c4abcf10c957"), now, false).Response
	for _, bc := range []struct {
		name string
		opt  []byte
	}{
		{"client-only", valid[:ClientLen]},
		{"valid-fresh", valid[:]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.Check(client, bc.opt, now, false)
				}
			})
		})
	}
}

// FuzzCheck: whatever the option, Check neither panics nor lets a cookie
// through that the server did not make, and its response always verifies.
func FuzzCheck(f *testing.F) {
	f.Add([]byte{}, []byte{198, 51, 100, 100}, int64(1559731985))
	f.Add(mustHex(f, "2464c4abcf10c957"), []byte{198, 51, 100, 100}, int64(1559731985))
	f.Add(mustHex(f, "2464c4abcf10c957010000005cf79f111f8130c3eee29480"), []byte{198, 51, 100, 100}, int64(1559734385))
	f.Add(make([]byte, 40), make([]byte, 16), int64(0))
	s := NewServer(mustSecret(f, secretA))
	f.Fuzz(func(t *testing.T, opt, ip []byte, now int64) {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			a = netip.IPv4Unspecified()
		}
		r := s.Check(a, opt, time.Unix(now, 0), false)
		switch {
		case opt == nil:
			return
		case len(opt) != 8 && (len(opt) < 16 || len(opt) > 40):
			if r.Kind != Malformed || r.Action != FormErr || r.HasResponse {
				t.Fatalf("%d octets: %v %v %t; want malformed formerr", len(opt), r.Kind, r.Action, r.HasResponse)
			}
			return
		}
		if r.Kind == Valid && len(opt) != ResponseLen {
			t.Fatalf("a %d-octet option judged valid", len(opt))
		}
		if !r.HasResponse {
			t.Fatal("no response cookie for a well-formed option")
		}
		if r2 := s.Check(a, r.Response[:], time.Unix(now, 0), true); r2.Kind != Valid {
			t.Fatalf("the response cookie %x is judged %v", r.Response, r2.Kind)
		}
	})
}
