package resolvertest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzRespond feeds arbitrary bytes to a server as if they came off the
// wire: it must never panic, and whatever it sends back must parse.
func FuzzRespond(f *testing.F) {
	for _, q := range []*dns.Msg{
		query("www.plain.example.", dns.TypeA, 0),
		query("x.local.dname.example.", dns.TypeA, 1232),
		query("y.x.alias.wild.example.", dns.TypeANY, 1232),
		query("txt.big.example.", dns.TypeTXT, 512),
		query("plain.example.", dns.TypeDS, 0),
		query(".", dns.TypeNS, 4096),
	} {
		wire, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire, "127.53.0.1", false)
		f.Add(wire, "127.53.14.1", true)
		f.Add(wire, "127.53.15.1", false)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, "127.53.10.1", false)
	n, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, wire []byte, server string, tcp bool) {
		addr, err := netip.ParseAddr(server)
		if err != nil {
			return
		}
		proto := "udp"
		if tcp {
			proto = "tcp"
		}
		out, err := n.respond(context.Background(), proto, netip.AddrPortFrom(addr, 53), wire)
		if err != nil || out == nil {
			return
		}
		if err := new(dns.Msg).Unpack(out); err != nil && len(out) > 12 {
			t.Errorf("reply does not parse: %v", err)
		}
		if !tcp && len(out) > ednsSize {
			t.Errorf("udp reply of %d octets", len(out))
		}
	})
}

// BenchmarkExchange measures one in-process query: what a resolver test
// pays per upstream query.
func BenchmarkExchange(b *testing.B) {
	n, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	server := netip.MustParseAddrPort("127.53.15.1:53")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		q := query("y.x.alias.wild.example.", dns.TypeA, 1232)
		for pb.Next() {
			if _, err := n.Exchange(context.Background(), "udp", server, q); err != nil {
				b.Fatal(err)
			}
		}
	})
}
