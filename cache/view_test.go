package cache

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Signed records for the views' tests; the signatures need not verify.
const (
	sigA     = "www.example.com. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.com. c2lnbmF0dXJlLW9mLWEtcmVjb3Jkcw=="
	sigCNAME = "alias.example.com. 300 IN RRSIG CNAME 13 3 300 20300101000000 20200101000000 12345 example.com. c2lnbmF0dXJlLW9mLWEtY25hbWU="
	sigSOA   = "example.com. 300 IN RRSIG SOA 13 2 300 20300101000000 20200101000000 12345 example.com. c2lnbmF0dXJlLW9mLXRoZS1zb2E="
	soaRR    = "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300"
	nsecRR   = "example.com. 300 IN NSEC zzz.example.com. A NS SOA RRSIG NSEC"
	sigNSEC  = "example.com. 300 IN RRSIG NSEC 13 2 300 20300101000000 20200101000000 12345 example.com. c2lnbmF0dXJlLW9mLXRoZS1uc2Vj"
	nsec3RR  = "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.com. 300 IN NSEC3 1 0 0 - 0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TON A RRSIG"
)

// TestPlainView: a client without DO gets the stored answer less its
// DNSSEC records, whatever their place, and exactly what filtering the
// full answer gives; a client with DO gets the full answer.
func TestPlainView(t *testing.T) {
	tests := []struct {
		name  string
		qname string
		qtype uint16
		a     answer
	}{
		{"unsigned", www, dns.TypeA, positive},
		{"signed answer", www, dns.TypeA, answer{
			Answer: []string{"www.example.com. 300 IN A 192.0.2.1", sigA},
			Ns:     []string{"example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN NS ns2.example.com."},
			Extra:  []string{"ns1.example.com. 300 IN A 192.0.2.53", "ns2.example.com. 300 IN MX 10 mail.example.com."},
		}},
		{"signature first", www, dns.TypeA, answer{
			Answer: []string{sigA, "www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2"},
		}},
		{"chain", "alias.example.com.", dns.TypeA, answer{
			Answer: []string{"alias.example.com. 300 IN CNAME www.example.com.", sigCNAME, "www.example.com. 300 IN A 192.0.2.1", sigA},
			Ns:     []string{"example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN RRSIG NS 13 2 300 20300101000000 20200101000000 12345 example.com. c2ln", "example.com. 300 IN NS ns2.example.com."},
			Extra:  []string{"ns1.example.com. 300 IN A 192.0.2.53", "ns1.example.com. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.com. c2ln"},
		}},
		{"NXDOMAIN with proofs", "nx.example.com.", dns.TypeA, answer{
			Rcode: dns.RcodeNameError,
			Ns:    []string{soaRR, sigSOA, nsecRR, sigNSEC, nsec3RR},
		}},
		{"proofs between kept records", "nx.example.com.", dns.TypeMX, answer{
			Ns: []string{nsecRR, soaRR, sigSOA, "example.com. 300 IN NS ns1.example.com.", sigNSEC, "example.com. 300 IN NS ns3.example.com."},
		}},
		{"asked for NSEC", "example.com.", dns.TypeNSEC, answer{
			Answer: []string{nsecRR, sigNSEC},
		}},
		{"asked for RRSIG", www, dns.TypeRRSIG, answer{
			Answer: []string{sigA},
		}},
		{"kept name compressed against a dropped one", "nx.example.com.", dns.TypeA, answer{
			Rcode: dns.RcodeNameError,
			Ns:    []string{nsecRR, soaRR},
			Extra: []string{"zzz.example.com. 300 IN A 192.0.2.9", "a.zzz.example.com. 300 IN MX 1 zzz.example.com."},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.a.msg(t, tt.qname, tt.qtype)
			m.SetEdns0(1232, true)
			checkViews(t, m)
		})
	}
}

// checkViews stores m and checks both views, through GetMsg and AppendMsg,
// at a time when the TTLs have gone down.
func checkViews(t *testing.T, m *dns.Msg) *entry {
	t.Helper()
	q := m.Question[0]
	c := New(Config{})
	c.SetMsg(NewKey(q.Name, q.Qtype, q.Qclass, true, false), m, Meta{}, t0)
	now := t0.Add(2 * time.Second)
	full, _, ok := c.GetMsg(NewKey(q.Name, q.Qtype, q.Qclass, true, false), now)
	if !ok {
		t.Fatalf("GetMsg(DO) missed")
	}
	want := full.Copy()
	want.Answer = withoutDNSSEC(want.Answer, q.Qtype)
	want.Ns = withoutDNSSEC(want.Ns, q.Qtype)
	got, _, ok := c.GetMsg(NewKey(q.Name, q.Qtype, q.Qclass, false, false), now)
	if !ok {
		t.Fatalf("GetMsg(no DO) missed")
	}
	if got.String() != want.String() {
		t.Errorf("GetMsg(no DO) =\n%v\nwant\n%v\nfrom\n%v", got, want, full)
	}
	buf, _, ok := c.AppendMsg(nil, NewKey(q.Name, q.Qtype, q.Qclass, false, false), 0, now)
	if !ok {
		t.Fatalf("AppendMsg(no DO) missed")
	}
	var app dns.Msg
	if err := app.Unpack(buf); err != nil {
		t.Fatalf("unpack AppendMsg(no DO): %v", err)
	}
	if app.String() != want.String() {
		t.Errorf("AppendMsg(no DO) =\n%v\nwant\n%v", &app, want)
	}
	// The full view is m itself, TTLs aside.
	m2 := m.Copy()
	m2.Id = 0
	for _, mm := range []*dns.Msg{m2, full} {
		for _, sec := range [][]dns.RR{mm.Answer, mm.Ns, mm.Extra} {
			for _, rr := range sec {
				if rr.Header().Rrtype != dns.TypeOPT {
					rr.Header().Ttl = 0
				}
			}
		}
	}
	if full.String() != m2.String() {
		t.Errorf("GetMsg(DO) =\n%v\nwant\n%v", full, m2)
	}
	e, _ := c.store.Peek(msgKey(NewKey(q.Name, q.Qtype, q.Qclass, true, false)))
	return e
}

// TestPlainViewFallback: the message whose kept names point into a
// dropped record is packed on its own; the others are cut from the one
// stored message.
func TestPlainViewFallback(t *testing.T) {
	for _, tt := range []struct {
		a        answer
		fallback bool
	}{
		{answer{Rcode: dns.RcodeNameError, Ns: []string{soaRR, sigSOA, nsecRR, sigNSEC}}, false},
		{answer{Rcode: dns.RcodeNameError, Ns: []string{nsecRR, soaRR}, Extra: []string{"zzz.example.com. 300 IN A 192.0.2.9"}}, true},
	} {
		m := tt.a.msg(t, "nx.example.com.", dns.TypeA)
		c := New(Config{})
		k := NewKey("nx.example.com.", dns.TypeA, dns.ClassINET, true, false)
		c.SetMsg(k, m, Meta{}, t0)
		e, ok := c.store.Peek(msgKey(k))
		if !ok {
			t.Fatalf("not stored")
		}
		if got := e.plain.alone != nil; got != tt.fallback {
			t.Errorf("%v: packed on its own = %v, want %v", tt.a.Ns, got, tt.fallback)
		}
	}
}

// TestPlainViewRandom compares the views of random messages, made of
// records whose names share suffixes in every way compression can use,
// with filtering the full message.
func TestPlainViewRandom(t *testing.T) {
	names := []string{"example.com.", "www.example.com.", "a.www.example.com.", "zzz.example.com.", "b.zzz.example.com.", "other.net.", "x.other.net."}
	pick := func(r *rand.Rand) string { return names[r.IntN(len(names))] }
	make1 := func(r *rand.Rand) string {
		owner := pick(r)
		switch r.IntN(10) {
		case 0:
			return fmt.Sprintf("%s 300 IN NS %s", owner, pick(r))
		case 1:
			return fmt.Sprintf("%s 300 IN MX 10 %s", owner, pick(r))
		case 2:
			return fmt.Sprintf("%s 300 IN SOA %s %s 1 2 3 4 300", owner, pick(r), pick(r))
		case 3:
			return fmt.Sprintf("%s 300 IN CNAME %s", owner, pick(r))
		case 4:
			return fmt.Sprintf("%s 300 IN NSEC %s A RRSIG", owner, pick(r))
		case 5, 6:
			return fmt.Sprintf("%s 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 1 %s c2ln", owner, pick(r))
		case 7:
			return fmt.Sprintf("%s 300 IN SRV 1 1 53 %s", owner, pick(r))
		case 8:
			return fmt.Sprintf("%s 300 IN NSEC3 1 0 0 - 0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TON A", owner)
		default:
			return fmt.Sprintf("%s 300 IN A 192.0.2.1", owner)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	var cut, fixed, alone int
	for i := range 500 {
		var a answer
		for range r.IntN(5) {
			a.Answer = append(a.Answer, make1(r))
		}
		for range r.IntN(5) {
			a.Ns = append(a.Ns, make1(r))
		}
		for range r.IntN(3) {
			a.Extra = append(a.Extra, make1(r))
		}
		if len(a.Answer) == 0 {
			a.Answer = []string{"www.example.com. 300 IN A 192.0.2.1"}
		}
		m := a.msg(t, pick(r), []uint16{dns.TypeA, dns.TypeNSEC, dns.TypeMX}[r.IntN(3)])
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			switch e := checkViews(t, m); {
			case e == nil || e.plain.none():
			case e.plain.alone != nil:
				alone++
			case len(e.plain.cut) > 2*int(e.plain.nDrop):
				fixed++
				fallthrough
			default:
				cut++
			}
		})
	}
	// The random messages must exercise every path.
	if cut < 100 || fixed < 20 || alone < 10 {
		t.Errorf("plain views cut %d (%d with pointers moved), packed alone %d; want a mix", cut, fixed, alone)
	}
	t.Logf("plain views cut %d (%d with pointers moved), packed alone %d", cut, fixed, alone)
}
