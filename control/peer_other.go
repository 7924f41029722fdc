//go:build !linux

package control

import "net"

// peerAllowed trusts the socket's mode (0600) where hush does not read
// peer credentials.
func peerAllowed(net.Conn) bool { return true }
