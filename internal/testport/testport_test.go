package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestFree checks that Free's port can be bound for UDP and for TCP and,
// where the ephemeral range is known with room below it, lies below it.
func TestFree(t *testing.T) {
	lo, known := ephemeralLow()
	for range 20 {
		p := Free(t)
		if known && lo-floor >= 1000 && (p < floor || p >= lo) {
			t.Errorf("Free: got port %d; want one in [%d, %d), below the ephemeral range", p, floor, lo)
		}
		a := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Fatalf("Free: port %d: %v", p, err)
		}
		ln, err := net.Listen("tcp", a)
		pc.Close()
		if err != nil {
			t.Fatalf("Free: port %d: %v", p, err)
		}
		ln.Close()
	}
	if a := Addr(t); !a.Addr().IsLoopback() || a.Port() == 0 {
		t.Errorf("Addr: got %v; want a loopback address with a port", a)
	}
}
