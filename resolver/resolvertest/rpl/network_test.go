package rpl

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const netScenario = `CONFIG_END
SCENARIO_BEGIN network
RANGE_BEGIN 0 10
	ADDRESS 192.0.2.1
	ADDRESS 2001:db8::1
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
a.example. IN A
SECTION ANSWER
a.example. IN A 192.0.2.10
ENTRY_END
ENTRY_BEGIN
MATCH opcode qname
ADJUST do_not_answer
SECTION QUESTION
silent.example. IN A
ENTRY_END
ENTRY_BEGIN
MATCH qname
ADJUST raw_id
SECTION QUESTION
raw.example. IN A
RAW
ffff81800000000000000000
ENTRY_END
RANGE_END
RANGE_BEGIN 11 20
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id copy_query
REPLY QR NXDOMAIN
SECTION QUESTION
a.example. IN A
ENTRY_END
RANGE_END
RANGE_BEGIN 0 10 192.0.2.3
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
b.example. IN A
ENTRY_END
RANGE_END
STEP 1 QUERY
ENTRY_BEGIN
SECTION QUESTION
a.example. IN A
ENTRY_END
SCENARIO_END
`

func TestNetworkExchange(t *testing.T) {
	s, err := Parse(strings.NewReader(netScenario), "network")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		step   int
		server string
		qname  string
		rcode  int   // wanted rcode
		err    error // wanted error
		answer int   // wanted answer records
	}{
		{"match v4", 1, "192.0.2.1:53", "A.Example.", dns.RcodeSuccess, nil, 1},
		{"match v6", 1, "[2001:db8::1]:53", "a.example.", dns.RcodeSuccess, nil, 1},
		{"unlisted server counts as listed", 1, "192.0.2.99:53", "a.example.", dns.RcodeSuccess, nil, 1},
		{"first eligible range only", 1, "192.0.2.3:53", "a.example.", 0, ErrNoAnswer, 0},
		{"later range any address", 15, "198.51.100.7:53", "a.example.", dns.RcodeNameError, nil, 0},
		{"no step", 30, "192.0.2.1:53", "a.example.", 0, ErrNoAnswer, 0},
		{"do not answer", 1, "192.0.2.1:53", "silent.example.", 0, ErrNoAnswer, 0},
		{"raw", 1, "192.0.2.1:53", "raw.example.", dns.RcodeSuccess, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNetwork(s)
			n.SetStep(tt.step)
			q := new(dns.Msg).SetQuestion(tt.qname, dns.TypeA)
			q.Id = 777
			r, err := n.Exchange(t.Context(), "udp", netip.MustParseAddrPort(tt.server), q)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err: got %v, want %v", err, tt.err)
			}
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("err: got %v, want it to wrap os.ErrDeadlineExceeded", err)
				}
				if tt.name != "do not answer" && len(n.Unmatched()) != 1 {
					t.Errorf("unmatched: got %q, want one entry", n.Unmatched())
				}
				return
			}
			if got, want := r.Id, uint16(777); got != want {
				t.Errorf("id: got %d, want %d", got, want)
			}
			if got, want := r.Rcode, tt.rcode; got != want {
				t.Errorf("rcode: got %d, want %d", got, want)
			}
			if got, want := len(r.Answer), tt.answer; got != want {
				t.Errorf("answer: got %d records, want %d", got, want)
			}
			if len(r.Question) > 0 && tt.name != "raw" && r.Question[0].Name != tt.qname {
				t.Errorf("question: got %q, want the query's spelling %q", r.Question[0].Name, tt.qname)
			}
		})
	}
}
