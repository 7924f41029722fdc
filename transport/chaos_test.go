package transport

import (
	"testing"

	"github.com/miekg/dns"
)

func chaosQuery(name string, qtype uint16, nsid bool) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.Question[0].Qclass = dns.ClassCHAOS
	if nsid {
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	}
	return q
}

func nsidOf(m *dns.Msg) (string, bool) {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				return n.Nsid, true
			}
		}
	}
	return "", false
}

// TestChaosAndNSID checks the CHAOS answers Config.Chaos configures, the
// REFUSED every other CHAOS question gets, and NSID (RFC 5001) only for
// queries that ask, over UDP and TCP.
func TestChaosAndNSID(t *testing.T) {
	cfg := Config{
		Handler: testHandler(t),
		Chaos:   map[string]string{"id.server.": "fra-1", "hostname.bind.": "fra-1", "version.bind.": "hush 1.0"},
		NSID:    []byte("fra-1"),
	}
	udp, _ := startUDP(t, cfg)
	tcp, _ := startTCP(t, cfg)
	plain, _ := startUDP(t, Config{Handler: testHandler(t)})
	for _, tc := range []struct {
		addr, network string
		q             *dns.Msg
		rcode         int
		txt           string
		nsid          string // hex; "" for none
	}{
		{udp, "udp", chaosQuery("id.server.", dns.TypeTXT, false), dns.RcodeSuccess, "fra-1", ""},
		{tcp, "tcp", chaosQuery("ID.Server.", dns.TypeTXT, true), dns.RcodeSuccess, "fra-1", "6672612d31"},
		{udp, "udp", chaosQuery("version.bind.", dns.TypeANY, false), dns.RcodeSuccess, "hush 1.0", ""},
		{udp, "udp", chaosQuery("hostname.bind.", dns.TypeA, false), dns.RcodeSuccess, "", ""},
		{udp, "udp", chaosQuery("version.server.", dns.TypeTXT, false), dns.RcodeRefused, "", ""},
		{udp, "udp", chaosQuery("authors.bind.", dns.TypeTXT, true), dns.RcodeRefused, "", "6672612d31"},
		{udp, "udp", query("example.com.", dns.TypeA, true, 1232, false), dns.RcodeSuccess, "", ""},
		{udp, "udp", withNSID(query("example.com.", dns.TypeA, true, 1232, false)), dns.RcodeSuccess, "", "6672612d31"},
		{plain, "udp", chaosQuery("id.server.", dns.TypeTXT, true), dns.RcodeRefused, "", ""},
	} {
		name := tc.q.Question[0].Name
		r := exchange(t, tc.network, tc.addr, tc.q)
		if r.Rcode != tc.rcode {
			t.Errorf("%s %s: rcode %s; want %s", tc.network, name, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
		}
		txt := ""
		for _, rr := range r.Answer {
			if x, ok := rr.(*dns.TXT); ok && x.Hdr.Class == dns.ClassCHAOS && x.Hdr.Name == name {
				txt = x.Txt[0]
			}
		}
		if txt != tc.txt {
			t.Errorf("%s %s: TXT %q; want %q", tc.network, name, txt, tc.txt)
		}
		if tc.txt != "" && !r.Authoritative {
			t.Errorf("%s %s: AA not set", tc.network, name)
		}
		got, _ := nsidOf(r)
		if got != tc.nsid {
			t.Errorf("%s %s: NSID %q; want %q", tc.network, name, got, tc.nsid)
		}
	}
}

func withNSID(q *dns.Msg) *dns.Msg {
	opt := q.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	return q
}
