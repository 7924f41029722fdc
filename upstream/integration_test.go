package upstream

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/internal/testport"
	"github.com/miekg/dns"
)

// realUpstream is a resolver nobody here wrote, serving a tiny local
// zone (every name under test. has A 192.0.2.1; everything else is
// answered locally too, so it never iterates) on plain DNS, DoT and DoH.
type realUpstream struct {
	dns, tls, https string // host:port
	stop            func() // stops the server and waits for it
}

// freePort returns a loopback port free for UDP and TCP (the servers
// bind both) at this moment, below the ephemeral range (see package
// testport for why).
func freePort(t *testing.T) int {
	t.Helper()
	return testport.Free(t)
}

// run starts a server in the foreground and stops it at cleanup (or
// when stop is called); exited is closed when it exits.
func run(t *testing.T, out *bytes.Buffer, bin string, args ...string) (exited <-chan struct{}, stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	return done, stop
}

// waitUp asks addr over plain DNS until it answers or the server exits.
// Waiting for a process to start listening has no event to wait on; the
// retries are spaced out a little. (addr's port is below the ephemeral
// range, so a query can never come back from its own socket.)
//
// It returns false when the server exited because one of its ports was
// taken between freePort and its bind; the caller starts it again on
// fresh ports. Any other exit fails the test.
func waitUp(t *testing.T, addr string, exited <-chan struct{}, out *bytes.Buffer) bool {
	t.Helper()
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	for i := 0; i < 100; i++ {
		select {
		case <-exited:
			if strings.Contains(strings.ToLower(out.String()), "address already in use") {
				t.Logf("server exited, a port was taken; again on other ports:\n%s", out)
				return false
			}
			t.Fatalf("server exited:\n%s", out)
		default:
		}
		if r, _, err := c.Exchange(query("www.test", dns.TypeA), addr); err == nil && r.Response {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server on %s never answered:\n%s", addr, out)
	return false
}

// portAttempts is how many times a server is started on fresh ports
// when one was taken before it bound it.
const portAttempts = 5

// startUnboundUpstream runs Unbound with tls-service-key/pem (DoT) and
// https-port (DoH over HTTP/2, Debian's build has libnghttp2). idleMS is
// its tcp-idle-timeout, announced with edns-tcp-keepalive.
func startUnboundUpstream(t *testing.T, c testCert, idleMS int) realUpstream {
	t.Helper()
	for range portAttempts {
		if u, ok := tryUnboundUpstream(t, c, idleMS); ok {
			return u
		}
	}
	t.Fatalf("unbound: ports taken %d times", portAttempts)
	return realUpstream{}
}

// tryUnboundUpstream is one start for startUnboundUpstream.
func tryUnboundUpstream(t *testing.T, c testCert, idleMS int) (realUpstream, bool) {
	t.Helper()
	bin := needTool(t, "unbound")
	dir := t.TempDir()
	certFile, keyFile := c.writePEM(t, dir)
	pd, pt, ph := freePort(t), freePort(t), freePort(t)
	conf := filepath.Join(dir, "unbound.conf")
	text := fmt.Sprintf(`server:
	interface: 127.0.0.1@%[1]d
	interface: 127.0.0.1@%[2]d
	interface: 127.0.0.1@%[3]d
	tls-port: %[2]d
	https-port: %[3]d
	tls-service-key: %[4]q
	tls-service-pem: %[5]q
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %[6]q
	pidfile: %[7]q
	use-syslog: no
	logfile: ""
	verbosity: 0
	do-ip6: no
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	local-zone: "." static
	local-zone: "test." redirect
	local-data: "test. 300 IN A 192.0.2.1"
	tcp-idle-timeout: %[8]d
	edns-tcp-keepalive: yes
	edns-tcp-keepalive-timeout: %[8]d
remote-control:
	control-enable: no
`, pd, pt, ph, keyFile, certFile, dir, filepath.Join(dir, "unbound.pid"), idleMS)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	exited, stop := run(t, &out, bin, "-d", "-c", conf)
	u := realUpstream{
		stop:  stop,
		dns:   net.JoinHostPort("127.0.0.1", strconv.Itoa(pd)),
		tls:   net.JoinHostPort("127.0.0.1", strconv.Itoa(pt)),
		https: net.JoinHostPort("127.0.0.1", strconv.Itoa(ph)),
	}
	return u, waitUp(t, u.dns, exited, &out)
}

// startKresdUpstream runs Knot Resolver with net.listen kind='tls' and
// kind='doh2', answering test. from policy.ANSWER and refusing the rest.
func startKresdUpstream(t *testing.T, c testCert) realUpstream {
	t.Helper()
	for range portAttempts {
		if u, ok := tryKresdUpstream(t, c); ok {
			return u
		}
	}
	t.Fatalf("kresd: ports taken %d times", portAttempts)
	return realUpstream{}
}

// tryKresdUpstream is one start for startKresdUpstream.
func tryKresdUpstream(t *testing.T, c testCert) (realUpstream, bool) {
	t.Helper()
	bin := needTool(t, "kresd")
	dir := t.TempDir()
	certFile, keyFile := c.writePEM(t, dir)
	pd, pt, ph := freePort(t), freePort(t), freePort(t)
	conf := filepath.Join(dir, "kresd.conf")
	text := fmt.Sprintf(`-- No network but the listeners: no trust anchor updates, no priming.
modules.unload('ta_update')
modules.unload('ta_signal_query')
modules.unload('priming')
modules.unload('detect_time_skew')
modules.unload('detect_time_jump')
trust_anchors.remove('.')
net.listen('127.0.0.1', %d, {kind='dns'})
net.listen('127.0.0.1', %d, {kind='tls'})
net.listen('127.0.0.1', %d, {kind='doh2'})
net.tls(%q, %q)
cache.open(10*MB, 'lmdb://%s')
policy.add(policy.suffix(policy.ANSWER({[kres.type.A] = {rdata=kres.str2ip('192.0.2.1'), ttl=300}}, true), {todname('test.')}))
policy.add(policy.all(policy.DENY))
`, pd, pt, ph, certFile, keyFile, filepath.Join(dir, "cache"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	rundir := filepath.Join(dir, "run")
	if err := os.Mkdir(rundir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	exited, stop := run(t, &out, bin, "-n", "-c", conf, rundir)
	u := realUpstream{
		stop:  stop,
		dns:   net.JoinHostPort("127.0.0.1", strconv.Itoa(pd)),
		tls:   net.JoinHostPort("127.0.0.1", strconv.Itoa(pt)),
		https: net.JoinHostPort("127.0.0.1", strconv.Itoa(ph)),
	}
	return u, waitUp(t, u.dns, exited, &out)
}

// TestRealUpstreams resolves through Unbound and Knot Resolver over DoT
// and DoH and compares each answer with the one the same server gives
// over plain DNS.
func TestRealUpstreams(t *testing.T) {
	c := newCert(t, "upstream.test")
	servers := map[string]func(t *testing.T) realUpstream{
		"unbound": func(t *testing.T) realUpstream { return startUnboundUpstream(t, c, 30000) },
		"kresd":   func(t *testing.T) realUpstream { return startKresdUpstream(t, c) },
	}
	for impl, start := range servers {
		t.Run(impl, func(t *testing.T) {
			srv := start(t)
			for _, url := range []string{
				"tls://" + srv.tls + "#upstream.test",
				"https://" + srv.https + "/dns-query#upstream.test",
				"tls://" + srv.tls + "?pin=" + c.pin,
			} {
				t.Run(url, func(t *testing.T) {
					u := mustUp(t, url, Options{RootCAs: c.pool})
					direct := &dns.Client{Timeout: 5 * time.Second}
					for _, name := range []string{"www.test", "a.b.test", "www.test", "nosuch.example"} {
						got, err := ask(t, u, name)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						want, _, err := direct.Exchange(query(name, dns.TypeA), srv.dns)
						if err != nil {
							t.Fatalf("%s directly: %v", name, err)
						}
						if got.Rcode != want.Rcode || fmt.Sprint(got.Answer) != fmt.Sprint(want.Answer) {
							t.Errorf("%s: got %s %v, directly %s %v", name, dns.RcodeToString[got.Rcode], got.Answer, dns.RcodeToString[want.Rcode], want.Answer)
						}
					}
					if d := u.(StatsReporter).Stats().Dials; d != 1 {
						t.Errorf("dials: got %d for 4 queries, want 1", d)
					}
				})
			}
		})
	}
}

// TestUnboundIdleTimeout: Unbound closes idle DoT connections after
// 2 s and announces it; hush closes first and reconnects on demand. (With
// 500 ms, a handshake and first query slowed by a busy CI machine
// outlasted Unbound's timeout, which counts from the accept.)
func TestUnboundIdleTimeout(t *testing.T) {
	c := newCert(t)
	srv := startUnboundUpstream(t, c, 2000)
	u := mustUp(t, "tls://"+srv.tls+"?pin="+c.pin, Options{IdleTimeout: time.Minute})
	d := u.(*dot)
	for i := range 3 {
		if _, err := ask(t, u, "www.test"); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		d.mu.Lock()
		conn := d.conn
		d.mu.Unlock()
		conn.mu.Lock()
		idle := conn.idle
		conn.mu.Unlock()
		if idle >= 2*time.Second {
			t.Errorf("idle timeout %v, want under Unbound's announced 2 s", idle)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		select {
		case <-conn.done:
		case <-ctx.Done():
			t.Fatalf("connection still open after 10 s")
		}
		cancel()
	}
	if d := d.Stats().Dials; d != 3 {
		t.Errorf("dials: got %d, want 3", d)
	}
}

// TestUpstreamKilled: an upstream that dies while hush holds a
// connection to it fails fast, and the pool moves to the next one.
func TestUpstreamKilled(t *testing.T) {
	c := newCert(t)
	z := &zone{}
	first := startUnboundUpstream(t, c, 30000)
	second := startDoT(t, tconfig(z), c)
	a := mustUp(t, "tls://"+first.tls+"?pin="+c.pin, Options{})
	b := mustUp(t, "tls://"+second.String()+"?pin="+c.pin, Options{})
	p, err := NewPool([]Upstream{a, b}, Strict, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ask(t, p, "www.test"); err != nil || z.queries.Load() != 0 {
		t.Fatalf("got %v, %v; want Unbound's answer", r, err)
	}
	first.stop()
	if r, err := ask(t, p, "www.test"); err != nil || len(r.Answer) != 1 {
		t.Fatalf("after the kill: got %v, %v; want the second upstream's answer", r, err)
	}
	if z.queries.Load() != 1 {
		t.Errorf("second upstream answered %d queries, want 1", z.queries.Load())
	}
}
