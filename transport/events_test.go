package transport

import (
	"net"
	"testing"
	"time"
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
