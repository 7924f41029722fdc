package transport

import (
	"io"
	"testing"

	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

// TestSetConnLimitsLive lowers MaxConnsPerClient under open connections:
// they stay and answer, a new one is refused, and raising the cap again
// admits one.
func TestSetConnLimitsLive(t *testing.T) {
	checkLeaks(t)
	addr, s := startTCP(t, Config{Handler: testHandler(t)})
	ask := func(c *dns.Conn) error {
		if err := c.WriteMsg(query("example.com.", dns.TypeA, false, 0, false)); err != nil {
			return err
		}
		_, err := c.ReadMsg()
		return err
	}
	var open []*dns.Conn
	for range 2 {
		c := &dns.Conn{Conn: dialRaw(t, "tcp", addr)}
		if err := ask(c); err != nil {
			t.Fatalf("before the change: %v", err)
		}
		open = append(open, c)
	}
	s.SetConnLimits(0, 1)
	for i, c := range open {
		if err := ask(c); err != nil {
			t.Errorf("connection %d open before the cap was lowered: %v; want it kept", i, err)
		}
	}
	refused := dialRaw(t, "tcp", addr)
	if _, err := refused.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a new connection over the lowered cap: read got %v; want EOF (closed at once)", err)
	}
	s.SetConnLimits(0, 3)
	if err := ask(&dns.Conn{Conn: dialRaw(t, "tcp", addr)}); err != nil {
		t.Errorf("a new connection after raising the cap: %v", err)
	}
}

// TestSetIdentityAndRateLimitLive sets the CHAOS answers, NSID and a rate
// limit on a running UDP server and checks that the next queries see
// them, and that a nil rate limit turns it off again.
func TestSetIdentityAndRateLimitLive(t *testing.T) {
	checkLeaks(t)
	addr, s := startUDP(t, Config{Handler: testHandler(t)})
	chaos := func() *dns.Msg {
		q := query("id.server.", dns.TypeTXT, true, 1232, false)
		q.Question[0].Qclass = dns.ClassCHAOS
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		return exchange(t, "udp", addr, q)
	}
	if r := chaos(); r.Rcode != dns.RcodeRefused {
		t.Errorf("id.server. before SetIdentity: %s; want REFUSED", dns.RcodeToString[r.Rcode])
	}
	s.SetIdentity(map[string]string{"id.server.": "fra-2"}, []byte("fra-2"))
	r := chaos()
	nsid := ""
	for _, o := range r.IsEdns0().Option {
		if n, ok := o.(*dns.EDNS0_NSID); ok {
			nsid = n.Nsid
		}
	}
	if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "fra-2" || nsid != "6672612d32" {
		t.Errorf("id.server. after SetIdentity: %v NSID %q; want fra-2 and 6672612d32", r.Answer, nsid)
	}

	limiter, err := ratelimit.NewClients(ratelimit.ClientConfig{QPS: 0.001, Burst: 1, Slip: 1})
	if err != nil {
		t.Fatal(err)
	}
	plain := func() *dns.Msg { return exchange(t, "udp", addr, query("example.com.", dns.TypeA, true, 1232, false)) }
	s.SetRateLimit(limiter)
	if r := plain(); r.Truncated || len(r.Answer) == 0 {
		t.Errorf("first query under the limit: %v; want an answer", r)
	}
	if r := plain(); !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("second query over the limit: %v; want TC=1 without records", r)
	}
	s.SetRateLimit(nil)
	if r := plain(); r.Truncated || len(r.Answer) == 0 {
		t.Errorf("after the limit was removed: %v; want an answer", r)
	}
}
