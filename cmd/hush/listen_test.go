package main

import (
	"net"
	"net/netip"
	"testing"
)

func TestOpenSockets(t *testing.T) {
	urls := []listenURL{
		{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:0")},
		{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:0")},
	}
	s, err := openSockets(t.Context(), urls)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.UDP) != 2 || len(s.TCP) != 2 {
		t.Fatalf("got %d UDP and %d TCP sockets; want 2 and 2", len(s.UDP), len(s.TCP))
	}
	for i := range s.UDP {
		u := s.UDP[i][0].LocalAddr().(*net.UDPAddr).AddrPort()
		tc := s.TCP[i].Addr().(*net.TCPAddr).AddrPort()
		if u != tc || u.Port() == 0 {
			t.Errorf("socket %d: UDP on %v, TCP on %v; want the same address and a port", i, u, tc)
		}
		if !u.Addr().IsLoopback() {
			t.Errorf("socket %d bound to %v; want loopback", i, u)
		}
	}

	// The same address again: in use, and nothing left open.
	again := []listenURL{
		{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:0")},
		{Scheme: "dns", Addr: s.UDP[0][0].LocalAddr().(*net.UDPAddr).AddrPort()},
	}
	if s2, err := openSockets(t.Context(), again); err == nil {
		s2.Close()
		t.Fatalf("openSockets on a port in use = nil error; want an error")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v; want nil", err)
	}
}

func TestOpenSocketsRejectsUnservedScheme(t *testing.T) {
	_, err := openSockets(t.Context(), []listenURL{{Scheme: "ftp", Addr: netip.MustParseAddrPort("127.0.0.1:0")}})
	if err == nil {
		t.Fatal("openSockets(ftp://) = nil error; want an error")
	}
}

func TestOpenSocketsTLS(t *testing.T) {
	s, err := openSockets(t.Context(), []listenURL{
		{Scheme: "tls", Addr: netip.MustParseAddrPort("127.0.0.1:0")},
		{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:0")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.TLS) != 1 || len(s.TCP) != 1 || len(s.UDP) != 1 {
		t.Fatalf("got %d TLS, %d TCP, %d UDP sockets; want 1, 1, 1", len(s.TLS), len(s.TCP), len(s.UDP))
	}
	a := s.TLS[0].Addr().(*net.TCPAddr).AddrPort()
	if !a.Addr().IsLoopback() || a.Port() == 0 {
		t.Errorf("tls:// socket on %v; want loopback and a port", a)
	}
	if err := s.Close(); err != nil || len(s.TLS) != 0 {
		t.Errorf("Close = %v, %d TLS sockets left; want nil, 0", err, len(s.TLS))
	}
}
