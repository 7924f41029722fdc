package netwatch

import (
	"context"
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// attr encodes one rtnetlink attribute.
func attr(t uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:4], t)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func addrMsg(typ uint16, ifindex uint32, prefix string) syscall.NetlinkMessage {
	p := netip.MustParsePrefix(prefix)
	family := byte(unix.AF_INET)
	if p.Addr().Is6() {
		family = unix.AF_INET6
	}
	body := []byte{family, byte(p.Bits()), 0, 0}
	body = binary.NativeEndian.AppendUint32(body, ifindex)
	body = append(body, attr(unix.IFA_ADDRESS, p.Addr().AsSlice())...)
	return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ}, Data: body}
}

func routeMsg(typ uint16, table byte, flags uint32, dst, gw string, oif uint32) syscall.NetlinkMessage {
	p := netip.MustParsePrefix(dst)
	body := []byte{unix.AF_INET, byte(p.Bits()), 0, 0, table, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST}
	body = binary.NativeEndian.AppendUint32(body, flags)
	if p.Bits() > 0 {
		body = append(body, attr(unix.RTA_DST, p.Addr().AsSlice())...)
	}
	body = append(body, attr(unix.RTA_GATEWAY, netip.MustParseAddr(gw).AsSlice())...)
	body = append(body, attr(unix.RTA_OIF, u32(oif))...)
	return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ}, Data: body}
}

// TestStateApply plays a laptop's network life as rtnetlink messages:
// what is there at start, refreshes that change nothing, and the moves
// that do.
func TestStateApply(t *testing.T) {
	s := newState()
	// The dumps at start: known, not changes.
	for _, m := range []syscall.NetlinkMessage{
		addrMsg(unix.RTM_NEWADDR, 2, "192.168.1.20/24"),
		addrMsg(unix.RTM_NEWADDR, 2, "2001:db8:1::20/64"),
		routeMsg(unix.RTM_NEWROUTE, unix.RT_TABLE_MAIN, 0, "0.0.0.0/0", "192.168.1.1", 2),
	} {
		if s.apply(m) {
			t.Fatal("a message of the initial dump counted as a change")
		}
	}
	s.primed = true
	steps := []struct {
		name string
		m    syscall.NetlinkMessage
		want bool
	}{
		{"IPv6 lifetime refreshed", addrMsg(unix.RTM_NEWADDR, 2, "2001:db8:1::20/64"), false},
		{"default route re-announced", routeMsg(unix.RTM_NEWROUTE, unix.RT_TABLE_MAIN, 0, "0.0.0.0/0", "192.168.1.1", 2), false},
		{"route in the local table", routeMsg(unix.RTM_NEWROUTE, unix.RT_TABLE_LOCAL, 0, "192.168.1.20/32", "192.168.1.20", 2), false},
		{"cloned route", routeMsg(unix.RTM_NEWROUTE, unix.RT_TABLE_MAIN, unix.RTM_F_CLONED, "10.0.0.1/32", "192.168.1.1", 2), false},
		{"not an address or route", syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.RTM_NEWLINK}, Data: make([]byte, 16)}, false},
		{"short message", syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.RTM_NEWADDR}, Data: []byte{2}}, false},
		{"Wi-Fi gone: address", addrMsg(unix.RTM_DELADDR, 2, "192.168.1.20/24"), true},
		{"Wi-Fi gone: route", routeMsg(unix.RTM_DELROUTE, unix.RT_TABLE_MAIN, 0, "0.0.0.0/0", "192.168.1.1", 2), true},
		{"deleting it again", routeMsg(unix.RTM_DELROUTE, unix.RT_TABLE_MAIN, 0, "0.0.0.0/0", "192.168.1.1", 2), false},
		{"café network: address", addrMsg(unix.RTM_NEWADDR, 3, "10.20.0.7/16"), true},
		{"café network: route", routeMsg(unix.RTM_NEWROUTE, unix.RT_TABLE_MAIN, 0, "0.0.0.0/0", "10.20.0.1", 3), true},
	}
	for _, st := range steps {
		if got := s.apply(st.m); got != st.want {
			t.Errorf("%s: change %v, want %v", st.name, got, st.want)
		}
	}
}

// TestWatchLinux opens a real rtnetlink socket, primes from the kernel's
// dumps and stops when asked, reporting nothing for a network that does
// not change. (Changing the host's addresses is not for a test.)
func TestWatchLinux(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	events := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- watch(ctx, events, nil) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("watch returned %v, want context.Canceled", err)
	}
}
