package resolver

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// localZones are answered by hush itself and never sent upstream: names
// that RFC 6761, RFC 6303, RFC 7686 and RFC 8375 say a resolver must not
// (or need not) ask the internet about. Asking the root about 1.168.192.in-
// addr.arpa or printer.home.arpa would tell the world about the user's
// network.
var localZones = append(sharedSpaceReverse(),
	"localhost.",
	"invalid.",
	"onion.",
	"home.arpa.",
	// RFC 9462 §6.4: DDR's own zone, answered only by the resolver asked.
	"resolver.arpa.",
	// RFC 6303 §4.2–4.4: reverse zones of private and special addresses.
	"10.in-addr.arpa.",
	"16.172.in-addr.arpa.", "17.172.in-addr.arpa.", "18.172.in-addr.arpa.", "19.172.in-addr.arpa.",
	"20.172.in-addr.arpa.", "21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
	"24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.", "27.172.in-addr.arpa.",
	"28.172.in-addr.arpa.", "29.172.in-addr.arpa.", "30.172.in-addr.arpa.", "31.172.in-addr.arpa.",
	"168.192.in-addr.arpa.",
	"0.in-addr.arpa.",
	"127.in-addr.arpa.",
	"254.169.in-addr.arpa.",
	"2.0.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.",
	"255.255.255.255.in-addr.arpa.",
	"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	"d.f.ip6.arpa.",
	"8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
	"8.b.d.0.1.0.0.2.ip6.arpa.",
)

// localZoneSet is localZones as a set, for localZoneOf.
var localZoneSet = func() map[string]bool {
	m := make(map[string]bool, len(localZones))
	for _, z := range localZones {
		m[z] = true
	}
	return m
}()

// localZoneOf returns the local zone that holds name (lowercase, fully
// qualified), if any. It looks up each of the name's suffixes at a label
// boundary, so that it costs no allocation and a few map lookups, where
// comparing with each of the hundred zones in turn cost a quarter of a
// cache miss's CPU time.
func localZoneOf(name string) (string, bool) {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if localZoneSet[name[off:]] {
			return name[off:], true
		}
	}
	return "", false
}

// sharedSpaceReverse returns the reverse zones of the shared address
// space 100.64.0.0/10 (RFC 7793).
func sharedSpaceReverse() []string {
	var out []string
	for i := 64; i <= 127; i++ {
		out = append(out, fmt.Sprintf("%d.100.in-addr.arpa.", i))
	}
	return out
}

// ddrName is where clients look for a resolver's encrypted endpoints
// (RFC 9462 §4).
const ddrName = "_dns.resolver.arpa."

// localSOA is the SOA that goes with hush's own negative answers (RFC 6303
// §3 gives these values).
func localSOA(zone string) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 10800},
		Ns:      zone,
		Mbox:    "nobody.invalid.",
		Serial:  1,
		Refresh: 3600, Retry: 1200, Expire: 604800, Minttl: 10800,
	}
}

// special answers what must not go upstream: meta query types, classes
// other than IN, and the locally served zones. It reports false for
// everything else.
func (r *Resolver) special(q *dns.Msg, qq dns.Question) (*dns.Msg, bool) {
	m := new(dns.Msg)
	switch qq.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB:
		m.Rcode = dns.RcodeNotImplemented
		return reply(q, m), true
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		m.Rcode = dns.RcodeFormatError
		return reply(q, m), true
	case dns.TypeANY:
		// RFC 8482 §4.2: answer ANY with a small synthesised HINFO.
		m.Answer = []dns.RR{&dns.HINFO{
			Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600},
			Cpu: "RFC8482",
		}}
		return reply(q, m), true
	}
	if qq.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		return reply(q, m), true
	}
	name := strings.ToLower(qq.Name)
	if z, ok := localZoneOf(name); ok {
		if name == z && qq.Qtype == dns.TypeDS {
			// The DS of a zone lives in its parent (RFC 4035 §2.4): a
			// validator behind hush proves the zone insecure from the
			// parent's signed answer, which a local NODATA cannot give.
			return nil, false
		}
		// RFC 6303 §3: hush is the authority for these zones.
		m.Authoritative = true
		if z == "localhost." {
			switch qq.Qtype {
			case dns.TypeA:
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10800}, A: []byte{127, 0, 0, 1}}}
				return reply(q, m), true
			case dns.TypeAAAA:
				m.Answer = []dns.RR{&dns.AAAA{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 10800}, AAAA: append(make([]byte, 15), 1)}}
				return reply(q, m), true
			}
			m.Ns = []dns.RR{localSOA(z)}
			return reply(q, m), true
		}
		if designated := *r.designated.Load(); z == "resolver.arpa." && name == ddrName && len(designated) > 0 {
			if qq.Qtype == dns.TypeSVCB {
				m.Answer = make([]dns.RR, len(designated))
				for i, rr := range designated {
					m.Answer[i] = rr
				}
			} else {
				m.Ns = []dns.RR{localSOA(z)}
			}
			return reply(q, m), true
		}
		if name == z && (qq.Qtype == dns.TypeSOA || qq.Qtype == dns.TypeNS) {
			if qq.Qtype == dns.TypeSOA {
				m.Answer = []dns.RR{localSOA(z)}
			} else {
				m.Answer = []dns.RR{&dns.NS{Hdr: dns.RR_Header{Name: z, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 10800}, Ns: z}}
			}
			return reply(q, m), true
		}
		if name == z {
			m.Ns = []dns.RR{localSOA(z)}
			return reply(q, m), true
		}
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{localSOA(z)}
		return reply(q, m), true
	}
	return nil, false
}
