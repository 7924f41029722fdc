//go:build unix

package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// inheritedFile wraps descriptor fd, made close-on-exec, and tells
// whether it is a stream socket (else a datagram one).
func inheritedFile(fd int) (f *os.File, stream bool, err error) {
	typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil {
		return nil, false, fmt.Errorf("not a socket: %w", err)
	}
	switch typ {
	case syscall.SOCK_STREAM, syscall.SOCK_DGRAM:
	default:
		return nil, false, fmt.Errorf("socket type %d, want stream or datagram", typ)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd)), typ == syscall.SOCK_STREAM, nil
}
