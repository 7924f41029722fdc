// Package testport finds loopback ports for tests that must name a port
// before something binds it: a config file, another program's command
// line, a listener added by a reload.
//
// Such a port is found free and closed again, and bound later; in between
// it must not be taken. A port the kernel picked (binding port 0) is from
// the ephemeral range, the pool every outgoing connection and every
// port-0 bind on the machine draws from, so under load something else
// takes it in that window now and then, and a UDP socket with
// SO_REUSEPORT or SO_REUSEADDR bound to port 0 can even be given a port
// another such socket holds (Knot, hush's own listener groups), silently
// splitting its datagrams. A test polling a port nothing is bound to yet
// can be given that very port as its own source port and read back its
// query. Free avoids all three by choosing below the ephemeral range,
// where only an explicit bind to that number can land.
package testport

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// floor is the lowest port Free chooses: above the registered ports
// servers on a developer's machine tend to use.
const floor = 10000

// Free returns a port on 127.0.0.1 that was free for both UDP and TCP at
// the moment of the call, outside the kernel's ephemeral port range
// where the system says what that is (Linux) and there is room below it.
// Elsewhere it falls back to a port the kernel picks.
//
// Free does not hold the port: the caller binds it, or has it bound, as
// soon as it can. Another test choosing the same number at the same
// moment can still take it first; callers that start another program
// retry with a fresh port when it says its port is in use.
func Free(tb testing.TB) int {
	tb.Helper()
	if lo, ok := ephemeralLow(); ok && lo-floor >= 1000 {
		for range 200 {
			p := floor + rand.IntN(lo-floor)
			if bothFree(p) {
				return p
			}
		}
	}
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testport: %v", err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		_ = pc.Close()
		if err == nil {
			_ = ln.Close()
			return p
		}
	}
	tb.Fatal("testport: no port free for both UDP and TCP")
	return 0
}

// Addr is Free as an address on 127.0.0.1.
func Addr(tb testing.TB) netip.AddrPort {
	tb.Helper()
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(Free(tb)))
}

// bothFree reports whether 127.0.0.1:p can be bound for UDP and for TCP.
func bothFree(p int) bool {
	a := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	pc, err := net.ListenPacket("udp", a)
	if err != nil {
		return false
	}
	defer pc.Close()
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// ephemeralLow returns the lowest port of the kernel's ephemeral range.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 || lo > 65535 {
		return 0, false
	}
	return lo, true
}
