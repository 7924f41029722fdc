package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// holdReusePort binds a UDP socket with SO_REUSEPORT on a free port of
// host, as another resolver of the same user does (knotd, unbound with
// so-reuseport, a second hush started by mistake), and returns the
// address hush is to be refused: 127.0.0.1 and that port. The socket is
// closed when the test ends.
func holdReusePort(t *testing.T, host netip.Addr) string {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	for range 5 {
		port := uint16(freePort(t))
		pc, err := lc.ListenPacket(t.Context(), "udp", netip.AddrPortFrom(host, port).String())
		if err != nil {
			continue // taken since freePort looked: another port
		}
		t.Cleanup(func() { pc.Close() })
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
	}
	t.Fatal("no port to hold with SO_REUSEPORT")
	return ""
}

// TestServeRefusesReusePortHeldPort: hush serve on a UDP port another
// socket holds with SO_REUSEPORT fails at start, as it does for a taken
// TCP port, instead of joining that socket's group and silently taking
// part of its queries.
func TestServeRefusesReusePortHeldPort(t *testing.T) {
	up := startFakeUpstream(t, 1)
	for _, tc := range []struct {
		name   string
		holder netip.Addr
	}{
		{"same address", netip.MustParseAddr("127.0.0.1")},
		{"wildcard", netip.IPv4Unspecified()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := holdReusePort(t, tc.holder)
			// The timeout only ends a regression, where hush serves until
			// ctx is done; hush refusing returns at once.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var stderr bytes.Buffer
			code := run(ctx, []string{"serve", "--listen", "dns://" + held, "--forward", up.addr, "--dnssec", "off"}, &bytes.Buffer{}, &stderr)
			if code != exitFail || !strings.Contains(stderr.String(), "address already in use") {
				t.Errorf("hush serve --listen dns://%s with the port held: exit %d, %q; want %d and address already in use", held, code, stderr.String(), exitFail)
			}
			if strings.Contains(stderr.String(), "serving") {
				t.Errorf("hush served on a held port: %q", stderr.String())
			}
		})
	}
}

// TestReloadRefusesReusePortHeldPort: a reload adding a dns:// listener
// on a UDP port another socket holds with SO_REUSEPORT fails, and the
// previous configuration keeps serving.
func TestReloadRefusesReusePortHeldPort(t *testing.T) {
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	first := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("forward: %s\ndnssec: off\ncontrol-socket: %s\n", up.addr, socket)
	rewrite(t, config, base+"listen: [dns://"+first+"]\n")
	stderr := startHushServe(t, []string{"serving dns://" + first, "control socket"}, "--config", config)

	held := holdReusePort(t, netip.MustParseAddr("127.0.0.1"))
	rewrite(t, config, base+"listen: [dns://"+first+", dns://"+held+"]\n")
	code, _, errOut := hushCtl(t, socket, "reload")
	if code != exitFail || !strings.Contains(errOut, "still running the previous configuration") || !strings.Contains(errOut, "address already in use") {
		t.Errorf("reload adding dns://%s with the port held: %d %q; want %d, address already in use and the previous configuration", held, code, errOut, exitFail)
	}
	if strings.Contains(stderr.String(), "serving dns://"+held) {
		t.Errorf("hush serves the held port after the reload: %s", stderr.String())
	}
	if r, err := ask(first, "l.example.", dns.TypeA, netip.Addr{}); err != nil || answerIP(r) != "192.0.2.1" {
		t.Errorf("dns://%s after the failed reload: %v, %v; want it answering", first, r, err)
	}
}
