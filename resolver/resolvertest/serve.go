package resolvertest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
)

// Server serves a Network on real loopback sockets: UDP and TCP on one
// port of every server address. Make one with Network.Serve.
type Server struct {
	port     uint16
	cancel   context.CancelFunc
	stopHook func() bool
	wg       sync.WaitGroup
	once     sync.Once

	// mu guards the fields below.
	mu     sync.Mutex
	closed bool
	udp    []*net.UDPConn
	tcp    []*net.TCPListener
	conns  map[net.Conn]struct{}
}

// Serve binds UDP and TCP on port at every address of the manifest
// (Servers) and answers there with the same engine and faults as
// Exchange; TCP carries any number of queries per connection. Port 0
// picks a port that is free on every address. Serving stops when ctx is
// done or Close is called. Addresses that serve nothing are not bound, so
// queries to them meet a closed port.
//
// On Linux every 127.0.0.0/8 address is local without configuration; port
// 53 needs root (or CAP_NET_BIND_SERVICE).
func (n *Network) Serve(ctx context.Context, port uint16) (*Server, error) {
	addrs := make([]netip.Addr, 0, len(n.servers))
	for a := range n.servers {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	if len(addrs) == 0 {
		return nil, errors.New("resolvertest: serve: no server addresses")
	}
	var lastErr error
	for range 32 {
		s, err := n.bind(ctx, addrs, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if port != 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, lastErr
}

// bind makes one attempt at binding every address on one port.
func (n *Network) bind(ctx context.Context, addrs []netip.Addr, port uint16) (*Server, error) {
	var lc net.ListenConfig
	s := &Server{conns: map[net.Conn]struct{}{}}
	fail := func(err error) (*Server, error) {
		s.closeSockets()
		return nil, fmt.Errorf("resolvertest: serve: %w", err)
	}
	for _, a := range addrs {
		pc, err := lc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(a, port).String())
		if err != nil {
			return fail(err)
		}
		uc := pc.(*net.UDPConn)
		s.udp = append(s.udp, uc)
		if port == 0 {
			port = uc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		}
		l, err := lc.Listen(ctx, "tcp4", netip.AddrPortFrom(a, port).String())
		if err != nil {
			return fail(err)
		}
		s.tcp = append(s.tcp, l.(*net.TCPListener))
	}
	s.port = port
	sctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.stopHook = context.AfterFunc(sctx, func() { s.closeSockets() })
	for i, a := range addrs {
		local := netip.AddrPortFrom(a, port)
		s.wg.Add(2)
		go s.serveUDP(sctx, n, s.udp[i], local)
		go s.serveTCP(sctx, n, s.tcp[i], local)
	}
	return s, nil
}

// Port is the port bound on every address.
func (s *Server) Port() uint16 { return s.port }

// Close stops serving: it closes every socket and connection and waits
// for all of Serve's goroutines to end. Queries held by Drop or Delay get
// no reply.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stopHook()
		s.cancel()
		s.closeSockets()
		s.wg.Wait()
	})
	return nil
}

func (s *Server) closeSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.udp {
		c.Close()
	}
	for _, l := range s.tcp {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
}

// track registers a TCP connection for Close; false once closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

func (s *Server) serveUDP(ctx context.Context, n *Network, c *net.UDPConn, local netip.AddrPort) {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		nr, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			continue
		}
		pkt := append([]byte(nil), buf[:nr]...)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			out, err := n.respond(ctx, "udp", local, pkt)
			if err != nil || out == nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(out, from)
		}()
	}
}

func (s *Server) serveTCP(ctx context.Context, n *Network, l *net.TCPListener, local netip.AddrPort) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			continue
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(ctx, n, c, local)
	}
}

// serveConn answers the queries of one TCP connection in order, each
// framed by a two-octet length (RFC 1035 §4.2.2).
func (s *Server) serveConn(ctx context.Context, n *Network, c net.Conn, local netip.AddrPort) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		pkt := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, pkt); err != nil {
			return
		}
		out, err := n.respond(ctx, "tcp", local, pkt)
		if err != nil {
			return
		}
		if out == nil {
			continue
		}
		frame := make([]byte, 2+len(out))
		binary.BigEndian.PutUint16(frame, uint16(len(out)))
		copy(frame[2:], out)
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
