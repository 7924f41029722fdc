package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// chanEvents reports every event on a channel, so that the test waits for
// them instead of sleeping.
type chanEvents chan string

func (c chanEvents) ConnOpened() { c <- "opened" }
func (c chanEvents) ConnClosed() { c <- "closed" }
func (c chanEvents) Limited()    { c <- "limited" }

func nextEvent(t *testing.T, c chanEvents, want string) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("event %q; want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q event", want)
	}
}

// TestEventsCountConnections checks that a TCP server reports a connection
// that got a slot, one turned away by MaxConns, and the close.
func TestEventsCountConnections(t *testing.T) {
	ev := make(chanEvents, 8)
	addr, _ := startTCP(t, Config{Handler: testHandler(t), MaxConns: 1, Events: ev})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ev, "opened")
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	nextEvent(t, ev, "limited")
	first.Close()
	nextEvent(t, ev, "closed")
}

// TestSetAllowClients checks that a new ACL applies to the next query.
func TestSetAllowClients(t *testing.T) {
	addr, s := startUDP(t, Config{Handler: testHandler(t)})
	q := query("example.com.", dns.TypeA, true, 1232, false)
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("loopback allowed by default: got %s", dns.RcodeToString[r.Rcode])
	}
	s.SetAllowClients([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeRefused {
		t.Errorf("after SetAllowClients(192.0.2.0/24): got %s; want REFUSED", dns.RcodeToString[r.Rcode])
	}
	s.SetAllowClients(nil)
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after SetAllowClients(nil): got %s; want NOERROR (loopback)", dns.RcodeToString[r.Rcode])
	}
}
