package netwatch

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// state is the set of addresses and main-table routes known, so that a
// notification that changes nothing (a refreshed lifetime) is not taken
// for a change.
type state struct {
	known  map[string]bool
	primed bool // the initial dumps are in: from now on, changes count
}

func newState() *state { return &state{known: make(map[string]bool)} }

// apply takes one rtnetlink message and reports whether it changed the
// network as it was known.
func (s *state) apply(m syscall.NetlinkMessage) bool {
	key, add, ok := messageKey(m)
	if !ok {
		return false
	}
	switch {
	case add && !s.known[key]:
		s.known[key] = true
		return s.primed
	case !add && s.known[key]:
		delete(s.known, key)
		return s.primed
	}
	return false
}

// messageKey returns what an address or route message is about, and
// whether it adds or removes it. ok is false for other messages and for
// routes outside the main table or cloned (cache) entries.
func messageKey(m syscall.NetlinkMessage) (key string, add, ok bool) {
	switch m.Header.Type {
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		if len(m.Data) < unix.SizeofIfAddrmsg {
			return "", false, false
		}
		family, plen := m.Data[0], m.Data[1]
		index := binary.NativeEndian.Uint32(m.Data[4:8])
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return "", false, false
		}
		var addr []byte
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFA_LOCAL:
				addr = a.Value
			case unix.IFA_ADDRESS:
				if addr == nil {
					addr = a.Value
				}
			}
		}
		return fmt.Sprintf("addr %d %d %x/%d", family, index, addr, plen), m.Header.Type == unix.RTM_NEWADDR, true
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		if len(m.Data) < unix.SizeofRtMsg {
			return "", false, false
		}
		family, dstLen, table := m.Data[0], m.Data[1], uint32(m.Data[4])
		flags := binary.NativeEndian.Uint32(m.Data[8:12])
		if flags&unix.RTM_F_CLONED != 0 {
			return "", false, false
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return "", false, false
		}
		var dst, gw []byte
		var oif, prio uint32
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.RTA_TABLE:
				if len(a.Value) >= 4 {
					table = binary.NativeEndian.Uint32(a.Value)
				}
			case unix.RTA_DST:
				dst = a.Value
			case unix.RTA_GATEWAY:
				gw = a.Value
			case unix.RTA_OIF:
				if len(a.Value) >= 4 {
					oif = binary.NativeEndian.Uint32(a.Value)
				}
			case unix.RTA_PRIORITY:
				if len(a.Value) >= 4 {
					prio = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		if table != unix.RT_TABLE_MAIN {
			return "", false, false
		}
		return fmt.Sprintf("route %d %x/%d via %x dev %d metric %d", family, dst, dstLen, gw, oif, prio), m.Header.Type == unix.RTM_NEWROUTE, true
	}
	return "", false, false
}
