package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSocketActivation: with sockets passed as systemd passes them
// (descriptors 3 and up, $LISTEN_FDS, $LISTEN_PID naming hush), hush
// serves the dns:// URL of their address on them instead of binding,
// takes them once and unsets the variables; passed sockets that no
// --listen names stop hush at start. systemd sets LISTEN_PID between
// fork and exec, so the test runs itself as the activated process.
func TestSocketActivation(t *testing.T) {
	if mode := os.Getenv("HUSH_TEST_SOCKET_CHILD"); mode != "" {
		socketActivationChild(t, mode)
		return
	}
	tests := []struct {
		name, mode string
	}{
		{"served", "serve"},
		{"no --listen for them", "leftover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, addr := activationSockets(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestSocketActivation$", "-test.count=1", "-test.v")
			cmd.ExtraFiles = files
			cmd.Env = append(os.Environ(), "HUSH_TEST_SOCKET_CHILD="+tc.mode+" "+addr.String(), "LISTEN_FDS=2", "LISTEN_FDNAMES=hush.socket:hush.socket")
			out, err := cmd.CombinedOutput()
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skip("cannot run the test binary again here (qemu-user without binfmt_misc)")
			}
			if err != nil || !strings.Contains(string(out), "--- PASS: TestSocketActivation") {
				t.Fatalf("activated process: %v\n%s", err, out)
			}
		})
	}
}

// activationSockets binds a UDP socket and a TCP listener on one free
// loopback port and returns their descriptors, as hush.socket would.
func activationSockets(t *testing.T) ([]*os.File, netip.AddrPort) {
	t.Helper()
	for range 16 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close() // the port is taken for TCP: try another
			continue
		}
		uf, err1 := pc.(*net.UDPConn).File()
		tf, err2 := ln.(*net.TCPListener).File()
		pc.Close()
		ln.Close()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { uf.Close(); tf.Close() })
		return []*os.File{uf, tf}, netip.MustParseAddrPort(pc.LocalAddr().String())
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil, netip.AddrPort{}
}

// socketActivationChild is the activated process.
func socketActivationChild(t *testing.T, mode string) {
	kind, addrText, _ := strings.Cut(mode, " ")
	addr := netip.MustParseAddrPort(addrText)
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	want := addr
	if kind == "leftover" {
		want = netip.AddrPortFrom(addr.Addr(), 0) // any other address
	}
	s, err := openSockets(context.Background(), []listenURL{{Scheme: "dns", Addr: want}})
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if val, ok := os.LookupEnv(v); ok {
			t.Errorf("%s=%q still set", v, val)
		}
	}
	if kind == "leftover" {
		if err == nil || !strings.Contains(err.Error(), "no dns:// --listen for the passed sockets") {
			t.Fatalf("got %v, want the passed sockets named as unused", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("openSockets: %v", err)
	}
	defer s.Close()
	if len(s.UDP) != 1 || len(s.UDP[0]) != 1 || len(s.TCP) != 1 {
		t.Fatalf("got %d UDP groups, %d TCP listeners; want the one passed pair", len(s.UDP), len(s.TCP))
	}
	if got := s.UDP[0][0].LocalAddr().String(); got != addr.String() {
		t.Errorf("UDP socket on %s, want %s", got, addr)
	}
	if got := s.Bound[0].Addr; got != addr {
		t.Errorf("bound %s, want %s", got, addr)
	}
	// The passed datagram socket is the one that receives.
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	s.UDP[0][0].SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	if n, _, err := s.UDP[0][0].ReadFrom(buf); err != nil || string(buf[:n]) != "ping" {
		t.Errorf("read %q, %v; want ping", buf[:n], err)
	}
}

// TestSocketActivationOtherProcess: variables meant for another process
// (LISTEN_PID is not hush's) are ignored, and unset all the same.
func TestSocketActivationOtherProcess(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	t.Setenv("LISTEN_FDS", "2")
	in, err := takeInheritedSockets()
	if in != nil || err != nil {
		t.Errorf("got %v, %v; want nil, nil", in, err)
	}
	if _, ok := os.LookupEnv("LISTEN_FDS"); ok {
		t.Error("LISTEN_FDS still set")
	}
}
