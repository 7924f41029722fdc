package resolver

import (
	"testing"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

// TestStoreLink: lookup leaves a complete answer to the client's own
// question to resolveTopWith, which stores the whole answer under the same
// key; everything else a lookup finds is stored as before.
func TestStoreLink(t *testing.T) {
	answer := func(name string, rrs ...string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.Response, m.Authoritative = true, true
		for _, s := range rrs {
			m.Answer = append(m.Answer, glueRR(t, s))
		}
		return m
	}
	plain := answer("www.example.", "www.example. 300 IN A 192.0.2.1")
	link := answer("alias.example.", "alias.example. 300 IN CNAME www.other.")
	for _, tc := range []struct {
		name   string
		msg    *dns.Msg
		top    string // qs.top's name ("": none)
		depth  int
		stored bool
	}{
		{"complete answer to the client's question", plain, "www.example.", 0, false},
		{"the same name looked up for another query", plain, "other.example.", 0, true},
		{"no client question (a fetch of its own)", plain, "", 0, true},
		{"the same name in a sub-resolution", plain, "www.example.", 1, true},
		{"first link of the client's chain", link, "alias.example.", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(Config{RootHints: []dns.RR{glueRR(t, ". 3600 IN NS a.root."), glueRR(t, "a.root. 3600 IN A 127.0.0.1")}})
			if err != nil {
				t.Fatal(err)
			}
			qs := newQState(&r.lim)
			qs.depth = tc.depth
			if tc.top != "" {
				qs.top = qkey{r.fullKey(tc.top, dns.TypeA).Name, dns.TypeA}
			}
			name := tc.msg.Question[0].Name
			key := r.fullKey(name, dns.TypeA)
			r.storeLink(qs, key, tc.msg, cache.Meta{Rank: cache.RankAnswer})
			_, meta, ok := r.cache.GetMsg(key, r.now())
			if ok != tc.stored {
				t.Fatalf("stored = %v, want %v", ok, tc.stored)
			}
			if ok && meta.Partial != (tc.msg == link) {
				t.Errorf("Partial = %v for %s", meta.Partial, name)
			}
		})
	}
}
