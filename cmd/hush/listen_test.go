package main

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
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

// TestOpenSocketsBothWildcards binds 0.0.0.0 and [::] on one free high
// port, in both orders, as `--listen dns://0.0.0.0:53 --listen
// dns://[::]:53` does: the [::] sockets must be IPv6-only, or they take
// the IPv4 port too and the second bind fails with "address already in
// use". The sockets are closed at once: nothing is served on them.
func TestOpenSocketsBothWildcards(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme string
		v6     bool // [::] first
	}{
		{"dns, IPv4 first", "dns", false},
		{"dns, IPv6 first", "dns", true},
		{"tls, IPv4 first", "tls", false},
		{"tls, IPv6 first", "tls", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := uint16(freePort(t))
			v4 := listenURL{Scheme: tc.scheme, Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), port)}
			v6 := listenURL{Scheme: tc.scheme, Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), port)}
			urls := []listenURL{v4, v6}
			if tc.v6 {
				urls = []listenURL{v6, v4}
			}
			s, err := openSockets(t.Context(), urls)
			if err != nil {
				t.Fatalf("openSockets(%v, %v) = %v; want both bound", urls[0], urls[1], err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
	}
}

func TestSplitWildcard(t *testing.T) {
	u := func(s string) listenURL { return listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort(s)} }
	for _, tc := range []struct {
		u    string
		with []string
		want bool
	}{
		{"[::]:53", []string{"0.0.0.0:53"}, true},
		{"[::]:53", nil, false},                      // a lone [::] stays dual-stack
		{"[::]:53", []string{"0.0.0.0:5353"}, false}, // another port
		{"[::]:53", []string{"127.0.0.1:53"}, false}, // not a wildcard
		{"[::1]:53", []string{"0.0.0.0:53"}, false},
		{"0.0.0.0:53", []string{"[::]:53"}, true},
		{"0.0.0.0:53", nil, false},
		{"0.0.0.0:53", []string{"0.0.0.0:53"}, false},
	} {
		urls := []listenURL{u(tc.u)}
		for _, w := range tc.with {
			urls = append(urls, u(w))
		}
		if got := splitWildcard(urls[0], urls); got != tc.want {
			t.Errorf("splitWildcard(%s with %v) = %v; want %v", tc.u, tc.with, got, tc.want)
		}
	}
}

func TestListenError(t *testing.T) {
	denied := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	u := func(s string) listenURL { return listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort(s)} }
	for _, tc := range []struct {
		u    listenURL
		err  error
		hint bool
	}{
		{u("0.0.0.0:53"), denied, true},
		{u("[::1]:853"), denied, true},
		{u("0.0.0.0:5353"), denied, false},
		{u("0.0.0.0:53"), inUse, false},
	} {
		err := listenError(tc.u, tc.err)
		if !errors.Is(err, tc.err) {
			t.Errorf("listenError(%v, %v) = %v; does not wrap the error", tc.u, tc.err, err)
		}
		got := strings.Contains(err.Error(), "setcap cap_net_bind_service=+ep") && strings.Contains(err.Error(), "systemd")
		if got != tc.hint {
			t.Errorf("listenError(%v, %v) = %q; hint %v, want %v", tc.u, tc.err, err, got, tc.hint)
		}
	}
}
