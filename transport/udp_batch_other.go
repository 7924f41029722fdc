//go:build !linux

package transport

import (
	"errors"
	"net"
)

// batchedReads says whether UDP readers use recvmmsg and sendmmsg.
const batchedReads = false

// readBatches is Linux-only; read is the loop everywhere else.
func (s *UDPServer) readBatches(net.PacketConn, *net.UDPConn) error {
	return errors.ErrUnsupported
}
