package resolver

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// TestExchangeCancelledSendsNothing: an exchange on a context already done
// puts no query on the wire, with the resolver's own (zero) dialer as with
// one given. The server reads what comes: the first datagram must be the
// live query sent after the cancelled ones (loopback delivers in order).
func TestExchangeCancelledSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    *NetExchanger
	}{
		{"zero dialer", &NetExchanger{}},
		{"own dialer", &NetExchanger{Dialer: &net.Dialer{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			server := netip.MustParseAddrPort(pc.LocalAddr().String())
			done, cancel := context.WithCancel(context.Background())
			cancel()
			for range 5 {
				q := new(dns.Msg)
				q.SetQuestion("cancelled.example.", dns.TypeA)
				if _, err := tc.x.Exchange(done, "udp", server, q); err == nil {
					t.Fatal("an exchange on a done context succeeded")
				}
			}
			errc := make(chan error, 1)
			go func() {
				q := new(dns.Msg)
				q.SetQuestion("live.example.", dns.TypeA)
				_, err := tc.x.Exchange(context.Background(), "udp", server, q)
				errc <- err
			}()
			buf := make([]byte, 512)
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			got := new(dns.Msg)
			if err := got.Unpack(buf[:n]); err != nil {
				t.Fatal(err)
			}
			if name := got.Question[0].Name; name != "live.example." {
				t.Fatalf("first query on the wire: %s, want live.example. (a cancelled exchange sent one)", name)
			}
			r := new(dns.Msg)
			r.SetReply(got)
			b, _ := r.Pack()
			if _, err := pc.WriteTo(b, from); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("live exchange: %v", err)
			}
		})
	}
}
