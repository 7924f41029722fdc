//go:build !nohttp

package main

import (
	"crypto/tls"
	"fmt"
	"github.com/hush-dns/hush/transport"
	"io"
	"net"
	"net/http"
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

	"github.com/hush-dns/hush/metrics"
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
	all := []string{"dns://" + plain, "tls://" + dot, "https://" + doh + "/dns-query"}
	if transport.QUIC {
		all = append(all, "quic://"+doq)
	}

	if code, errOut := reloadConfig(t, config, base, socket, all...); code != 0 {
		t.Fatalf("reload adding encrypted listeners: %d %q", code, errOut)
	}
	for _, u := range all {
		if !answersOver(t, u) {
			t.Errorf("no answer over %s after the reload added it", u)
		}
	}
	if want := "; serving tls://" + dot + ", https://" + doh + "/dns-query" + withQUIC(", quic://"+doq); !strings.Contains(stderr.String(), want) {
		t.Errorf("reload line lacks %q: %s", want, stderr.String())
	}
	// DDR (RFC 9462) names the listeners in service.
	ddr := func() string {
		_, out, _ := queryHush(t, "--server", "dns://"+plain, "--short", "--timeout", "5s", "_dns.resolver.arpa.", "SVCB")
		return out
	}
	_, dotPort, _ := net.SplitHostPort(dot)
	if out := ddr(); !strings.Contains(out, `alpn="dot" port="`+dotPort+`"`) || (transport.QUIC && !strings.Contains(out, `alpn="doq"`)) {
		t.Errorf("DDR after the reload added the listeners: %q; want dot on port %s and doq", out, dotPort)
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
	kept := append([]string{all[0]}, all[2:]...) // tls:// removed
	if code, errOut := reloadConfig(t, config, base, socket, kept...); code != 0 {
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
	if out := ddr(); strings.Contains(out, `alpn="dot"`) || (transport.QUIC && !strings.Contains(out, `alpn="doq"`)) {
		t.Errorf("DDR after the reload removed tls://: %q; want doq and no dot", out)
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
	code, errOut := reloadConfig(t, config, base, socket, append(kept, "tls://"+taken.Addr().String())...)
	if code != 1 || !strings.Contains(errOut, "reload failed, still running the previous configuration") {
		t.Errorf("reload onto a taken port: %d %q; want 1 and the previous configuration", code, errOut)
	}
	for _, u := range kept {
		if !answersOver(t, u) {
			t.Errorf("no answer over %s after a failed reload", u)
		}
	}

	// Certificate files: the next handshakes are the files'.
	certFile, keyFile, pin := writeKeyPair(t, dir)
	base += fmt.Sprintf("tls-cert: %s\ntls-key: %s\n", certFile, keyFile)
	if code, errOut := reloadConfig(t, config, base, socket, kept...); code != 0 {
		t.Fatalf("reload with tls-cert: %d %q", code, errOut)
	}
	if !strings.Contains(stderr.String(), "tls-cert, tls-key changed") {
		t.Errorf("reload line lacks tls-cert: %s", stderr.String())
	}
	for _, u := range kept[1:] {
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
// openFDs counts the process's open sockets: what listeners and
// connections hold. Other descriptors come and go on their own (the Go
// runtime's cgroup files, the race detector's and go test's pipes).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
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
		extra := []string{"dns://" + loopbackAddr(t), "tls://" + loopbackAddr(t), "https://" + loopbackAddr(t) + "/dns-query"}
		if transport.QUIC {
			extra = append(extra, "quic://"+loopbackAddr(t))
		}
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
	goroutines, fds, fdBefore := ownGoroutines(), openFDs(t), fdTargets()
	for range 5 {
		cycle()
	}
	waitFor(t, settled(goroutines, ownGoroutines), fmt.Sprintf("goroutines back to %d", goroutines))
	defer func() {
		if t.Failed() {
			t.Logf("file descriptors before: %v\nafter: %v", fdBefore, fdTargets())
		}
	}()
	waitFor(t, settled(fds, func() int { return openFDs(t) }), fmt.Sprintf("file descriptors back to %d", fds))
	t.Logf("after 5 add/remove cycles: %d goroutines (baseline %d), %d fds (baseline %d)", ownGoroutines(), goroutines, openFDs(t), fds)
}

// fdTargets lists what this process's file descriptors point at.
func fdTargets() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}

// ownGoroutines counts the process's goroutines but netwatch's debounce,
// which lives while the machine's addresses or routes change: other
// tests running at the same time (go test runs packages at once) make
// such changes, and it would be counted as a leak of the reloads.
func ownGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && !strings.Contains(g, "netwatch.debounce") {
			count++
		}
	}
	return count
}

// chaosID asks addr for id.server. over UDP with the NSID option and
// returns the rcode, the TXT text and the NSID (hex).
func chaosID(t *testing.T, addr string) (int, string, string) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("id.server.", dns.TypeTXT)
	q.Question[0].Qclass = dns.ClassCHAOS
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("id.server.: %v", err)
	}
	txt, nsid := "", ""
	if len(r.Answer) == 1 {
		txt = r.Answer[0].(*dns.TXT).Txt[0]
	}
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				nsid = n.Nsid
			}
		}
	}
	return r.Rcode, txt, nsid
}

// serverCookieLen asks addr over UDP with a client cookie and returns the
// length of the cookie option in the answer (0: none).
func serverCookieLen(t *testing.T, addr string) int {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("cookie.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("cookie query: %v", err)
	}
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				return len(c.Cookie) / 2
			}
		}
	}
	return 0
}

// rateLimited sends three queries at once from from (no cookie) and reports
// whether one came back truncated without records: the limiter's slip.
// With rate-limit 0.001 (a burst of 1, every other query over it
// truncated) the first is answered, the second dropped, the third
// truncated.
func rateLimited(t *testing.T, addr string, from netip.Addr) bool {
	t.Helper()
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: from.AsSlice()}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dc := &dns.Conn{Conn: conn}
	for i := range 3 {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("rl%d.example.", i), dns.TypeA)
		q.SetEdns0(1232, false)
		if err := dc.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range 3 {
		r, err := dc.ReadMsg()
		if err != nil {
			t.Fatalf("rate limit: neither all answered nor one truncated: %v", err)
		}
		if r.Truncated && len(r.Answer) == 0 {
			return true
		}
	}
	return false // all answered
}

// TestOpsReloadLive checks that a reload applies the CHAOS identity and
// NSID, server cookies, the UDP rate limit and the per-client connection
// cap to running listeners, and that a connection open before the cap
// was lowered stays.
func TestOpsReloadLive(t *testing.T) {
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	plain := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("forward: %s\ndnssec: off\ncontrol-socket: %s\nlisten: dns://%s\n", up.addr, socket, plain)
	rewrite(t, config, base+"server-cookies: false\n")
	stderr := startHushServe(t, []string{"serving dns://" + plain, "control socket"}, "--config", config)
	reload := func(extra string) {
		t.Helper()
		rewrite(t, config, base+extra)
		if code, _, errOut := hushCtl(t, socket, "reload"); code != 0 {
			t.Fatalf("reload: %d %q", code, errOut)
		}
	}
	if rcode, _, nsid := chaosID(t, plain); rcode != dns.RcodeRefused || nsid != "" {
		t.Errorf("id.server. before: %s NSID %q; want REFUSED and none", dns.RcodeToString[rcode], nsid)
	}
	if n := serverCookieLen(t, plain); n != 0 {
		t.Errorf("cookie option with server-cookies off: %d octets; want none", n)
	}
	if rateLimited(t, plain, netip.MustParseAddr("127.0.0.9")) {
		t.Errorf("rate limited before rate-limit was set")
	}
	tcp, err := net.Dial("tcp", plain)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	kept := &dns.Conn{Conn: tcp}
	askTCP := func(c *dns.Conn) error {
		q := new(dns.Msg)
		q.SetQuestion("tcp.example.", dns.TypeA)
		if err := c.WriteMsg(q); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.ReadMsg()
		return err
	}
	if err := askTCP(kept); err != nil {
		t.Fatal(err)
	}

	identity := "identity: fra-1\nversion-string: hush-x\nnsid: fra-1\n"
	reload(identity)
	if rcode, txt, nsid := chaosID(t, plain); rcode != dns.RcodeSuccess || txt != "fra-1" || nsid != "6672612d31" {
		t.Errorf("id.server. after the reload: %s %q NSID %q; want fra-1 and 6672612d31", dns.RcodeToString[rcode], txt, nsid)
	}
	if n := serverCookieLen(t, plain); n <= 8 {
		t.Errorf("cookie option with server-cookies back on: %d octets; want a server cookie too", n)
	}
	// The rate limit counts by /24: from here on, UDP queries from
	// 127.0.0.0/24 are over it.
	reload(identity + "rate-limit: 0.001\nmax-connections-per-client: 1\n")
	if !rateLimited(t, plain, netip.MustParseAddr("127.0.0.10")) {
		t.Errorf("not rate limited after rate-limit 0.001")
	}
	if err := askTCP(kept); err != nil {
		t.Errorf("a connection open before the cap was lowered: %v; want it kept", err)
	}
	over, err := net.Dial("tcp", plain)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a second connection over max-connections-per-client 1: read got %v; want EOF", err)
	}
	line := stderr.String()
	for _, want := range []string{"identity", "version-string", "nsid", "server-cookies", "rate-limit", "max-connections-per-client"} {
		if !strings.Contains(line, want+",") && !strings.Contains(line, want+" changed") {
			t.Errorf("reload line does not name %s: %s", want, line)
		}
	}
	if strings.Contains(line, "take effect at restart") {
		t.Errorf("a restart note: %s", line)
	}

	// Back: no limit, the identity gone, a new connection admitted.
	reload("server-cookies: false\n")
	if rcode, _, _ := chaosID(t, plain); rcode != dns.RcodeRefused {
		t.Errorf("id.server. after the identity was removed: %s; want REFUSED", dns.RcodeToString[rcode])
	}
	if rateLimited(t, plain, netip.MustParseAddr("127.0.0.11")) {
		t.Errorf("rate limited after rate-limit was removed")
	}
	again, err := net.Dial("tcp", plain)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := askTCP(&dns.Conn{Conn: again}); err != nil {
		t.Errorf("a new connection after the cap was raised: %v", err)
	}
}

// TestOpsReloadEndpoints checks that a reload moves the control socket
// (the hush ctl reload that asked still gets its answer) and the metrics
// listener, changes the metrics path on the same address, turns metrics
// off, and that a control socket or metrics port that cannot be bound
// fails the reload with the old ones serving.
func TestOpsReloadEndpoints(t *testing.T) {
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	plain, m1, m2 := loopbackAddr(t), loopbackAddr(t), loopbackAddr(t)
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("forward: %s\ndnssec: off\nlisten: dns://%s\n", up.addr, plain)
	rewrite(t, config, base+"control-socket: "+sockA+"\nmetrics-listen: http://"+m1+"/metrics\n")
	stderr := startHushServe(t, []string{"serving dns://" + plain, "control socket", "serving metrics"}, "--config", config)
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	reloadVia := func(socket, extra string) (int, string) {
		t.Helper()
		rewrite(t, config, base+extra)
		code, _, errOut := hushCtl(t, socket, "reload")
		return code, errOut
	}
	if code, errOut := reloadVia(sockA, "control-socket: "+sockB+"\nmetrics-listen: http://"+m2+"/m2\n"); code != 0 {
		t.Fatalf("reload moving both, asked on the old socket: %d %q", code, errOut)
	}
	if code, out, errOut := hushCtl(t, sockB, "status"); code != 0 || !strings.Contains(out, "config: "+config) {
		t.Errorf("hush ctl status on the new socket: %d %q %q", code, out, errOut)
	}
	waitFor(t, func() bool { _, err := os.Lstat(sockA); return err != nil }, "the old socket removed")
	if c := get("http://" + m2 + "/m2"); c != http.StatusOK {
		t.Errorf("GET the new metrics URL: %d; want 200", c)
	}
	waitFor(t, func() bool { return get("http://"+m1+"/metrics") == 0 }, "the old metrics listener closed")
	waitFor(t, func() bool { return get("http://"+m2+metrics.HealthPath) == http.StatusOK }, "/healthz 200 on the new listener")
	if !strings.Contains(stderr.String(), "metrics-listen, control-socket changed") {
		t.Errorf("reload line does not name them: %s", stderr.String())
	}

	// Another path on the same address.
	if code, errOut := reloadVia(sockB, "control-socket: "+sockB+"\nmetrics-listen: http://"+m2+"/other\n"); code != 0 {
		t.Fatalf("reload changing the metrics path: %d %q", code, errOut)
	}
	if a, b := get("http://"+m2+"/other"), get("http://"+m2+"/m2"); a != http.StatusOK || b != http.StatusNotFound {
		t.Errorf("after the path change: /other %d, /m2 %d; want 200 and 404", a, b)
	}

	// What cannot be bound fails the reload; the old ones keep serving.
	taken, err := net.Listen("tcp", loopbackAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	sockC, notSocket := filepath.Join(dir, "c.sock"), filepath.Join(dir, "file")
	rewrite(t, notSocket, "")
	for _, extra := range []string{
		"control-socket: " + sockC + "\nmetrics-listen: http://" + taken.Addr().String() + "/metrics\n",
		"control-socket: " + notSocket + "\nmetrics-listen: http://" + m1 + "/metrics\n",
	} {
		if code, errOut := reloadVia(sockB, extra); code != 1 || !strings.Contains(errOut, "still running the previous configuration") {
			t.Errorf("reload with %q: %d %q; want 1", extra, code, errOut)
		}
		if c := get("http://" + m2 + "/other"); c != http.StatusOK {
			t.Errorf("metrics after a failed reload: %d; want 200", c)
		}
		if c := get("http://" + m1 + "/metrics"); c != 0 {
			t.Errorf("a failed reload left http://%s serving: %d", m1, c)
		}
		if _, err := os.Lstat(sockC); err == nil {
			t.Errorf("a failed reload left %s", sockC)
		}
	}

	// Metrics off.
	if code, errOut := reloadVia(sockB, "control-socket: "+sockB+"\n"); code != 0 {
		t.Fatalf("reload turning metrics off: %d %q", code, errOut)
	}
	waitFor(t, func() bool { return get("http://"+m2+"/other") == 0 }, "the metrics listener closed")
	if code, _, errOut := hushCtl(t, sockB, "status"); code != 0 {
		t.Errorf("hush ctl after metrics off: %d %q", code, errOut)
	}
}
