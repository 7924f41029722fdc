package main

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// startRefusingUpstream is a forwarder that refuses everything: a network
// whose captive portal lets no DNS through but its own resolver's.
func startRefusingUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetRcode(q, dns.RcodeRefused)
		_ = w.WriteMsg(r)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestPortalWindow: hush ctl portal open sends the zones given (or every
// name) to the network's resolver, unvalidated, until the window closes;
// then nothing the portal said is answered any more.
func TestPortalWindow(t *testing.T) {
	blocked := startRefusingUpstream(t)
	portal := startFakeUpstream(t, 7)
	dir := t.TempDir()
	listen := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	stderr := startHushServe(t, []string{"serving dns://", "control socket"},
		"--listen", "dns://"+listen, "--forward", blocked, "--allow-upstream", "127.0.0.0/8",
		"--control-socket", socket, "--dnssec", "validate")

	expect := func(step, name string, rcode int, ip string) {
		t.Helper()
		r, err := ask(listen, name, dns.TypeA, netip.Addr{})
		if err != nil {
			t.Fatalf("%s: %s: %v", step, name, err)
		}
		if r.Rcode != rcode || answerIP(r) != ip || r.AuthenticatedData {
			t.Errorf("%s: %s: got %s %q ad=%v; want %s %q, no ad", step, name,
				dns.RcodeToString[r.Rcode], answerIP(r), r.AuthenticatedData, dns.RcodeToString[rcode], ip)
		}
	}
	expect("before", "login.portal.example.", dns.RcodeServerFailure, "")

	code, out, errOut := hushCtl(t, socket, "portal", "open", portal.addr, "10m", "portal.example")
	if code != 0 || !strings.Contains(out, "portal window: portal.example. to "+portal.addr) {
		t.Fatalf("portal open = %d, %q, %q", code, out, errOut)
	}
	expect("zone window", "login.portal.example.", dns.RcodeSuccess, "192.0.2.7")
	expect("zone window", "elsewhere.example.", dns.RcodeServerFailure, "")
	if code, out, _ := hushCtl(t, socket, "status"); code != 0 || !strings.Contains(out, "portal-window-until: ") {
		t.Errorf("status during the window = %d, %q", code, out)
	}

	// A second open replaces the first: every name now.
	if code, out, errOut := hushCtl(t, socket, "portal", "open", portal.addr); code != 0 {
		t.Fatalf("portal open (every name) = %d, %q, %q", code, out, errOut)
	}
	expect("every-name window", "elsewhere.example.", dns.RcodeSuccess, "192.0.2.7")

	if code, out, errOut := hushCtl(t, socket, "portal", "close"); code != 0 {
		t.Fatalf("portal close = %d, %q, %q", code, out, errOut)
	}
	// The window's answers went with it: its cache is not the main one.
	expect("after", "login.portal.example.", dns.RcodeServerFailure, "")
	expect("after", "elsewhere.example.", dns.RcodeServerFailure, "")
	if code, out, _ := hushCtl(t, socket, "status"); code != 0 || strings.Contains(out, "portal-window") {
		t.Errorf("status after the window = %d, %q", code, out)
	}
	if code, _, _ := hushCtl(t, socket, "portal", "close"); code != 0 {
		t.Errorf("closing no window: exit %d, want 0", code)
	}
	log := stderr.String()
	if !strings.Contains(log, "captive-portal window open until") || !strings.Contains(log, "captive-portal window closed") {
		t.Errorf("stderr lacks the window's lines: %s", log)
	}
	for _, secret := range []string{"login.portal", "elsewhere"} {
		if strings.Contains(log, secret) {
			t.Errorf("stderr names a query (%s): %s", secret, log)
		}
	}
}

// TestPortalExpires: the window closes by itself when its time is up.
func TestPortalExpires(t *testing.T) {
	blocked := startRefusingUpstream(t)
	portal := startFakeUpstream(t, 9)
	dir := t.TempDir()
	listen := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	stderr := startHushServe(t, []string{"serving dns://", "control socket"},
		"--listen", "dns://"+listen, "--forward", blocked, "--allow-upstream", "127.0.0.0/8",
		"--control-socket", socket)
	if code, out, errOut := hushCtl(t, socket, "portal", "open", portal.addr, "1ms"); code != 0 {
		t.Fatalf("portal open = %d, %q, %q", code, out, errOut)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "captive-portal window closed") }, "the window to close")
	if r, err := ask(listen, "late.example.", dns.TypeA, netip.Addr{}); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Errorf("after expiry: %v, %v; want SERVFAIL", r, err)
	}
}

// TestPortalFlushReachesMainCache: a flush during a window reaches the
// main cache, which comes back when the window closes; a window may name
// a configured stub zone; hush's own listener is not a portal resolver.
func TestPortalFlushReachesMainCache(t *testing.T) {
	main := startFakeUpstream(t, 1)
	portal := startFakeUpstream(t, 7)
	dir := t.TempDir()
	listen := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	startHushServe(t, []string{"serving dns://", "control socket"},
		"--listen", "dns://"+listen, "--forward", main.addr, "--allow-upstream", "127.0.0.0/8",
		"--stub-zone", "portal.example="+portal.addr, "--control-socket", socket, "--dnssec", "off")
	if r, err := ask(listen, "x.example.", dns.TypeA, netip.Addr{}); err != nil || answerIP(r) != "192.0.2.1" {
		t.Fatalf("before: %v, %v", r, err)
	}
	asked := main.queries.Load()
	if code, out, errOut := hushCtl(t, socket, "portal", "open", listen); code != 1 || !strings.Contains(errOut, "own listener") {
		t.Errorf("portal open on hush's own listener = %d, %q, %q; want 1 and a refusal", code, out, errOut)
	}
	if code, out, errOut := hushCtl(t, socket, "portal", "open", portal.addr, "portal.example"); code != 0 {
		t.Fatalf("portal open over a stub zone = %d, %q, %q", code, out, errOut)
	}
	for _, words := range [][]string{{"flush", "all"}, {"portal", "close"}} {
		if code, out, errOut := hushCtl(t, socket, words...); code != 0 {
			t.Fatalf("%v = %d, %q, %q", words, code, out, errOut)
		}
	}
	if r, err := ask(listen, "x.example.", dns.TypeA, netip.Addr{}); err != nil || answerIP(r) != "192.0.2.1" {
		t.Fatalf("after: %v, %v", r, err)
	}
	if got := main.queries.Load(); got != asked+1 {
		t.Errorf("upstream asked %d times after the flush; want once more (%d): the flush missed the main cache", got, asked+1)
	}
}
