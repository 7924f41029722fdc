package main

import (
	"runtime"

	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/hush-dns/hush/transport"
)

// sockets are the listening sockets for the --listen URLs. serve opens
// them before it starts the transports, so that a port already in use is
// reported before any query is answered; the transport package serves
// them and Close releases them.
type sockets struct {
	// UDP and TCP hold the dns:// sockets; the sockets of UDP[i] (one per
	// reader, SO_REUSEPORT) and TCP[i] share an
	// address and port.
	UDP [][]net.PacketConn
	TCP []net.Listener
	// TLS holds the plain TCP listeners of the tls:// URLs; the
	// transport does the TLS.
	TLS []net.Listener
	// QUIC holds the UDP sockets of the quic:// URLs (DNS over QUIC).
	QUIC []net.PacketConn
	// Bound lists the --listen URLs with the ports actually bound (port
	// 0 replaced), in the order given; Configured lists them as given.
	Bound, Configured []listenURL
	// HTTPS holds the sockets of the https:// URLs.
	HTTPS []httpsSockets
}

// httpsSockets are the sockets of one https:// URL: TCP for HTTP/1.1 and
// HTTP/2, UDP for HTTP/3, on the same port.
type httpsSockets struct {
	URL listenURL
	TCP net.Listener
	UDP net.PacketConn
}

// openSockets binds every URL in urls. On error it closes what it opened.
// It binds one UDP socket per CPU on each address (SO_REUSEPORT), so that
// each gets its own reader goroutine.
func openSockets(ctx context.Context, urls []listenURL) (*sockets, error) {
	return openSocketsAmong(ctx, urls, urls)
}

// openSocketsAmong binds the URLs in open, choosing their networks as
// among all (see listenNets): a reload opens the listeners it adds.
func openSocketsAmong(ctx context.Context, open, all []listenURL) (*sockets, error) {
	s := &sockets{}
	inherited, err := takeInheritedSockets() // hush.socket
	if err != nil {
		return nil, err
	}
	defer inherited.Close()
	for _, u := range open {
		udpNet, tcpNet := listenNets(u, all)
		switch u.Scheme {
		case "dns":
			if pc, ln, ok := inherited.dns(u.Addr); ok {
				s.UDP = append(s.UDP, []net.PacketConn{pc})
				s.TCP = append(s.TCP, ln)
				s.bind(u, ln.Addr())
				continue
			}
			pc, ln, err := listenDNS(ctx, udpNet, tcpNet, u.Addr)
			if err != nil {
				s.Close()
				return nil, listenError(u, err)
			}
			s.UDP = append(s.UDP, pc)
			s.TCP = append(s.TCP, ln)
			s.bind(u, ln.Addr())
		case "tls":
			var lc net.ListenConfig
			ln, err := lc.Listen(ctx, tcpNet, u.Addr.String())
			if err != nil {
				s.Close()
				return nil, listenError(u, err)
			}
			s.TLS = append(s.TLS, ln)
			s.bind(u, ln.Addr())
		case "https":
			hs, err := listenHTTPS(ctx, udpNet, tcpNet, u)
			if err != nil {
				s.Close()
				return nil, listenError(u, err)
			}
			s.HTTPS = append(s.HTTPS, hs)
			s.bind(u, hs.TCP.Addr())
		case "quic":
			// quic-go sizes the socket's buffers itself.
			var lc net.ListenConfig
			pc, err := lc.ListenPacket(ctx, udpNet, u.Addr.String())
			if err != nil {
				s.Close()
				return nil, listenError(u, err)
			}
			s.QUIC = append(s.QUIC, pc)
			s.bind(u, pc.LocalAddr())
		default:
			s.Close()
			return nil, fmt.Errorf("listen %s: no listener for scheme %q", u, u.Scheme)
		}
	}
	if err := inherited.leftover(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// urlSockets are the sockets of one --listen URL, as its servers take
// them.
type urlSockets struct {
	url   listenURL // as configured
	bound listenURL // with the port bound
	udp   []net.PacketConn
	tcp   net.Listener   // dns://, tls://, https://
	pc    net.PacketConn // quic://, https:// (HTTP/3)
}

// close closes its sockets; the servers have closed most of them already.
func (u urlSockets) close() {
	for _, pc := range u.udp {
		pc.Close()
	}
	if u.tcp != nil {
		u.tcp.Close()
	}
	if u.pc != nil {
		u.pc.Close()
	}
}

// split returns the sockets of each URL, in the order configured.
func (s *sockets) split() []urlSockets {
	var out []urlSockets
	var nDNS, nTLS, nHTTPS, nQUIC int
	for i, u := range s.Configured {
		us := urlSockets{url: u, bound: s.Bound[i]}
		switch u.Scheme {
		case "dns":
			us.udp, us.tcp = s.UDP[nDNS], s.TCP[nDNS]
			nDNS++
		case "tls":
			us.tcp = s.TLS[nTLS]
			nTLS++
		case "https":
			us.tcp, us.pc = s.HTTPS[nHTTPS].TCP, s.HTTPS[nHTTPS].UDP
			nHTTPS++
		case "quic":
			us.pc = s.QUIC[nQUIC]
			nQUIC++
		}
		out = append(out, us)
	}
	return out
}

// bind records u as bound to a.
func (s *sockets) bind(u listenURL, a net.Addr) {
	s.Configured = append(s.Configured, u)
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		u.Addr = netip.AddrPortFrom(u.Addr.Addr(), ap.Port())
	}
	s.Bound = append(s.Bound, u)
}

// Close closes every socket and returns the first error.
func (s *sockets) Close() error {
	var errs []error
	for _, group := range s.UDP {
		for _, pc := range group {
			errs = append(errs, pc.Close())
		}
	}
	for _, ln := range s.TCP {
		errs = append(errs, ln.Close())
	}
	for _, ln := range s.TLS {
		errs = append(errs, ln.Close())
	}
	for _, hs := range s.HTTPS {
		errs = append(errs, hs.TCP.Close())
		if hs.UDP != nil {
			errs = append(errs, hs.UDP.Close())
		}
	}
	for _, pc := range s.QUIC {
		errs = append(errs, pc.Close())
	}
	s.UDP, s.TCP, s.TLS, s.HTTPS, s.QUIC = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// listenHTTPS binds TCP and UDP on u's address and port. With port 0 the
// kernel picks the TCP port and UDP takes the same one (retrying as
// listenDNS does), so that Alt-Svc can name one port for both.
func listenHTTPS(ctx context.Context, udpNet, tcpNet string, u listenURL) (httpsSockets, error) {
	const attempts = 16
	var lc net.ListenConfig
	for i := 0; ; i++ {
		ln, err := lc.Listen(ctx, tcpNet, u.Addr.String())
		if err != nil {
			return httpsSockets{}, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !transport.QUIC {
			// No HTTP/3 in this build: no UDP socket to hold.
			u.Addr = netip.AddrPortFrom(u.Addr.Addr(), uint16(port))
			return httpsSockets{URL: u, TCP: ln}, nil
		}
		pc, err := lc.ListenPacket(ctx, udpNet, netip.AddrPortFrom(u.Addr.Addr(), uint16(port)).String())
		if err == nil {
			u.Addr = netip.AddrPortFrom(u.Addr.Addr(), uint16(port))
			return httpsSockets{URL: u, TCP: ln, UDP: pc}, nil
		}
		ln.Close()
		if u.Addr.Port() != 0 || i == attempts-1 || !errors.Is(err, syscall.EADDRINUSE) {
			return httpsSockets{}, err
		}
	}
}

// listenDNS binds UDP and TCP on ap. With port 0 the kernel picks the UDP
// port and TCP takes the same one, so that one URL names one port; if
// another program holds that TCP port, it tries again with a new port.
// A port another socket holds fails for UDP even if that socket set
// SO_REUSEPORT (see transport.ListenUDPGroup), and for TCP because the
// listener sets no SO_REUSEPORT (Go sets only SO_REUSEADDR). Sockets
// inherited from a service manager (sdlisten.go) are not bound here, so
// nothing probes them.
func listenDNS(ctx context.Context, udpNet, tcpNet string, ap netip.AddrPort) ([]net.PacketConn, net.Listener, error) {
	const attempts = 16
	var lc net.ListenConfig
	readers := udpReaders()
	for i := 0; ; i++ {
		group, err := transport.ListenUDPGroupNet(udpNet, ap.String(), readers)
		if err != nil && readers > 1 {
			// No SO_REUSEPORT here: one socket, one reader.
			readers = 1
			group, err = transport.ListenUDPGroupNet(udpNet, ap.String(), readers)
		}
		if err != nil {
			return nil, nil, err
		}
		port := group[0].LocalAddr().(*net.UDPAddr).Port
		ln, err := lc.Listen(ctx, tcpNet, netip.AddrPortFrom(ap.Addr(), uint16(port)).String())
		if err == nil {
			return group, ln, nil
		}
		for _, pc := range group {
			pc.Close()
		}
		if ap.Port() != 0 || i == attempts-1 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}

// listenNets returns the networks u's sockets are opened on: udp and tcp,
// or, for a wildcard listened on in both families (see splitWildcard),
// udp4 and tcp4 or udp6 and tcp6.
func listenNets(u listenURL, urls []listenURL) (udpNet, tcpNet string) {
	switch {
	case !splitWildcard(u, urls):
		return "udp", "tcp"
	case u.Addr.Addr().Unmap().Is4():
		return "udp4", "tcp4"
	}
	return "udp6", "tcp6"
}

// splitWildcard reports whether u is a wildcard address (0.0.0.0 or [::])
// whose port the other family's wildcard in urls also listens on. On
// network tcp or udp Go opens either wildcard as one dual-stack IPv6
// socket, so the second fails with "address already in use"; opened as
// tcp4/udp4 and tcp6/udp6 (an IPV6_V6ONLY socket), both bind, as other
// servers do. A lone wildcard keeps the dual-stack socket it always had.
func splitWildcard(u listenURL, urls []listenURL) bool {
	a := u.Addr.Addr().Unmap()
	if !a.IsUnspecified() || u.Addr.Port() == 0 {
		return false
	}
	for _, o := range urls {
		if oa := o.Addr.Addr().Unmap(); oa.IsUnspecified() && oa.Is4() != a.Is4() && o.Addr.Port() == u.Addr.Port() {
			return true
		}
	}
	return false
}

// udpReaders is how many sockets (and reader goroutines) each UDP address
// gets: one per CPU hush may use, at most 8.
func udpReaders() int { return min(max(runtime.GOMAXPROCS(0), 1), 8) }

// listenError is the error of binding u, with what to do when the port is
// privileged and hush may not bind it: the usual first run as a user on
// port 53.
func listenError(u listenURL, err error) error {
	if errors.Is(err, syscall.EACCES) && u.Addr.Port() != 0 && u.Addr.Port() < 1024 {
		return fmt.Errorf("listen %s: %w (ports below 1024 need privilege: run `sudo setcap cap_net_bind_service=+ep $(command -v hush)`, start hush from the systemd unit in packaging/systemd, or listen on a port above 1023)", u, err)
	}
	return fmt.Errorf("listen %s: %w", u, err)
}
