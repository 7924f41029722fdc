//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package transport

import "syscall"

// reusePortSupported says whether ListenUDPGroup can open more than one
// socket here.
const reusePortSupported = false

func setReusePort(_, _ string, _ syscall.RawConn) error { return nil }
