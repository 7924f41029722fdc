package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
)

// listenFDsStart is the first file descriptor systemd passes
// (SD_LISTEN_FDS_START in sd_listen_fds(3)).
const listenFDsStart = 3

// inheritedSockets are the sockets a service manager passed to hush
// (systemd socket activation: hush.socket), by the address they are bound
// to. openSockets serves a dns:// URL on them instead of binding when
// both a datagram and a stream socket of that address were passed.
type inheritedSockets struct {
	udp map[netip.AddrPort]net.PacketConn
	tcp map[netip.AddrPort]net.Listener
}

// takeInheritedSockets takes the sockets named by $LISTEN_PID and
// $LISTEN_FDS, once: it unsets both (and $LISTEN_FDNAMES) whatever it
// finds, so that neither a second call nor a child process takes them
// again (the note in go-systemd's activation package). It returns nil
// when hush was not socket-activated or the variables are meant for
// another process (LISTEN_PID is not hush's). The descriptors are made
// close-on-exec.
func takeInheritedSockets() (*inheritedSockets, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pid == "" || fds == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > 1024 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count of sockets", fds)
	}
	in := &inheritedSockets{
		udp: make(map[netip.AddrPort]net.PacketConn),
		tcp: make(map[netip.AddrPort]net.Listener),
	}
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		if err := in.add(fd); err != nil {
			in.Close()
			return nil, fmt.Errorf("socket activation: descriptor %d: %w", fd, err)
		}
	}
	return in, nil
}

// add takes descriptor fd as a listener or a datagram socket.
func (in *inheritedSockets) add(fd int) error {
	f, stream, err := inheritedFile(fd)
	if err != nil {
		return err
	}
	defer f.Close() // the net package holds its own duplicate
	if stream {
		ln, err := net.FileListener(f)
		if err != nil {
			return err
		}
		ap, err := netip.ParseAddrPort(ln.Addr().String())
		if err != nil {
			ln.Close()
			return fmt.Errorf("stream socket on %s: not an IP address", ln.Addr())
		}
		in.tcp[ap] = ln
		return nil
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return fmt.Errorf("datagram socket on %s: not an IP address", pc.LocalAddr())
	}
	in.udp[ap] = pc
	return nil
}

// dns hands over the datagram and stream sockets of ap, if both were
// passed.
func (in *inheritedSockets) dns(ap netip.AddrPort) (net.PacketConn, net.Listener, bool) {
	if in == nil {
		return nil, nil, false
	}
	pc, ln := in.udp[ap], in.tcp[ap]
	if pc == nil || ln == nil {
		return nil, nil, false
	}
	delete(in.udp, ap)
	delete(in.tcp, ap)
	return pc, ln, true
}

// leftover reports the passed sockets no dns:// URL took, and closes
// them: a socket unit that listens where hush does not serve is a
// mistake to be told at start, not a port that accepts and never answers.
func (in *inheritedSockets) leftover() error {
	if in == nil || len(in.udp)+len(in.tcp) == 0 {
		return nil
	}
	var addrs []string
	for ap := range in.udp {
		addrs = append(addrs, "udp "+ap.String())
	}
	for ap := range in.tcp {
		addrs = append(addrs, "tcp "+ap.String())
	}
	sort.Strings(addrs)
	in.Close()
	return fmt.Errorf("socket activation: no dns:// --listen for the passed sockets %v (each address needs a datagram and a stream socket)", addrs)
}

// Close closes the sockets not handed over.
func (in *inheritedSockets) Close() error {
	if in == nil {
		return nil
	}
	var errs []error
	for ap, pc := range in.udp {
		errs = append(errs, pc.Close())
		delete(in.udp, ap)
	}
	for ap, ln := range in.tcp {
		errs = append(errs, ln.Close())
		delete(in.tcp, ap)
	}
	return errors.Join(errs...)
}
