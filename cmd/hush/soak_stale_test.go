package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// staleLab is a tiny internet for the serve-stale measurement: a root
// that also serves lab., and stale.lab. with 100 names whose A records
// live staleTTL seconds, on a server of its own that the test stops.
func staleLab(t *testing.T, names int, ttl int) (*resolvertest.Network, netip.Addr) {
	t.Helper()
	root := `$ORIGIN .
$TTL 86400
@ IN SOA a.root.lab. host.lab. 1 1800 900 604800 300
@ IN NS a.root.lab.
lab. IN NS a.root.lab.
a.root.lab. IN A 127.53.200.1
`
	lab := `$ORIGIN lab.
$TTL 86400
@ IN SOA a.root.lab. host.lab. 1 1800 900 604800 300
@ IN NS a.root
a.root IN A 127.53.200.1
stale IN NS ns1.stale
ns1.stale IN A 127.53.200.2
`
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN stale.lab.\n$TTL 86400\n@ IN SOA ns1 host 1 1800 900 604800 %d\n@ IN NS ns1\nns1 IN A 127.53.200.2\n", ttl)
	for i := range names {
		fmt.Fprintf(&b, "n%d %d IN A 192.0.2.%d\n", i, ttl, i%250+1)
	}
	n, err := resolvertest.New(root, lab, b.String())
	if err != nil {
		t.Fatal(err)
	}
	return n, netip.MustParseAddr("127.53.200.2")
}

// TestSoakServeStale (make soak; issue 13's closing figure a): hush
// caches 100 names, their TTL passes, their zone's only server stops
// answering, and 1,000 queries (ten per name, 50 at a time) ask for
// them. With serve-stale, each is answered with the expired data (TTL 30,
// EDE 3) once the refresh has had its client timeout; it reports how
// many got an answer and how long they took.
func TestSoakServeStale(t *testing.T) {
	if os.Getenv("HUSH_SOAK") == "" {
		t.Skip("HUSH_SOAK=1 (make soak) runs the soak tests")
	}
	const (
		names    = 100
		perName  = 10
		parallel = 50
		ttl      = 2 // seconds
	)
	n, server := staleLab(t, names, ttl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := n.Serve(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	hints := filepath.Join(t.TempDir(), "root.hints")
	if err := os.WriteFile(hints, []byte(n.RootHintsText()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := loopbackAddr(t)
	startHushProcess(t, hushBinary(t), "hush: serving dns://"+addr+" ",
		"--listen", "dns://"+addr,
		"--root-hints", hints,
		"--allow-upstream", "127.0.0.0/8",
		"--upstream-port", strconv.Itoa(int(sim.Port())),
		"--dnssec", "off",
	)
	measureStale(t, "hush", addr, n, server, names, perName, parallel, ttl)
}

// TestSoakServeStaleUnbound is TestSoakServeStale against Unbound with
// serve-expired: yes (and the same 1.8 s client timeout), pointed at the
// same lab with a stub zone, for comparison. It needs unbound.
func TestSoakServeStaleUnbound(t *testing.T) {
	if os.Getenv("HUSH_SOAK") == "" {
		t.Skip("HUSH_SOAK=1 (make soak) runs the soak tests")
	}
	bin := requireTool(t, "unbound")
	const (
		names    = 100
		perName  = 10
		parallel = 50
		ttl      = 2
	)
	n, server := staleLab(t, names, ttl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := n.Serve(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	hints := filepath.Join(dir, "root.hints")
	if err := os.WriteFile(hints, []byte(n.RootHintsText()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "unbound.conf")
	text := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %d
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %q
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 0
	do-ip6: no
	do-not-query-localhost: no
	root-hints: %q
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	serve-expired: yes
	serve-expired-client-timeout: 1800
	ede: yes
	ede-serve-expired: yes
stub-zone:
	name: "stale.lab."
	stub-addr: %s@%d
remote-control:
	control-enable: no
`, port, dir, hints, server, sim.Port())
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start unbound: %v", err)
	}
	exited := make(chan int, 1)
	go func() { _ = cmd.Wait(); exited <- cmd.ProcessState.ExitCode() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitAnswers(t, addr, exited)
	measureStale(t, "unbound", addr, n, server, names, perName, parallel, ttl)
}

// measureStale caches the lab's names through the resolver at addr, lets
// their TTL pass, stops their server and asks each perName times,
// parallel at a time, and logs how many got an answer, how many of
// those stale (TTL 30 and EDE 3), and how long they took.
func measureStale(t *testing.T, who, addr string, n *resolvertest.Network, server netip.Addr, names, perName, parallel, ttl int) {
	t.Helper()
	name := func(i int) string { return fmt.Sprintf("n%d.stale.lab.", i) }
	c := &dns.Client{Timeout: 5 * time.Second}
	for i := range names {
		m := new(dns.Msg)
		m.SetQuestion(name(i), dns.TypeA)
		if r, _, err := c.Exchange(m, addr); err != nil || len(r.Answer) == 0 {
			t.Fatalf("caching %s: %v %v", name(i), r, err)
		}
	}
	// Pacing, not synchronisation: the TTLs must pass in real time.
	time.Sleep(time.Duration(ttl)*time.Second + 500*time.Millisecond)
	n.SetFault(server, resolvertest.Fault{Drop: true})

	var answered, stale, failed, lost atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 5 * time.Second}
			for i := range work {
				m := new(dns.Msg)
				m.SetQuestion(name(i%names), dns.TypeA)
				m.SetEdns0(1232, false)
				t0 := time.Now()
				r, _, err := c.Exchange(m, addr)
				d := time.Since(t0)
				switch {
				case err != nil:
					lost.Add(1)
					continue
				case r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0:
					failed.Add(1)
					continue
				}
				answered.Add(1)
				if code, ok := firstEDE(r); ok && code == 3 && r.Answer[0].Header().Ttl == 30 {
					stale.Add(1)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	for i := range names * perName {
		work <- i
	}
	close(work)
	wg.Wait()
	total := time.Since(start)
	t.Logf("%s, serve-stale: %d names cached (TTL %d s), their server then dropping every query; %d queries, %d at a time",
		who, names, ttl, names*perName, parallel)
	t.Logf("%s: answered %d (%d stale: TTL 30, EDE 3), SERVFAIL or empty %d, no answer within 5 s %d; in %.1f s; latency p50 %s, p99 %s, max %s",
		who, answered.Load(), stale.Load(), failed.Load(), lost.Load(), total.Seconds(),
		percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1))
	if answered.Load() < int64(names*perName)*9/10 {
		t.Errorf("%s: %d of %d queries answered with the servers down; want nearly all (serve-stale)", who, answered.Load(), names*perName)
	}
}

// firstEDE returns the first Extended DNS Error of m.
func firstEDE(m *dns.Msg) (uint16, bool) {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if x, ok := e.(*dns.EDNS0_EDE); ok {
				return x.InfoCode, true
			}
		}
	}
	return 0, false
}
