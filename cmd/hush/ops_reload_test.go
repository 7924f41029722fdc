package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// slowUpstream is a fakeUpstream whose answers to slow.example. wait
// until release is closed; asked counts those questions.
type slowUpstream struct {
	addr    string
	asked   atomic.Int64
	release chan struct{}
}

func startSlowUpstream(t *testing.T) *slowUpstream {
	t.Helper()
	u := &slowUpstream{release: make(chan struct{})}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if q.Question[0].Name == "slow.example." {
			u.asked.Add(1)
			<-u.release
		}
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		if q.Question[0].Qtype == dns.TypeA {
			r.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
				A:   net.IPv4(192, 0, 2, 1),
			}}
		}
		_ = w.WriteMsg(r)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go srv.ActivateAndServe()
	t.Cleanup(func() {
		select {
		case <-u.release:
		default:
			close(u.release)
		}
		srv.Shutdown()
	})
	return u
}

// reloadConfig rewrites config with base and the listen URLs, and runs
// hush ctl reload.
func reloadConfig(t *testing.T, config, base, socket string, listen ...string) (int, string) {
	t.Helper()
	rewrite(t, config, base+"listen: ["+strings.Join(listen, ", ")+"]\n")
	code, _, errOut := hushCtl(t, socket, "reload")
	return code, errOut
}

// answersOver reports whether hush answers l.example. with 192.0.2.1 over
// url (dns://, tls://, https://, quic://), checking no certificate.
func answersOver(t *testing.T, url string) bool {
	t.Helper()
	args := []string{"--server", url, "--timeout", "5s", "l.example."}
	if !strings.HasPrefix(url, "dns://") {
		args = append([]string{"--insecure"}, args...)
	}
	code, out, _ := queryHush(t, args...)
	return code == exitOK && strings.Contains(out, "192.0.2.1")
}

// closedTCP reports whether nothing accepts TCP connections at addr.
func closedTCP(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err != nil
}

// TestOpsReloadEncrypted checks that a reload opens tls://, https:// and
// quic:// listeners and serves them, that one it removes stops accepting
// but answers the query in flight on a connection it had, while a query
// load on another listener sees no failure, that a taken port fails the
// reload with everything still serving, and that new certificate files
// are used by the handshakes that follow.
func TestOpsReloadEncrypted(t *testing.T) {
	up := startSlowUpstream(t)
	dir := t.TempDir()
	plain, dot, doh, doq := loopbackAddr(t), loopbackAddr(t), loopbackAddr(t), loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("forward: %s\ndnssec: off\ncontrol-socket: %s\n", up.addr, socket)
	rewrite(t, config, base+"listen: [dns://"+plain+"]\n")
	stderr := startHushServe(t, []string{"serving dns://" + plain, "control socket"}, "--config", config)
	all := []string{"dns://" + plain, "tls://" + dot, "https://" + doh + "/dns-query", "quic://" + doq}

	if code, errOut := reloadConfig(t, config, base, socket, all...); code != 0 {
		t.Fatalf("reload adding encrypted listeners: %d %q", code, errOut)
	}
	for _, u := range all {
		if !answersOver(t, u) {
			t.Errorf("no answer over %s after the reload added it", u)
		}
	}
	if want := "; serving tls://" + dot + ", https://" + doh + "/dns-query, quic://" + doq; !strings.Contains(stderr.String(), want) {
		t.Errorf("reload line lacks %q: %s", want, stderr.String())
	}
	if kdig, ok := findTool(t, "kdig"); ok {
		host, port, _ := net.SplitHostPort(dot)
		out, err := runCommand(kdig, "@"+host, "-p", port, "+tls", "+time=5", "+retry=0", "l.example.", "A")
		if err != nil || !strings.Contains(out, "192.0.2.1") {
			t.Errorf("kdig +tls to the added listener: %v\n%s", err, out)
		}
	}

	// A DoT connection with a query in flight, then a reload that removes
	// its listener under a query load on the dns:// one.
	conn, err := tls.Dial("tcp", dot, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"dot"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dc := &dns.Conn{Conn: conn}
	slow := new(dns.Msg)
	slow.SetQuestion("slow.example.", dns.TypeA)
	if err := dc.WriteMsg(slow); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return up.asked.Load() > 0 }, "the slow query upstream")
	var (
		stop         atomic.Bool
		sent, failed atomic.Int64
		wg           sync.WaitGroup
	)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				sent.Add(1)
				r, err := ask(plain, fmt.Sprintf("load%d-%d.example.", w, i), dns.TypeA, netip.Addr{})
				if err != nil || answerIP(r) != "192.0.2.1" {
					failed.Add(1)
				}
			}
		}()
	}
	waitFor(t, func() bool { return sent.Load() > 100 }, "the load running")
	if code, errOut := reloadConfig(t, config, base, socket, all[0], all[2], all[3]); code != 0 {
		t.Fatalf("reload removing tls://: %d %q", code, errOut)
	}
	waitFor(t, func() bool { return closedTCP(dot) }, "tls://"+dot+" closed")
	close(up.release)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if r, err := dc.ReadMsg(); err != nil || answerIP(r) != "192.0.2.1" {
		t.Errorf("the query in flight on the removed listener: %v, %v; want its answer", r, err)
	}
	before := sent.Load()
	waitFor(t, func() bool { return sent.Load() > before+100 }, "more load after the reload")
	stop.Store(true)
	wg.Wait()
	t.Logf("removing tls:// under load: %d queries, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("removing tls:// under load: %d of %d queries failed; want 0", failed.Load(), sent.Load())
	}
	if !strings.Contains(stderr.String(), "; stopped tls://"+dot) {
		t.Errorf("reload line lacks the stopped listener: %s", stderr.String())
	}

	// A taken port fails the reload; everything keeps serving.
	taken, err := net.Listen("tcp", loopbackAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, errOut := reloadConfig(t, config, base, socket, all[0], all[2], all[3], "tls://"+taken.Addr().String())
	if code != 1 || !strings.Contains(errOut, "reload failed, still running the previous configuration") {
		t.Errorf("reload onto a taken port: %d %q; want 1 and the previous configuration", code, errOut)
	}
	for _, u := range []string{all[0], all[2], all[3]} {
		if !answersOver(t, u) {
			t.Errorf("no answer over %s after a failed reload", u)
		}
	}

	// Certificate files: the next handshakes are the files'.
	certFile, keyFile, pin := writeKeyPair(t, dir)
	base += fmt.Sprintf("tls-cert: %s\ntls-key: %s\n", certFile, keyFile)
	if code, errOut := reloadConfig(t, config, base, socket, all[0], all[2], all[3]); code != 0 {
		t.Fatalf("reload with tls-cert: %d %q", code, errOut)
	}
	if !strings.Contains(stderr.String(), "tls-cert, tls-key changed") {
		t.Errorf("reload line lacks tls-cert: %s", stderr.String())
	}
	for _, u := range []string{all[2], all[3]} {
		code, out, errOut := queryHush(t, "--server", u, "--pin", pin, "--timeout", "5s", "l.example.")
		if code != exitOK || !strings.Contains(out, "192.0.2.1") {
			t.Errorf("over %s with the files' pin: %d %q %q", u, code, out, errOut)
		}
	}
}

// runCommand runs an external program and returns its combined output.
func runCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestOpsReloadNoLeaks adds and removes every kind of listener several
// times, asking each once, and checks that the goroutines and file
// descriptors come back to what they were.
func TestOpsReloadNoLeaks(t *testing.T) {
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	plain := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("forward: %s\ndnssec: off\ncontrol-socket: %s\n", up.addr, socket)
	rewrite(t, config, base+"listen: [dns://"+plain+"]\n")
	startHushServe(t, []string{"serving dns://" + plain, "control socket"}, "--config", config)
	cycle := func() {
		t.Helper()
		extra := []string{"dns://" + loopbackAddr(t), "tls://" + loopbackAddr(t), "https://" + loopbackAddr(t) + "/dns-query", "quic://" + loopbackAddr(t)}
		if code, errOut := reloadConfig(t, config, base, socket, append([]string{"dns://" + plain}, extra...)...); code != 0 {
			t.Fatalf("reload adding: %d %q", code, errOut)
		}
		for _, u := range extra {
			if !answersOver(t, u) {
				t.Errorf("no answer over %s", u)
			}
		}
		if code, errOut := reloadConfig(t, config, base, socket, "dns://"+plain); code != 0 {
			t.Fatalf("reload removing: %d %q", code, errOut)
		}
		for _, u := range extra[:2] {
			waitFor(t, func() bool { return closedTCP(strings.TrimPrefix(strings.TrimPrefix(u, "dns://"), "tls://")) }, u+" closed")
		}
	}
	settled := func(base int, now func() int) func() bool {
		return func() bool { return now() <= base }
	}
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for range 5 {
		cycle()
	}
	waitFor(t, settled(goroutines, runtime.NumGoroutine), fmt.Sprintf("goroutines back to %d", goroutines))
	waitFor(t, settled(fds, func() int { return openFDs(t) }), fmt.Sprintf("file descriptors back to %d", fds))
	t.Logf("after 5 add/remove cycles: %d goroutines (baseline %d), %d fds (baseline %d)", runtime.NumGoroutine(), goroutines, openFDs(t), fds)
}
