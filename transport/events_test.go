package transport

import (
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
// that got a slot, one turned away by MaxConns while the other had a query
// in flight, and the closes, including that of an idle connection closed
// to make room.
func TestEventsCountConnections(t *testing.T) {
	ev := make(chanEvents, 8)
	release := make(chan struct{})
	addr, _ := startTCP(t, Config{Handler: blockHandler(t, release), MaxConns: 1, Events: ev})
	first := dialRaw(t, "tcp", addr)
	nextEvent(t, ev, "opened")
	fc := &dns.Conn{Conn: first}
	if err := fc.WriteMsg(query("block.example.", dns.TypeA, false, 0, false)); err != nil {
		t.Fatal(err)
	}
	// Once the server has answered a query behind the blocked one, the
	// blocked one is in flight.
	if err := fc.WriteMsg(query("example.com.", dns.TypeA, false, 0, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	second := dialRaw(t, "tcp", addr)
	nextEvent(t, ev, "limited")
	wantClosed(t, second)
	close(release)
	if _, err := fc.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	first.Close()
	nextEvent(t, ev, "closed")

	// An idle connection makes room for a new one: closed, then opened.
	idle := dialRaw(t, "tcp", addr)
	nextEvent(t, ev, "opened")
	newer := dialRaw(t, "tcp", addr)
	defer newer.Close()
	nextEvent(t, ev, "closed")
	nextEvent(t, ev, "opened")
	wantClosed(t, idle)
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
