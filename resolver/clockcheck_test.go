package resolver_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestWrongClockAtBoot is a router that boots with its clock in 1970,
// before hush's build time: signed answers come without AD and with EDE 5
// instead of SERVFAIL; forgeries still fail. Once NTP has set the clock,
// the next query is validated in full and nothing checked without times
// is used again, with no restart.
func TestWrongClockAtBoot(t *testing.T) {
	signedAt := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	n, err := resolvertest.Signed(resolvertest.Options{Now: signedAt})
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	wall := newFakeClock(time.Unix(0, 0))
	age := newFakeClock(time.Unix(1000, 0))
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
		c.Now = wall.Now
		c.AgeClock = age.Now
		c.ClockNotBefore = signedAt.AddDate(0, -1, 0) // the build
	})

	type want struct {
		fail   bool   // SERVFAIL
		ad     bool   // AD set
		ede    uint16 // 0xffff: none
		reason string
	}
	const none = 0xffff
	check := func(step, name string, w want) {
		t.Helper()
		m, err := askDO(t, r, name, dns.TypeA, true, false)
		var re *resolver.Error
		if w.fail {
			if !errors.As(err, &re) || re.EDE != w.ede {
				t.Errorf("%s: %s: got %v (%v), want SERVFAIL with EDE %d", step, name, m, err, w.ede)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", step, name, err)
		}
		if m.AuthenticatedData != w.ad {
			t.Errorf("%s: %s: AD %v, want %v", step, name, m.AuthenticatedData, w.ad)
		}
		var got *dns.EDNS0_EDE
		if opt := m.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					got = e
				}
			}
		}
		switch {
		case w.ede == none && got != nil:
			t.Errorf("%s: %s: EDE %d %q, want none", step, name, got.InfoCode, got.ExtraText)
		case w.ede != none && (got == nil || got.InfoCode != w.ede || got.ExtraText != w.reason):
			t.Errorf("%s: %s: EDE %v, want %d %q", step, name, got, w.ede, w.reason)
		}
	}
	if r.ClockPlausible() {
		t.Fatal("ClockPlausible in 1970")
	}
	unset := want{ede: resolver.EDEDNSSECIndeterminate, reason: "clock not set: signature times not checked"}
	steps := []struct {
		name string
		want want
	}{
		{"www.rsa.sec.", unset},
		{"www.expired.broken.", unset}, // only its times are wrong
		{"www.badsig.broken.", want{fail: true, ede: dns.ExtendedErrorCodeDNSBogus}},
		{"www.insecure.sec.", unset}, // the proof of no DS was checked without times too
	}
	for _, s := range steps {
		check("clock in 1970", s.name, s.want)
	}
	// Cache hits in the window are the same.
	check("clock in 1970, again", "www.rsa.sec.", unset)

	wall.Set(signedAt.Add(time.Hour)) // NTP answered
	age.Add(time.Second)
	if !r.ClockPlausible() {
		t.Fatal("not ClockPlausible after the clock was set")
	}
	after := []struct {
		name string
		want want
	}{
		{"www.rsa.sec.", want{ad: true, ede: none}},
		{"www.expired.broken.", want{fail: true, ede: dns.ExtendedErrorCodeSignatureExpired}},
		{"www.badsig.broken.", want{fail: true, ede: dns.ExtendedErrorCodeDNSBogus}},
		{"www.insecure.sec.", want{ede: none}},
	}
	for _, s := range after {
		check("clock set", s.name, s.want)
	}
}

// TestClockBehindRoot is a router whose clock came back at boot from a
// file's date: after the build time, so plausible, but a day behind. The
// root's own signatures, which verify but are not valid yet, show it: the
// first query fails, the next are answered without AD (EDE 5), and once
// NTP has set the clock they are validated in full. A zone other than the
// root signing ahead of time changes nothing.
func TestClockBehindRoot(t *testing.T) {
	signedAt := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	n, err := resolvertest.Signed(resolvertest.Options{Now: signedAt})
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	wall := newFakeClock(signedAt.Add(-24 * time.Hour))
	age := newFakeClock(time.Unix(1000, 0))
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
		c.Now = wall.Now
		c.AgeClock = age.Now
		c.ClockNotBefore = signedAt.AddDate(0, -1, 0)
	})
	if !r.ClockPlausible() {
		t.Fatal("a clock after the build time taken for implausible")
	}
	if _, err := askDO(t, r, "www.rsa.sec.", dns.TypeA, true, false); err == nil {
		t.Fatal("first query with the clock a day behind: no error")
	}
	if r.ClockPlausible() {
		t.Fatal("still ClockPlausible after the root's signatures showed the clock behind")
	}
	m, err := askDO(t, r, "www.rsa.sec.", dns.TypeA, true, false)
	if err != nil || m.AuthenticatedData {
		t.Fatalf("second query: got %v (%v), want an answer without AD", m, err)
	}
	wall.Set(signedAt.Add(time.Hour))
	age.Add(time.Second)
	if m, err := askDO(t, r, "www.rsa.sec.", dns.TypeA, true, false); err != nil || !m.AuthenticatedData {
		t.Fatalf("clock set: got %v (%v), want AD", m, err)
	}
	// notyet.broken. signs 30 days ahead: Bogus, and the clock stays.
	if _, err := askDO(t, r, "www.notyet.broken.", dns.TypeA, true, false); err == nil {
		t.Fatal("www.notyet.broken.: no error")
	}
	if !r.ClockPlausible() {
		t.Error("a leaf zone's early signatures made the clock implausible")
	}
}
