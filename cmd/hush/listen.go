package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// sockets are the listening sockets for the --listen URLs. serve opens
// them before it starts the transports, so that a port already in use is
// reported before any query is answered; the transport package serves
// them and Close releases them.
type sockets struct {
	// UDP and TCP hold the dns:// sockets; UDP[i] and TCP[i] share an
	// address and port.
	UDP []net.PacketConn
	TCP []net.Listener
}

// openSockets binds every URL in urls. On error it closes what it opened.
// It binds one UDP socket per address: spreading reads over several
// SO_REUSEPORT sockets is the transport's business.
func openSockets(ctx context.Context, urls []listenURL) (*sockets, error) {
	s := &sockets{}
	for _, u := range urls {
		switch u.Scheme {
		case "dns":
			pc, ln, err := listenDNS(ctx, u.Addr)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("listen %s: %w", u, err)
			}
			s.UDP = append(s.UDP, pc)
			s.TCP = append(s.TCP, ln)
		default:
			s.Close()
			return nil, fmt.Errorf("listen %s: no listener for scheme %q", u, u.Scheme)
		}
	}
	return s, nil
}

// Close closes every socket and returns the first error.
func (s *sockets) Close() error {
	var errs []error
	for _, pc := range s.UDP {
		errs = append(errs, pc.Close())
	}
	for _, ln := range s.TCP {
		errs = append(errs, ln.Close())
	}
	s.UDP, s.TCP = nil, nil
	return errors.Join(errs...)
}

// listenDNS binds UDP and TCP on ap. With port 0 the kernel picks the UDP
// port and TCP takes the same one, so that one URL names one port; if
// another program holds that TCP port, it tries again with a new port.
func listenDNS(ctx context.Context, ap netip.AddrPort) (net.PacketConn, net.Listener, error) {
	const attempts = 16
	var lc net.ListenConfig
	for i := 0; ; i++ {
		pc, err := lc.ListenPacket(ctx, "udp", ap.String())
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := lc.Listen(ctx, "tcp", netip.AddrPortFrom(ap.Addr(), uint16(port)).String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if ap.Port() != 0 || i == attempts-1 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}
