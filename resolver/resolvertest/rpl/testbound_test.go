package rpl

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testboundScenario is written in Unbound's dialect: config clauses,
// several pairs on one line, decimal and EVAL TIME_PASSES, a hex answer,
// hex EDNS data and a range entry without copy_id whose step is the one
// after the QUERY.
const testboundScenario = `server:
	private-address: fd00::/8
	dns64-prefix: 64:ff9b::/96
	module-config: "dns64 iterator"
stub-zone:
	name: "."
	stub-addr: 193.0.14.129
forward-zone: name: "lan." forward-addr: 192.0.2.1@5353 forward-addr: 192.0.2.2
local-data: "x.example. 3600 IN AAAA 2001:db8::1"
CONFIG_END

SCENARIO_BEGIN testbound dialect
RANGE_BEGIN 10 20
	ADDRESS 193.0.14.129
ENTRY_BEGIN
MATCH opcode qtype qname
REPLY QR AA NOERROR
SECTION QUESTION
www.example. IN A
SECTION ANSWER
www.example. IN A 192.0.2.80
SECTION ADDITIONAL
	HEX_EDNSDATA_BEGIN
		00 0b 00 00
	HEX_EDNSDATA_END
ENTRY_END
RANGE_END

STEP 1 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
www.example. IN A
HEX_ANSWER_BEGIN
	00 00 01 00 ; ID, RD
	00 01 00 00 00 00 00 00
	03 77 77 77 07 65 78 61 6d 70 6c 65 00 ; www.example.
	00 01 00 01
HEX_ANSWER_END
ENTRY_END
STEP 10 CHECK_ANSWER
ENTRY_BEGIN
MATCH all
REPLY QR RD RA NOERROR
SECTION QUESTION
www.example. IN A
SECTION ANSWER
www.example. IN A 192.0.2.80
ENTRY_END
STEP 11 TIME_PASSES ELAPSE 0.05
STEP 12 TIME_PASSES EVAL ${30*24*3600+1}
STEP 13 TIME_PASSES EVAL ${$probe}
SCENARIO_END
`

func TestParseTestbound(t *testing.T) {
	s, err := Parse(strings.NewReader(testboundScenario), "testbound")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Testbound {
		t.Errorf("Testbound not set for a config with clauses")
	}
	var got []string
	for _, kv := range s.Config {
		got = append(got, fmt.Sprintf("%s/%d %s=%s", kv.Section, kv.Group, kv.Key, kv.Value))
	}
	want := []string{
		"server/1 private-address=fd00::/8", "server/1 dns64-prefix=64:ff9b::/96", "server/1 module-config=dns64 iterator",
		"stub-zone/2 name=.", "stub-zone/2 stub-addr=193.0.14.129",
		"forward-zone/3 name=lan.", "forward-zone/3 forward-addr=192.0.2.1@5353", "forward-zone/3 forward-addr=192.0.2.2",
		"forward-zone/3 local-data=x.example. 3600 IN AAAA 2001:db8::1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config:\ngot  %q\nwant %q", got, want)
	}
	if g := s.Groups("forward-zone"); len(g) != 1 || fmt.Sprint(Values(g[0], "forward-addr")) != "[192.0.2.1@5353 192.0.2.2]" {
		t.Errorf("forward-zone groups: got %v", g)
	}
	if q := s.Steps[0].Entry; len(q.Raw) != 29 {
		t.Errorf("HEX_ANSWER: got %d bytes, want 29", len(q.Raw))
	}
	if e := s.Ranges[0].Entries[0]; fmt.Sprintf("%x", e.EDNSData) != "000b0000" || len(e.Extra) != 0 {
		t.Errorf("HEX_EDNSDATA: got %x, extra %v", e.EDNSData, e.Extra)
	}
	for i, want := range []time.Duration{50 * time.Millisecond, (30*24*3600 + 1) * time.Second, 0} {
		if st := s.Steps[2+i]; st.Elapse != want || (st.Unsupported != "") != (i == 2) {
			t.Errorf("step %d: elapse %v unsupported %q, want %v", st.ID, st.Elapse, st.Unsupported, want)
		}
	}
	if len(s.Warnings)+len(s.Unknown) != 0 {
		t.Errorf("got warnings %q unknown %q, want none", s.Warnings, s.Unknown)
	}
}

// TestPlayTestbound: the query of step 1 is answered from the range of
// steps 10-20 (testbound matches at the next step), by an entry without
// copy_id, and the scenario stops, skipped, at the EVAL it cannot do.
func TestPlayTestbound(t *testing.T) {
	s, err := Parse(strings.NewReader(testboundScenario), "testbound")
	if err != nil {
		t.Fatal(err)
	}
	f := func(s *Scenario, ex Exchanger, now func() time.Time) (Resolver, error) {
		return resolverFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
			up := new(dns.Msg)
			up.SetQuestion(q.Question[0].Name, q.Question[0].Qtype)
			up.Id = 4242
			m, err := ex.Exchange(ctx, "udp", netip.MustParseAddrPort("193.0.14.129:53"), up)
			if err != nil {
				return nil, err
			}
			if m.Id != up.Id {
				return nil, fmt.Errorf("reply ID %d, want %d", m.Id, up.Id)
			}
			m.SetReply(q)
			m.Authoritative = false
			return m, nil
		}), nil
	}
	r := Play(context.Background(), s, f, true)
	if !r.Skipped || r.Step != 13 {
		t.Errorf("got %+v, want skipped at step 13", r)
	}
}

type resolverFunc func(ctx context.Context, q *dns.Msg) (*dns.Msg, error)

func (f resolverFunc) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) { return f(ctx, q) }

// TestMinimalView: with Unbound's minimal-responses: no, lenient mode
// does not require the NS and glue a minimal responder leaves out of a
// positive answer, but keeps a negative answer's authority section.
func TestMinimalView(t *testing.T) {
	rr := func(s string) dns.RR { r, _ := dns.NewRR(s); return r }
	pos := &Entry{Answer: []dns.RR{rr("a.example. A 192.0.2.1")},
		Ns:    []dns.RR{rr("example. NS ns.example."), rr("example. RRSIG NS 8 1 3600 20300101000000 20200101000000 1 example. AAAA")},
		Extra: []dns.RR{rr("ns.example. A 192.0.2.53"), rr("x.example. TXT x")}}
	if m := minimalView(pos); len(m.Ns) != 0 || len(m.Extra) != 1 || len(pos.Ns) != 2 {
		t.Errorf("positive: got authority %v additional %v (entry's authority %d)", m.Ns, m.Extra, len(pos.Ns))
	}
	neg := &Entry{Ns: []dns.RR{rr("example. SOA ns.example. h.example. 1 2 3 4 5"), rr("example. NS ns.example.")}}
	if m := minimalView(neg); len(m.Ns) != 2 {
		t.Errorf("negative: got authority %v, want it whole", m.Ns)
	}
	nx := &Entry{Rcode: dns.RcodeNameError, Ns: []dns.RR{rr("example. NS ns.example.")}}
	if m := minimalView(nx); len(m.Ns) != 1 {
		t.Errorf("NXDOMAIN: got authority %v, want it whole", m.Ns)
	}
}

// TestPlayTestboundAnswerList: testbound checks each answer once, against
// any answer not yet checked, so queries answered out of order pass.
func TestPlayTestboundAnswerList(t *testing.T) {
	const sc = `server:
CONFIG_END
SCENARIO_BEGIN two answers
STEP 1 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
a.example. IN A
ENTRY_END
STEP 2 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
b.example. IN A
ENTRY_END
STEP 3 CHECK_ANSWER
ENTRY_BEGIN
MATCH qname
SECTION QUESTION
a.example. IN A
ENTRY_END
STEP 4 CHECK_ANSWER
ENTRY_BEGIN
MATCH qname
SECTION QUESTION
b.example. IN A
ENTRY_END
STEP 5 CHECK_ANSWER
ENTRY_BEGIN
MATCH qname
SECTION QUESTION
a.example. IN A
ENTRY_END
SCENARIO_END
`
	s, err := Parse(strings.NewReader(sc), "list")
	if err != nil {
		t.Fatal(err)
	}
	f := func(s *Scenario, ex Exchanger, now func() time.Time) (Resolver, error) {
		return resolverFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
			m := new(dns.Msg)
			m.SetReply(q)
			return m, nil
		}), nil
	}
	// Step 5 checks a.example. again: it was checked already, and the
	// last answer is b.example.'s, so the scenario fails there.
	if r := Play(context.Background(), s, f, false); r.Passed || r.Step != 5 {
		t.Errorf("got %+v, want a failure at step 5", r)
	}
}
