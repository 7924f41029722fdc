//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package transport

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported says whether ListenUDPGroup can open more than one
// socket here.
const reusePortSupported = true

// setReusePort is a net.ListenConfig.Control that sets SO_REUSEPORT.
func setReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return fmt.Errorf("transport: SO_REUSEPORT: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("transport: SO_REUSEPORT: %w", serr)
	}
	return nil
}
