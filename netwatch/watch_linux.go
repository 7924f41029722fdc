package netwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// groups are the rtnetlink multicast groups watched: addresses and routes,
// both families.
const groups = unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

// Sequence numbers of the dumps that prime the state.
const (
	seqAddrDump  = 1
	seqRouteDump = 2
)

// watch sends an event for each change after the initial dumps, then
// calls primed (when not nil) once they are in.
func watch(ctx context.Context, events chan<- struct{}, primed func()) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netwatch: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("netwatch: netlink bind: %w", err)
	}
	// Through os.File the reads wait in Go's poller, so that a deadline
	// (set when ctx is done) ends them.
	f := os.NewFile(uintptr(fd), "netlink")
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	st := newState()
	if _, err := f.Write(dumpRequest(unix.RTM_GETADDR, seqAddrDump)); err != nil {
		return fmt.Errorf("netwatch: address dump: %w", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, err := f.Read(buf)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, unix.ENOBUFS):
			// The kernel dropped notifications: something changed, and
			// what is unknown. Report it; the state may drift, which at
			// worst costs a report later.
			notify(events)
			continue
		case err != nil:
			return fmt.Errorf("netwatch: netlink read: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue // a malformed datagram from the kernel: skip it
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_DONE || m.Header.Type == unix.NLMSG_ERROR {
				switch m.Header.Seq {
				case seqAddrDump:
					if _, err := f.Write(dumpRequest(unix.RTM_GETROUTE, seqRouteDump)); err != nil {
						return fmt.Errorf("netwatch: route dump: %w", err)
					}
				case seqRouteDump:
					st.primed = true
					if primed != nil {
						primed()
					}
				}
				continue
			}
			if st.apply(m) {
				notify(events)
			}
		}
	}
}

// dumpRequest is an rtnetlink dump request of type t (RTM_GETADDR or
// RTM_GETROUTE) for all families.
func dumpRequest(t uint16, seq uint32) []byte {
	const bodyLen = unix.SizeofRtMsg // RtMsg; its first byte, the family, is 0 for all
	b := make([]byte, unix.SizeofNlMsghdr+bodyLen)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], t)
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	return b
}
