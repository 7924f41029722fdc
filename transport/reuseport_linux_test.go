package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hush-dns/hush/internal/testport"
)

// holdReusePort binds a UDP socket with SO_REUSEPORT on host:port, as a
// second resolver of the same user (knotd, unbound with so-reuseport,
// another hush) does, and closes it when the test ends.
func holdReusePort(t *testing.T, ap netip.AddrPort) net.PacketConn {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", ap.String())
	if err != nil {
		t.Fatalf("holding %v with SO_REUSEPORT: %v", ap, err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// TestListenUDPGroupPortTaken: a port another socket holds, even with
// SO_REUSEPORT (whose group the kernel would let the new sockets join,
// splitting the datagrams), is "address already in use", and nothing is
// left bound.
func TestListenUDPGroupPortTaken(t *testing.T) {
	checkLeaks(t)
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name      string
		holder    netip.Addr // the address the other socket holds
		reusePort bool       // the other socket set SO_REUSEPORT
		n         int
	}{
		{"SO_REUSEPORT holder, one socket", loopback, true, 1},
		{"SO_REUSEPORT holder, a group", loopback, true, 4},
		{"SO_REUSEPORT wildcard holder, a group", netip.IPv4Unspecified(), true, 4},
		{"plain holder, a group", loopback, false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := uint16(testport.Free(t))
			held := netip.AddrPortFrom(tc.holder, port)
			var holder net.PacketConn
			if tc.reusePort {
				holder = holdReusePort(t, held)
			} else {
				pc, err := net.ListenPacket("udp", held.String())
				if err != nil {
					t.Fatal(err)
				}
				holder = pc
			}
			addr := netip.AddrPortFrom(loopback, port).String()
			conns, err := ListenUDPGroup(addr, tc.n)
			if err == nil {
				for _, c := range conns {
					c.Close()
				}
				holder.Close()
				t.Fatalf("ListenUDPGroup(%s, %d) with the port held = nil error; want address already in use", addr, tc.n)
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("ListenUDPGroup(%s, %d) = %v; want EADDRINUSE", addr, tc.n, err)
			}
			// Nothing of the failed group is left: once the holder is
			// gone the port binds without SO_REUSEPORT.
			holder.Close()
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				t.Fatalf("binding %s after the failed group: %v; want it free", addr, err)
			}
			pc.Close()
		})
	}
}
