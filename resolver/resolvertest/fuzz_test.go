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

// FuzzRespondSigned is FuzzRespond on the signed internet, where DO
// queries take the DNSSEC paths (proofs, wildcard and opt-out).
func FuzzRespondSigned(f *testing.F) {
	for _, q := range []*dns.Msg{
		doQuery("x.nsec3salt.sec.", dns.TypeMX),
		doQuery("a.b.nx.optout.", dns.TypeA),
		doQuery("www.unsigned.optout.", dns.TypeDS),
		doQuery("x.ent.wild.sec.", dns.TypeA),
		doQuery("229n9f51hn9rh9lh8ofa56jsi0f74i7q.nsec3.sec.", dns.TypeA),
		query("www.alg16.sec.", dns.TypeA, 0),
	} {
		wire, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire, "127.53.100.1", false)
		f.Add(wire, "127.53.104.1", true)
		f.Add(wire, "127.53.110.9", false)
		f.Add(wire, "127.53.110.11", false)
	}
	n, err := Signed(Options{})
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
	})
}

// BenchmarkSigned measures building the signed internet, which every test
// that uses it pays once.
func BenchmarkSigned(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Signed(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchangeSigned measures an in-process DO query answered with an
// NSEC3 closest-encloser proof.
func BenchmarkExchangeSigned(b *testing.B) {
	n, err := Signed(Options{})
	if err != nil {
		b.Fatal(err)
	}
	server := netip.MustParseAddrPort("127.53.110.10:53")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		q := doQuery("x.ent.nsec3salt.sec.", dns.TypeA)
		for pb.Next() {
			if _, err := n.Exchange(context.Background(), "udp", server, q); err != nil {
				b.Fatal(err)
			}
		}
	})
}
