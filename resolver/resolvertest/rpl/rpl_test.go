package rpl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// scenarioDir is where the Deckard scenarios live: $HUSH_RPL_DIR, else the
// shared checkout next to the repository.
func scenarioDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HUSH_RPL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "deckard-rpl")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.rpl"))
	if len(files) == 0 {
		t.Skipf("no *.rpl files in %s (set HUSH_RPL_DIR)", dir)
	}
	return dir
}

func TestParseAll(t *testing.T) {
	dir := scenarioDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.rpl"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, warned, unknown, entries := 0, 0, 0, 0
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s, err := ParseFile(path)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if len(s.Steps) == 0 {
				t.Errorf("got 0 steps, want some")
			}
			if s.Title == "" {
				t.Errorf("got empty title")
			}
			for _, st := range s.Steps {
				if (st.Type == "QUERY" || st.Type == "CHECK_ANSWER") && st.Entry == nil {
					t.Errorf("step %d %s: got no entry", st.ID, st.Type)
				}
			}
			if _, err := StartTime(s); err != nil {
				t.Errorf("StartTime: %v", err)
			}
			if len(s.Warnings) > 0 {
				warned++
				t.Logf("warnings: %q", s.Warnings)
			}
			if len(s.Unknown) > 0 {
				unknown++
				t.Logf("unknown: %q", s.Unknown)
			}
			for _, r := range s.Ranges {
				entries += len(r.Entries)
			}
			parsed++
		})
	}
	t.Logf("parsed %d of %d files (%d range entries); %d with warnings, %d with unknown keywords", parsed, len(files), entries, warned, unknown)
}

// tiny is a hand-written scenario: a root server that answers one name
// itself, another server only in later steps, and a TIME_PASSES step.
const tiny = `; config
	stub-addr: 193.0.14.129 	# K.ROOT-SERVERS.NET.
	trust-anchor: ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
	trust-anchor: "example. DNSKEY 257 3 8 AwEAAcUlFV1vhmqx6NSOUOq2R/dsR7Xm3upJ ( j7IommWSpJABVfW8Q0rOvXdM6kzt+TAu92L9 AbsUdblMFin8CVF3n4s= )"
	val-override-date: "20200102030405"
	query-minimization: off
CONFIG_END

SCENARIO_BEGIN Tiny hand-written scenario

; the root
RANGE_BEGIN 0 100
	ADDRESS 193.0.14.129
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
www.example. IN A
SECTION ANSWER
www.example. IN A 192.0.2.1
www.example. 300 IN TXT "a;b" ( "c" )
SECTION AUTHORITY
. IN SOA a.root b.root 1 2 3 4 5
ENTRY_END
ENTRY_BEGIN
MATCH opcode subdomain
ADJUST copy_id copy_query
REPLY QR NXDOMAIN
SECTION QUESTION
nx.example. IN A
ENTRY_END
RANGE_END

RANGE_BEGIN 20 30 192.0.2.53
ENTRY_BEGIN
MATCH opcode qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
late.example. IN A
SECTION ANSWER
late.example. IN A 192.0.2.2
ENTRY_END
RANGE_END

STEP 1 QUERY
ENTRY_BEGIN
REPLY RD DO
SECTION QUESTION
www.example. IN A
ENTRY_END

STEP 2 CHECK_ANSWER
ENTRY_BEGIN
MATCH all
REPLY QR RD RA NOERROR
SECTION QUESTION
www.example. IN A
SECTION ANSWER
WWW.example. IN A 192.0.2.1
www.example. IN TXT "a;b" "c"
SECTION AUTHORITY
. IN SOA a.root. b.root. 1 2 3 4 5
ENTRY_END

STEP 3 TIME_PASSES ELAPSE 10

STEP 4 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
a.nx.example. IN A
ENTRY_END

STEP 5 CHECK_ANSWER
ENTRY_BEGIN
MATCH flags rcode question
REPLY QR RD RA NXDOMAIN
SECTION QUESTION
a.nx.example. IN A
ENTRY_END
SCENARIO_END
`

func TestParseTiny(t *testing.T) {
	s, err := Parse(strings.NewReader(tiny), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Title, "Tiny hand-written scenario"; got != want {
		t.Errorf("title: got %q, want %q", got, want)
	}
	if got, want := len(s.ConfigValues("trust-anchor")), 2; got != want {
		t.Errorf("trust anchors: got %d, want %d", got, want)
	}
	if got, _ := s.ConfigValue("stub-addr"); got != "193.0.14.129" {
		t.Errorf("stub-addr: got %q, want 193.0.14.129", got)
	}
	if got, want := len(s.Ranges), 2; got != want {
		t.Fatalf("ranges: got %d, want %d", got, want)
	}
	r := s.Ranges[1]
	if got, want := fmt.Sprint(r.Start, r.End, r.Addresses), "20 30 [192.0.2.53]"; got != want {
		t.Errorf("second range: got %s, want %s", got, want)
	}
	e := s.Ranges[0].Entries[0]
	if got, want := len(e.Answer), 2; got != want {
		t.Fatalf("answer: got %d entries, want %d", got, want)
	}
	if got, want := e.Answer[0].Header().Ttl, uint32(3600); got != want {
		t.Errorf("default TTL: got %d, want %d", got, want)
	}
	if got, want := e.Ns[0].(*dns.SOA).Ns, "a.root."; got != want {
		t.Errorf("relative name: got %q, want %q", got, want)
	}
	if got, want := e.Answer[1].(*dns.TXT).Txt, []string{"a;b", "c"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TXT: got %q, want %q", got, want)
	}
	if !s.Steps[0].Entry.DO || !s.Steps[0].Entry.Flags.RD {
		t.Errorf("query flags: got %+v DO=%v, want RD and DO", s.Steps[0].Entry.Flags, s.Steps[0].Entry.DO)
	}
	if got, want := s.Steps[2].Elapse, 10*time.Second; got != want {
		t.Errorf("elapse: got %d, want %d", got, want)
	}
	if len(s.Warnings)+len(s.Unknown) != 0 {
		t.Errorf("got warnings %q unknown %q, want none", s.Warnings, s.Unknown)
	}
}

func TestParseNormalizes(t *testing.T) {
	in := "CONFIG_END\nSTEP 1 CHECK_ANSWER\nENTRY_BEGIN\nSECTION ANSWER\n" +
		"a. NSEC b. RRSIG NSEC A A\n" +
		"a. DNSKEY 257 3 253 UNUSABLE==\n" +
		"ENTRY_END\n"
	s, err := Parse(strings.NewReader(in), "normalize")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 0 {
		t.Fatalf("warnings: got %q, want none", s.Warnings)
	}
	ans := s.Steps[0].Entry.Answer
	if got, want := fmt.Sprint(ans[0].(*dns.NSEC).TypeBitMap), "[1 46 47]"; got != want {
		t.Errorf("NSEC types: got %s, want %s", got, want)
	}
	if got, want := ans[1].(*dns.DNSKEY).PublicKey, "UNUSABLE"; got != want {
		t.Errorf("DNSKEY key: got %q, want %q", got, want)
	}
	m := new(dns.Msg)
	m.Answer = ans
	if _, err := m.Pack(); err != nil {
		t.Errorf("Pack: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"no config end", "stub-addr: 1.2.3.4\n"},
		{"bad range", "CONFIG_END\nRANGE_BEGIN x 1\n"},
		{"bad step", "CONFIG_END\nSTEP x QUERY\n"},
		{"bad elapse", "CONFIG_END\nSTEP 1 TIME_PASSES ELAPSE x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(strings.NewReader(tt.in), tt.name); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	in := "CONFIG_END\nSCENARIO_BEGIN x\nFROB 1\nSTEP 1 QUERY\nENTRY_BEGIN\nFLAGS RD FROB\nMATCH frob\nSECTION QUESTION\nx. IN NOTATYPE\nSECTION ANSWER\nx. IN A not-an-address\nRAW\nzz\nENTRY_END\n"
	s, err := Parse(strings.NewReader(in), "lenient")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Unknown), 3; got != want {
		t.Errorf("unknown: got %q, want %d items", s.Unknown, want)
	}
	if got, want := len(s.Warnings), 3; got != want {
		t.Errorf("warnings: got %q, want %d items", s.Warnings, want)
	}
}

// forwarder is the fake resolver: it passes each query to the stub
// address through the scenario's network, as a forwarder would.
type forwarder struct {
	ex   Exchanger
	stub netip.AddrPort
	err  error // returned instead of forwarding, when set
}

func (f *forwarder) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if f.err != nil {
		return nil, f.err
	}
	up := q.Copy()
	up.Id = 4242
	up.RecursionDesired = false
	r, err := f.ex.Exchange(ctx, "udp", f.stub, up)
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	r.Id, r.RecursionDesired, r.RecursionAvailable, r.Authoritative = q.Id, q.RecursionDesired, true, false
	return r, nil
}

func forwarderFactory(err error) Factory {
	return func(s *Scenario, ex Exchanger, now func() time.Time) (Resolver, error) {
		v, _ := s.ConfigValue("stub-addr")
		a, perr := netip.ParseAddr(v)
		if perr != nil {
			return nil, fmt.Errorf("stub-addr: %w", perr)
		}
		return &forwarder{ex: ex, stub: netip.AddrPortFrom(a, 53), err: err}, nil
	}
}

// edeError carries an Extended DNS Error the way resolver.Error does.
type edeError struct{}

func (edeError) Error() string                      { return "bogus" }
func (edeError) ExtendedDNSError() (uint16, string) { return 6, "DNSSEC Bogus" }

func TestPlay(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		err      error // the fake resolver fails with it
		strict   bool
		passed   bool
		skipped  bool
		step     int
		reason   string // a substring of Reason
	}{
		{name: "pass", scenario: tiny, passed: true},
		{name: "pass strict", scenario: tiny, strict: true, passed: true},
		{name: "wrong address", scenario: strings.Replace(tiny, "WWW.example. IN A 192.0.2.1", "www.example. IN A 192.0.2.9", 1),
			step: 2, reason: "answer: missing"},
		{name: "wrong rcode", scenario: strings.Replace(tiny, "REPLY QR RD RA NXDOMAIN", "REPLY QR RD RA NOERROR", 1),
			step: 5, reason: "rcode"},
		{name: "ttl matters", scenario: strings.Replace(tiny, "MATCH all", "MATCH all ttl", 1),
			step: 2, reason: "answer: missing"},
		{name: "unmatched lenient", scenario: strings.Replace(tiny, "nx.example. IN A\nENTRY_END", "other. IN A\nENTRY_END", 1),
			step: 5, reason: "rcode: got SERVFAIL"},
		{name: "unmatched strict", scenario: strings.Replace(tiny, "nx.example. IN A\nENTRY_END", "other. IN A\nENTRY_END", 1),
			strict: true, step: 4, reason: "unanswered upstream query"},
		{name: "servfail", scenario: tiny, err: edeError{}, step: 2, reason: "rcode: got SERVFAIL"},
		{name: "mandatory unused lenient", scenario: strings.Replace(tiny, "MATCH opcode qname\n", "MANDATORY\nMATCH opcode qname\n", 1),
			passed: true},
		{name: "mandatory unused strict", scenario: strings.Replace(tiny, "MATCH opcode qname\n", "MANDATORY\nMATCH opcode qname\n", 1),
			strict: true, reason: "MANDATORY entry at line"},
		{name: "unsupported step", scenario: strings.Replace(tiny, "STEP 3 TIME_PASSES ELAPSE 10", "STEP 3 FROB", 1),
			skipped: true, step: 3, reason: "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(tt.scenario), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			got := Play(t.Context(), s, forwarderFactory(tt.err), tt.strict)
			if got.Passed != tt.passed || got.Skipped != tt.skipped || got.Step != tt.step || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("got %+v, want passed=%v skipped=%v step=%d reason ~ %q", got, tt.passed, tt.skipped, tt.step, tt.reason)
			}
		})
	}
}

func TestServfailEDE(t *testing.T) {
	q := new(dns.Msg).SetQuestion("x.", dns.TypeA)
	q.SetEdns0(4096, true)
	m := servfail(q, fmt.Errorf("wrapped: %w", edeError{}))
	if got, want := m.Rcode, dns.RcodeServerFailure; got != want {
		t.Errorf("rcode: got %d, want %d", got, want)
	}
	var code uint16
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_EDE); ok {
				code = e.InfoCode
			}
		}
	}
	if got, want := code, uint16(6); got != want {
		t.Errorf("EDE: got %d, want %d", got, want)
	}
}

func TestPlayClock(t *testing.T) {
	s, err := Parse(strings.NewReader(tiny), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	var now func() time.Time
	f := func(s *Scenario, ex Exchanger, n func() time.Time) (Resolver, error) {
		now = n
		return forwarderFactory(nil)(s, ex, n)
	}
	if r := Play(t.Context(), s, f, true); !r.Passed {
		t.Fatalf("Play: %+v", r)
	}
	want := time.Date(2020, 1, 2, 3, 4, 15, 0, time.UTC) // the override date plus TIME_PASSES 10
	if got := now(); !got.Equal(want) {
		t.Errorf("clock: got %v, want %v", got, want)
	}
}

// replySteps uses REPLY steps instead of ranges, as iter_tcbit.rpl does.
const replySteps = `stub-addr: 193.0.14.129
CONFIG_END
SCENARIO_BEGIN reply steps
STEP 10 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
cz. IN A
ENTRY_END
STEP 20 REPLY
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA TC NOERROR
SECTION QUESTION
cz. IN A
ENTRY_END
STEP 30 REPLY
ENTRY_BEGIN
MATCH opcode qtype qname tcp
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
cz. IN A
SECTION ANSWER
cz. IN A 10.20.30.40
ENTRY_END
STEP 40 CHECK_ANSWER
ENTRY_BEGIN
MATCH all
REPLY QR RD RA NOERROR
SECTION QUESTION
cz. IN A
SECTION ANSWER
cz. IN A 10.20.30.40
ENTRY_END
SCENARIO_END
`

// tcpRetry retries over TCP when the UDP answer is truncated.
type tcpRetry struct{ forwarder }

func (f *tcpRetry) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	for _, network := range []string{"udp", "tcp"} {
		r, err := f.ex.Exchange(ctx, network, f.stub, q.Copy())
		if err != nil {
			return nil, err
		}
		if !r.Truncated {
			r.Authoritative, r.RecursionAvailable, r.RecursionDesired = false, true, q.RecursionDesired
			return r, nil
		}
	}
	return nil, errors.New("tcpRetry: truncated over tcp")
}

func TestPlayReplySteps(t *testing.T) {
	s, err := Parse(strings.NewReader(replySteps), "reply")
	if err != nil {
		t.Fatal(err)
	}
	f := func(s *Scenario, ex Exchanger, now func() time.Time) (Resolver, error) {
		return &tcpRetry{forwarder{ex: ex, stub: netip.MustParseAddrPort("193.0.14.129:53")}}, nil
	}
	if r := Play(t.Context(), s, f, true); !r.Passed {
		t.Errorf("got %+v, want passed", r)
	}
}

// TestPlayAllSmoke plays every scenario against the forwarder: most fail,
// since a forwarder is no recursive resolver, but none may panic or hang,
// and the tally shows the player's reach.
func TestPlayAllSmoke(t *testing.T) {
	dir := scenarioDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.rpl"))
	if err != nil {
		t.Fatal(err)
	}
	var passed, failed, skipped int
	reasons := map[string]int{}
	for _, path := range files {
		s, err := ParseFile(path)
		if err != nil {
			t.Fatalf("ParseFile: %v", err)
		}
		r := Play(t.Context(), s, forwarderFactory(nil), false)
		switch {
		case r.Passed:
			passed++
		case r.Skipped:
			skipped++
			reasons[strings.SplitN(r.Reason, ":", 2)[0]]++
		default:
			failed++
		}
	}
	t.Logf("forwarder: %d passed, %d failed, %d skipped %v", passed, failed, skipped, reasons)
}
