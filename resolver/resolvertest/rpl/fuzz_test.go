package rpl

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func FuzzParse(f *testing.F) {
	f.Add(tiny)
	f.Add(replySteps)
	f.Add(netScenario)
	f.Add("CONFIG_END\nSTEP 1 QUERY\nENTRY_BEGIN\nSECTION ANSWER\nx. TXT ( \"a\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		// Whatever parsed must also build messages and match without
		// panicking.
		q := new(dns.Msg).SetQuestion("a.example.", dns.TypeA)
		for _, r := range s.Ranges {
			for _, e := range r.Entries {
				Mismatch(e, q, "udp")
				Reply(e, q)
			}
		}
		for _, st := range s.Steps {
			if st.Entry != nil {
				Query(st.Entry, 1)
			}
		}
		StartTime(s)
	})
}
