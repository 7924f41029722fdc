package cache

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const www = "www.example.com."

// positive is an answer with records in all three sections: the NS is
// capped to the answer's 300 s, the glue keeps its lower 100 s.
var positive = answer{
	Answer: []string{"www.example.com. 300 IN A 192.0.2.1"},
	Ns:     []string{"example.com. 3600 IN NS ns1.example.com."},
	Extra:  []string{"ns1.example.com. 100 IN A 192.0.2.53"},
}

func TestGetMsgTTLDecrement(t *testing.T) {
	c := New(Config{})
	k := NewKey(www, dns.TypeA, dns.ClassINET, false, false)
	c.SetMsg(k, positive.msg(t, www, dns.TypeA), Meta{}, t0)

	tests := []struct {
		elapsed time.Duration
		want    []uint32 // nil: a miss
	}{
		{0, []uint32{300, 300, 100}},
		{1500 * time.Millisecond, []uint32{299, 299, 99}},
		{150 * time.Second, []uint32{150, 150, 0}},
		{300*time.Second - time.Millisecond, []uint32{1, 1, 0}},
		{-10 * time.Second, []uint32{300, 300, 100}}, // clock went back
		{300 * time.Second, nil},
		{time.Hour, nil},
	}
	for _, tt := range tests {
		m, _, ok := c.GetMsg(k, t0.Add(tt.elapsed))
		if tt.want == nil {
			if ok {
				t.Errorf("GetMsg(+%v) hit, want a miss", tt.elapsed)
			}
			continue
		}
		if !ok {
			t.Errorf("GetMsg(+%v) missed, want a hit", tt.elapsed)
			continue
		}
		if got := ttlsOf(m); !slices.Equal(got, tt.want) {
			t.Errorf("GetMsg(+%v) TTLs = %v, want %v", tt.elapsed, got, tt.want)
		}
	}
}

func TestExpiredIsDropped(t *testing.T) {
	c := New(Config{})
	k := NewKey(www, dns.TypeA, dns.ClassINET, false, false)
	c.SetMsg(k, positive.msg(t, www, dns.TypeA), Meta{}, t0)
	c.SetRRset(rrs(t, "example.com. 60 IN NS ns1.example.com."), Meta{}, t0)
	if got := c.Len(); got != 2 {
		t.Fatalf("Len() = %d, want 2", got)
	}
	later := t0.Add(time.Hour)
	if _, _, ok := c.GetMsg(k, later); ok {
		t.Errorf("GetMsg after expiry hit, want a miss")
	}
	if _, _, ok := c.AppendMsg(nil, k, 1, later); ok {
		t.Errorf("AppendMsg after expiry hit, want a miss")
	}
	if _, _, ok := c.GetRRset("example.com.", dns.TypeNS, dns.ClassINET, later); ok {
		t.Errorf("GetRRset after expiry hit, want a miss")
	}
	if got := c.Len(); got != 0 {
		t.Errorf("Len() after expired reads = %d, want 0", got)
	}
}

// msgCase is one message SetMsg may or may not cache; want are the TTLs a
// read at t0 sees, nil when SetMsg must not cache it.
type msgCase struct {
	name  string
	cfg   Config
	qtype uint16
	msg   answer
	want  []uint32
}

func runMsgCases(t *testing.T, tests []msgCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qtype := tt.qtype
			if qtype == 0 {
				qtype = dns.TypeA
			}
			c := New(tt.cfg)
			k := NewKey(www, qtype, dns.ClassINET, true, false)
			c.SetMsg(k, tt.msg.msg(t, www, qtype), Meta{}, t0)
			m, _, ok := c.GetMsg(k, t0)
			switch {
			case tt.want == nil && ok:
				t.Errorf("cached with TTLs %v, want not cached", ttlsOf(m))
			case tt.want != nil && !ok:
				t.Errorf("not cached, want TTLs %v", tt.want)
			case ok:
				if got := ttlsOf(m); !slices.Equal(got, tt.want) {
					t.Errorf("TTLs = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestSetMsgClamp(t *testing.T) {
	const sigFor100s = "www.example.com. 300 IN RRSIG A 8 3 300 20250601120140 20250501000000 12345 example.com. AAAA"
	const sigExpired = "www.example.com. 300 IN RRSIG A 8 3 300 20250601115959 20250501000000 12345 example.com. AAAA"
	runMsgCases(t, []msgCase{
		{
			name: "ttl 0 not cached",
			msg:  answer{Answer: []string{"www.example.com. 0 IN A 192.0.2.1"}},
		},
		{
			name: "ttl 0 raised to MinTTL",
			cfg:  Config{MinTTL: 60 * time.Second},
			msg:  answer{Answer: []string{"www.example.com. 0 IN A 192.0.2.1"}},
			want: []uint32{60},
		},
		{
			name: "lowest of answer and authority, raised to MinTTL",
			cfg:  Config{MinTTL: time.Minute},
			msg: answer{
				Answer: []string{"www.example.com. 10 IN A 192.0.2.1"},
				Ns:     []string{"example.com. 3600 IN NS ns1.example.com."},
				Extra:  []string{"ns1.example.com. 5 IN A 192.0.2.53"},
			},
			want: []uint32{60, 60, 60},
		},
		{
			name: "capped at MaxTTL",
			cfg:  Config{MaxTTL: time.Hour},
			msg:  answer{Answer: []string{"www.example.com. 604800 IN A 192.0.2.1"}},
			want: []uint32{3600},
		},
		{
			name: "capped at default MaxTTL",
			msg:  answer{Answer: []string{"www.example.com. 604800 IN A 192.0.2.1"}},
			want: []uint32{86400},
		},
		{
			name: "fractional MinTTL dropped",
			cfg:  Config{MinTTL: 1500 * time.Millisecond},
			msg:  answer{Answer: []string{"www.example.com. 0 IN A 192.0.2.1"}},
			want: []uint32{1},
		},
		{
			name: "negative MaxTTL caches nothing positive",
			cfg:  Config{MaxTTL: -1},
			msg:  answer{Answer: []string{"www.example.com. 300 IN A 192.0.2.1"}},
		},
		{
			name: "top bit set counts as 0 (RFC 2181 §8)",
			msg:  answer{Answer: []string{"www.example.com. 2147483649 IN A 192.0.2.1"}},
		},
		{
			name: "additional below the entry TTL keeps its own",
			msg: answer{
				Answer: []string{"www.example.com. 300 IN A 192.0.2.1"},
				Extra:  []string{"ns1.example.com. 7 IN A 192.0.2.53"},
			},
			want: []uint32{300, 7},
		},
		{
			name: "signature expiry cuts the TTL, MinTTL does not raise it",
			cfg:  Config{MinTTL: 200 * time.Second},
			msg:  answer{Answer: []string{"www.example.com. 300 IN A 192.0.2.1", sigFor100s}},
			want: []uint32{100, 100},
		},
		{
			name: "expired signature not cached",
			cfg:  Config{MinTTL: 200 * time.Second},
			msg:  answer{Answer: []string{"www.example.com. 300 IN A 192.0.2.1", sigExpired}},
		},
	})
}

func TestSetMsgNegative(t *testing.T) {
	soa := func(ttl, minimum int) string {
		return fmt.Sprintf("example.com. %d IN SOA ns1.example.com. host.example.com. 1 7200 3600 1209600 %d", ttl, minimum)
	}
	runMsgCases(t, []msgCase{
		{
			name: "NXDOMAIN, MINIMUM lower than SOA TTL",
			msg:  answer{Rcode: dns.RcodeNameError, Ns: []string{soa(3600, 300)}},
			want: []uint32{300},
		},
		{
			name: "NXDOMAIN, SOA TTL lower than MINIMUM",
			msg:  answer{Rcode: dns.RcodeNameError, Ns: []string{soa(60, 300)}},
			want: []uint32{60},
		},
		{
			name: "NXDOMAIN capped at default MaxNegativeTTL",
			msg:  answer{Rcode: dns.RcodeNameError, Ns: []string{soa(7200, 7200)}},
			want: []uint32{3600},
		},
		{
			name: "NXDOMAIN capped at MaxNegativeTTL",
			cfg:  Config{MaxNegativeTTL: 100 * time.Second},
			msg:  answer{Rcode: dns.RcodeNameError, Ns: []string{soa(3600, 300)}},
			want: []uint32{100},
		},
		{
			name: "MinTTL does not raise a negative answer",
			cfg:  Config{MinTTL: 600 * time.Second},
			msg:  answer{Rcode: dns.RcodeNameError, Ns: []string{soa(3600, 300)}},
			want: []uint32{300},
		},
		{
			name: "negative MaxNegativeTTL caches no negative answer",
			cfg:  Config{MaxNegativeTTL: -1},
			msg:  answer{Rcode: dns.RcodeNameError, Ns: []string{soa(3600, 300)}},
		},
		{
			name: "NXDOMAIN without SOA kept NoSOANegativeTTL",
			msg:  answer{Rcode: dns.RcodeNameError},
			want: []uint32{},
		},
		{
			name: "NODATA without SOA kept NoSOANegativeTTL, records too",
			msg:  answer{Ns: []string{"example.com. 3600 IN NS ns1.example.com."}},
			want: []uint32{5},
		},
		{
			name: "NODATA without SOA, lower record TTL",
			msg:  answer{Answer: []string{"www.example.com. 2 IN CNAME web.example.com."}},
			want: []uint32{2},
		},
		{
			name: "NODATA without SOA, capped at MaxNegativeTTL",
			cfg:  Config{MaxNegativeTTL: -1},
			msg:  answer{},
		},
		{
			name: "NODATA",
			msg:  answer{Ns: []string{soa(3600, 600)}},
			want: []uint32{600},
		},
		{
			name: "NODATA after a CNAME",
			msg: answer{
				Answer: []string{"www.example.com. 3600 IN CNAME web.example.com."},
				Ns:     []string{soa(3600, 120)},
			},
			want: []uint32{120, 120},
		},
		{
			name: "NXDOMAIN after a CNAME with a lower TTL",
			msg: answer{
				Rcode:  dns.RcodeNameError,
				Answer: []string{"www.example.com. 30 IN CNAME gone.example.com."},
				Ns:     []string{soa(3600, 300)},
			},
			want: []uint32{30, 30},
		},
		{
			name: "CNAME answer to a CNAME question is positive",
			msg: answer{
				Answer: []string{"www.example.com. 3600 IN CNAME web.example.com."},
			},
			qtype: dns.TypeCNAME,
			want:  []uint32{3600},
		},
	})
}

func TestSetMsgRefused(t *testing.T) {
	good := func() *dns.Msg { return positive.msg(t, www, dns.TypeA) }
	tests := []struct {
		name string
		msg  func() *dns.Msg
	}{
		{"truncated", func() *dns.Msg { m := good(); m.Truncated = true; return m }},
		{"REFUSED", func() *dns.Msg { m := good(); m.Rcode = dns.RcodeRefused; return m }},
		{"FORMERR", func() *dns.Msg { m := good(); m.Rcode = dns.RcodeFormatError; return m }},
		{"NOTIMP", func() *dns.Msg { m := good(); m.Rcode = dns.RcodeNotImplemented; return m }},
		{"BADVERS", func() *dns.Msg { m := good(); m.SetEdns0(1232, false); m.Rcode = dns.RcodeBadVers; return m }},
		{"NOTIFY", func() *dns.Msg { m := good(); m.Opcode = dns.OpcodeNotify; return m }},
		{"no question", func() *dns.Msg { m := good(); m.Question = nil; return m }},
		{"two questions", func() *dns.Msg { m := good(); m.Question = append(m.Question, m.Question[0]); return m }},
		{"other name", func() *dns.Msg { m := good(); m.Question[0].Name = "mail.example.com."; return m }},
		{"other type", func() *dns.Msg { m := good(); m.Question[0].Qtype = dns.TypeAAAA; return m }},
		{"other class", func() *dns.Msg { m := good(); m.Question[0].Qclass = dns.ClassCHAOS; return m }},
		{"nil", func() *dns.Msg { return nil }},
	}
	for _, tt := range tests {
		c := New(Config{})
		k := NewKey(www, dns.TypeA, dns.ClassINET, false, false)
		c.SetMsg(k, tt.msg(), Meta{}, t0)
		if _, _, ok := c.GetMsg(k, t0); ok {
			t.Errorf("%s: cached, want not cached", tt.name)
		}
		if got := c.Len(); got != 0 {
			t.Errorf("%s: Len() = %d, want 0", tt.name, got)
		}
	}
}

func TestServfail(t *testing.T) {
	k := NewKey(www, dns.TypeA, dns.ClassINET, false, false)
	servfail := answer{Rcode: dns.RcodeServerFailure}
	tests := []struct {
		name  string
		cfg   Config
		first *answer // stored at t0, if any
		then  answer  // stored at t0 + at
		at    time.Duration
		read  time.Duration // read at t0 + read
		want  int           // RCODE read, -1 for a miss
	}{
		{name: "cached for ServfailTTL", then: servfail, read: 4 * time.Second, want: dns.RcodeServerFailure},
		{name: "expires after ServfailTTL", then: servfail, read: 5 * time.Second, want: -1},
		{name: "ServfailTTL set", cfg: Config{ServfailTTL: 30 * time.Second}, then: servfail, read: 29 * time.Second, want: dns.RcodeServerFailure},
		{name: "ServfailTTL negative", cfg: Config{ServfailTTL: -1}, then: servfail, want: -1},
		{name: "does not replace a live answer", first: &positive, then: servfail, at: time.Minute, read: time.Minute, want: dns.RcodeSuccess},
		{name: "replaces an expired answer", first: &positive, then: servfail, at: time.Hour, read: time.Hour, want: dns.RcodeServerFailure},
		{name: "replaces a SERVFAIL", first: &servfail, then: servfail, at: 3 * time.Second, read: 7 * time.Second, want: dns.RcodeServerFailure},
		{name: "answer replaces SERVFAIL", first: &servfail, then: positive, at: time.Second, read: time.Second, want: dns.RcodeSuccess},
	}
	for _, tt := range tests {
		c := New(tt.cfg)
		if tt.first != nil {
			c.SetMsg(k, tt.first.msg(t, www, dns.TypeA), Meta{}, t0)
		}
		c.SetMsg(k, tt.then.msg(t, www, dns.TypeA), Meta{}, t0.Add(tt.at))
		m, _, ok := c.GetMsg(k, t0.Add(tt.read))
		got := -1
		if ok {
			got = m.Rcode
		}
		if got != tt.want {
			t.Errorf("%s: rcode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestNewKey(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"www.example.com.", "www.example.com."},
		{"WWW.Example.COM.", "www.example.com."},
		{"www.example.com", "www.example.com."},
		{"", "."},
		{".", "."},
		{"Caf\xc3\xa9.EXAMPLE.", "caf\xc3\xa9.example."},
		{"\xff\xfeA.", "\xff\xfea."}, // not UTF-8: bytes kept
		{`a\.B\.`, `a\.b\..`},
		{`a\\.`, `a\\.`},
	}
	for _, tt := range tests {
		if got := NewKey(tt.in, dns.TypeA, dns.ClassINET, false, false).Name; got != tt.want {
			t.Errorf("NewKey(%q).Name = %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NewKey(www, dns.TypeA, dns.ClassINET, true, false) }); n != 0 {
		t.Errorf("NewKey(lowercase FQDN) allocs = %v, want 0", n)
	}
}

func TestKeysCaseInsensitive(t *testing.T) {
	c := New(Config{})
	const mixed = "WWW.Example.COM."
	c.SetMsg(NewKey(mixed, dns.TypeA, dns.ClassINET, false, false), positive.msg(t, mixed, dns.TypeA), Meta{}, t0)
	keys := []Key{
		NewKey("www.example.com", dns.TypeA, dns.ClassINET, false, false),
		NewKey("wWw.eXample.com.", dns.TypeA, dns.ClassINET, false, false),
		{Name: "www.EXAMPLE.com.", Type: dns.TypeA, Class: dns.ClassINET}, // built by hand
	}
	for _, k := range keys {
		m, _, ok := c.GetMsg(k, t0)
		if !ok {
			t.Errorf("GetMsg(%q) missed, want a hit", k.Name)
			continue
		}
		if got := m.Question[0].Name; got != mixed {
			t.Errorf("GetMsg(%q) question = %q, want the stored %q", k.Name, got, mixed)
		}
	}
	// A question whose name differs only in case is k's question.
	k := NewKey("mail.example.com.", dns.TypeA, dns.ClassINET, false, false)
	c.SetMsg(k, positive.msg(t, "MAIL.example.com.", dns.TypeA), Meta{}, t0)
	if _, _, ok := c.GetMsg(k, t0); !ok {
		t.Errorf("SetMsg refused a question differing only in case")
	}
}

// TestKeysDOCD: CD is part of the key (an answer that failed validation
// must never reach a client that did not set CD), DO is not: one entry
// serves clients with and without DO, the last SetMsg for either wins.
func TestKeysDOCD(t *testing.T) {
	c := New(Config{})
	type flags struct{ do, cd bool }
	all := []flags{{false, false}, {true, false}, {false, true}, {true, true}}
	for i, f := range all {
		a := answer{Answer: []string{fmt.Sprintf("www.example.com. 300 IN A 192.0.2.%d", i+1)}}
		c.SetMsg(NewKey(www, dns.TypeA, dns.ClassINET, f.do, f.cd), a.msg(t, www, dns.TypeA), Meta{Security: Security(i)}, t0)
	}
	for i, f := range all {
		m, meta, ok := c.GetMsg(NewKey(www, dns.TypeA, dns.ClassINET, f.do, f.cd), t0)
		if !ok {
			t.Errorf("DO=%v CD=%v: miss, want a hit", f.do, f.cd)
			continue
		}
		last := i | 1 // the DO=true store of the same CD came last
		want := fmt.Sprintf("192.0.2.%d", last+1)
		if got := m.Answer[0].(*dns.A).A.String(); got != want || meta.Security != Security(last) {
			t.Errorf("DO=%v CD=%v: got %s (security %d), want %s (security %d)", f.do, f.cd, got, meta.Security, want, last)
		}
	}
	if got := c.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2 (one per CD)", got)
	}
}

func TestMsgIsCopied(t *testing.T) {
	c := New(Config{})
	k := NewKey(www, dns.TypeA, dns.ClassINET, false, false)
	m := positive.msg(t, www, dns.TypeA)
	m.Id = 4242
	c.SetMsg(k, m, Meta{}, t0)
	// The caller reuses its message...
	m.Answer[0].(*dns.A).A[3] = 99
	m.Answer[0].Header().Ttl = 1
	m.Question[0].Name = "other."
	// ...and modifies what it got.
	got, _, _ := c.GetMsg(k, t0)
	got.Answer[0].(*dns.A).A[3] = 98
	got.Answer = nil

	again, _, ok := c.GetMsg(k, t0)
	if !ok {
		t.Fatalf("GetMsg missed, want a hit")
	}
	want := positive.msg(t, www, dns.TypeA)
	want.Id = 0
	want.Ns[0].Header().Ttl = 300 // capped to the entry's TTL
	if again.String() != want.String() {
		t.Errorf("GetMsg =\n%v\nwant\n%v", again, want)
	}
}

func TestOPTKept(t *testing.T) {
	c := New(Config{})
	k := NewKey(www, dns.TypeA, dns.ClassINET, true, false)
	m := positive.msg(t, www, dns.TypeA)
	m.SetEdns0(1232, true)
	wantTTL := m.IsEdns0().Hdr.Ttl
	c.SetMsg(k, m, Meta{}, t0)
	got, _, ok := c.GetMsg(k, t0.Add(100*time.Second))
	if !ok {
		t.Fatalf("GetMsg missed, want a hit")
	}
	opt := got.IsEdns0()
	if opt == nil {
		t.Fatalf("OPT record lost")
	}
	if opt.Hdr.Ttl != wantTTL || !opt.Do() || opt.UDPSize() != 1232 {
		t.Errorf("OPT TTL field %#x, DO %v, size %d; want %#x, true, 1232", opt.Hdr.Ttl, opt.Do(), opt.UDPSize(), wantTTL)
	}
	if got, want := ttlsOf(got), []uint32{200, 200, 0}; !slices.Equal(got, want) {
		t.Errorf("TTLs = %v, want %v", got, want)
	}
}

func TestAppendMsgMatchesGetMsg(t *testing.T) {
	soa := "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 3600 1209600 300"
	withOPT := positive.msg(t, www, dns.TypeA)
	withOPT.SetEdns0(1232, true)
	msgs := map[string]*dns.Msg{
		"positive": positive.msg(t, www, dns.TypeA),
		"with OPT": withOPT,
		"NXDOMAIN": answer{Rcode: dns.RcodeNameError, Ns: []string{soa}}.msg(t, www, dns.TypeA),
		"SERVFAIL": answer{Rcode: dns.RcodeServerFailure}.msg(t, www, dns.TypeA),
	}
	for name, m := range msgs {
		for _, elapsed := range []time.Duration{0, 3 * time.Second, 42 * time.Second} {
			c := New(Config{})
			k := NewKey(www, dns.TypeA, dns.ClassINET, true, false)
			c.SetMsg(k, m, Meta{Rank: RankAnswer, Security: 7}, t0)
			now := t0.Add(elapsed)
			want, wantMeta, ok := c.GetMsg(k, now)
			if name == "SERVFAIL" && elapsed > 5*time.Second {
				if ok {
					t.Errorf("%s +%v: GetMsg hit, want a miss", name, elapsed)
				}
				continue
			}
			if !ok {
				t.Fatalf("%s +%v: GetMsg missed", name, elapsed)
			}
			prefix := []byte("prefix")
			buf, meta, ok := c.AppendMsg(append(make([]byte, 0, 512), prefix...), k, 0xbeef, now)
			if !ok {
				t.Fatalf("%s +%v: AppendMsg missed", name, elapsed)
			}
			if !bytes.HasPrefix(buf, prefix) {
				t.Fatalf("%s +%v: AppendMsg overwrote dst", name, elapsed)
			}
			var got dns.Msg
			if err := got.Unpack(buf[len(prefix):]); err != nil {
				t.Fatalf("%s +%v: unpack AppendMsg output: %v", name, elapsed, err)
			}
			if got.Id != 0xbeef {
				t.Errorf("%s +%v: ID = %#x, want 0xbeef", name, elapsed, got.Id)
			}
			want.Id = 0xbeef
			if got.String() != want.String() || meta != wantMeta {
				t.Errorf("%s +%v: AppendMsg =\n%v%+v\nGetMsg =\n%v%+v", name, elapsed, &got, meta, want, wantMeta)
			}
		}
	}
}

func TestAppendMsgMiss(t *testing.T) {
	c := New(Config{})
	dst := []byte("keep")
	got, _, ok := c.AppendMsg(dst, NewKey(www, dns.TypeA, dns.ClassINET, false, false), 1, t0)
	if ok || string(got) != "keep" {
		t.Errorf("AppendMsg on a miss = %q, %v; want %q, false", got, ok, "keep")
	}
}

func TestAppendMsgAllocs(t *testing.T) {
	c := New(Config{})
	k := NewKey(www, dns.TypeA, dns.ClassINET, true, false)
	m := positive.msg(t, www, dns.TypeA)
	m.SetEdns0(1232, true)
	c.SetMsg(k, m, Meta{}, t0)
	buf := make([]byte, 0, 4096)
	now := t0.Add(10 * time.Second)
	var ok bool
	allocs := testing.AllocsPerRun(1000, func() {
		buf, _, ok = c.AppendMsg(buf[:0], k, 0x1234, now)
	})
	if !ok {
		t.Fatalf("AppendMsg missed, want a hit")
	}
	if allocs != 0 {
		t.Errorf("AppendMsg allocs = %v, want 0", allocs)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := New(Config{MaxEntries: 50, Shards: 4})
	names := make([]string, 100)
	msgs := make([]*dns.Msg, len(names))
	for i := range names {
		names[i] = fmt.Sprintf("h%d.example.com.", i)
		a := answer{Answer: []string{fmt.Sprintf("%s 300 IN A 192.0.2.1", names[i])}}
		msgs[i] = a.msg(t, names[i], dns.TypeA)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 0, 512)
			for i := range 1000 {
				j := (g*31 + i) % len(names)
				k := NewKey(names[j], dns.TypeA, dns.ClassINET, false, false)
				now := t0.Add(time.Duration(i) * time.Second)
				switch i % 6 {
				case 0:
					c.SetMsg(k, msgs[j], Meta{}, now)
				case 1:
					if m, _, ok := c.GetMsg(k, now); ok && m.Question[0].Name != names[j] {
						t.Errorf("GetMsg(%s) question %s", names[j], m.Question[0].Name)
					}
				case 2:
					buf, _, _ = c.AppendMsg(buf[:0], k, uint16(i), now)
				case 3:
					c.SetRRset(msgs[j].Answer, Meta{Rank: Rank(i % 6)}, now)
				case 4:
					c.GetRRset(names[j], dns.TypeA, dns.ClassINET, now)
				default:
					if n := c.Len(); n > 50 {
						t.Errorf("Len() = %d, want <= 50", n)
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestNoSOANegativeLifetime: a negative answer without an SOA, with no
// record to bound it either, lives NoSOANegativeTTL and no longer.
func TestNoSOANegativeLifetime(t *testing.T) {
	c := New(Config{})
	k := NewKey(www, dns.TypeA, dns.ClassINET, true, false)
	c.SetMsg(k, answer{}.msg(t, www, dns.TypeA), Meta{}, t0)
	if _, _, ok := c.GetMsg(k, t0.Add(NoSOANegativeTTL-time.Second)); !ok {
		t.Errorf("gone before NoSOANegativeTTL")
	}
	if m, _, ok := c.GetMsg(k, t0.Add(NoSOANegativeTTL)); ok {
		t.Errorf("still cached after NoSOANegativeTTL: %v", m)
	}
}
