package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// The soak test (make soak, issue 13 item 7): hush, as its own process,
// in front of the simulated internet on loopback sockets, is flooded for
// SOAK_SECONDS with random names under a zone whose servers answer only
// after SOAK_DELAY, while slow TCP clients hold (and, when closed, reopen)
// more connections than --max-connections, and a second client asks names
// hush has cached. It prints the second client's latency and loss, and
// hush's resident memory, goroutines, threads and file descriptors, and
// fails if memory or goroutines kept growing. Everything listens on
// 127.0.0.0/8; it stops by itself.
//
// Settings (environment): HUSH_SOAK=1 to run at all; SOAK_SECONDS (60);
// SOAK_QPS, the flood's queries a second (2000); SOAK_DELAY, the slow
// zone's delay (800ms); SOAK_IDLE_CONNS, slow TCP connections (1100, from
// 40 addresses); SOAK_CACHE, hush's --cache-size (16MiB: small enough
// for the flood to fill it, so that the run shows where memory levels
// off); HUSH_BIN, a built hush (else the test builds one).

// soakEnv reads an integer setting.
func soakEnv(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}

// soakSample is one look at the hush process.
type soakSample struct {
	at         time.Duration
	rss        int64 // bytes
	threads    int
	fds        int
	goroutines int
	cpu        time.Duration // user and system time so far
}

// procSample reads /proc/PID and hush's metrics.
func procSample(pid int, metricsURL string) (soakSample, error) {
	var s soakSample
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n << 10
		case "Threads":
			s.threads = int(n)
		}
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields 14 and 15, utime and stime in clock ticks (100 a
		// second on Linux), after the parenthesised command name.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			f := strings.Fields(string(stat[i+1:]))
			if len(f) > 13 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				s.cpu = time.Duration(u+st) * 10 * time.Millisecond
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	resp, err := http.Get(metricsURL)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	sc = bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			s.goroutines = int(n)
		}
	}
	return s, sc.Err()
}

// hushBinary returns HUSH_BIN or a hush built for the test.
func hushBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("HUSH_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "hush")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startHushProcess runs hush serve as a process of its own, so that its
// memory is its own, and stops it (by its PID) at cleanup.
func startHushProcess(t *testing.T, bin, want string, args ...string) *exec.Cmd {
	t.Helper()
	stderr := &lockedBuffer{}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), want); {
		select {
		case err := <-exited:
			t.Fatalf("hush exited (%v) before serving: %s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hush never said %q: %s", want, stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling: the log line is the only signal
	}
	return cmd
}

// soakFlood sends qps queries a second for random names under zone from
// a few UDP sockets until ctx ends, and counts the replies.
func soakFlood(ctx context.Context, t *testing.T, addr, zone string, qps int, sent, replies *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	const sockets = 4
	perTick := max(1, qps/100/sockets) // ticks of 10 ms
	for range sockets {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err != nil {
					if ctx.Err() != nil {
						return
					}
					continue
				}
				replies.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			defer c.Close()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			m := new(dns.Msg)
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				for range perTick {
					m.SetQuestion(fmt.Sprintf("%x.%s", rand.Uint64(), zone), dns.TypeA)
					m.Id = dns.Id()
					b, err := m.Pack()
					if err != nil {
						continue
					}
					if _, err := c.Write(b); err == nil {
						sent.Add(1)
					}
				}
			}
		}()
	}
	return &wg
}

// soakSlowConns holds n TCP connections to addr from 40 addresses, each
// sending one octet of a length prefix and nothing more, and opens a new
// one whenever hush closes one, until ctx ends.
func soakSlowConns(ctx context.Context, addr string, n int, opened *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := netip.AddrFrom4([4]byte{127, 0, 1, byte(10 + i%40)})
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: time.Second}
			buf := make([]byte, 64)
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					// Pacing, not synchronisation: a refused dial
					// is retried a little later.
					time.Sleep(50 * time.Millisecond)
					continue
				}
				opened.Add(1)
				stop := context.AfterFunc(ctx, func() { c.Close() })
				_, _ = c.Write([]byte{0})
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				stop()
				c.Close()
			}
		}()
	}
	return &wg
}

// soakAsk asks the cached names in turn, over UDP and one in ten over a
// new TCP connection, and records each latency, or a loss after a
// second.
type soakResult struct {
	mu     sync.Mutex
	lat    map[string][]time.Duration // by transport
	lost   map[string]int
	failed map[string]int // answered, but not NOERROR with data
}

func soakAsk(ctx context.Context, addr string, names []string, res *soakResult) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond) // 100 questions a second
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			network := "udp"
			if i%10 == 9 {
				network = "tcp"
			}
			c := &dns.Client{Net: network, Timeout: time.Second}
			m := new(dns.Msg)
			m.SetQuestion(names[i%len(names)], dns.TypeA)
			start := time.Now()
			r, _, err := c.Exchange(m, addr)
			d := time.Since(start)
			res.mu.Lock()
			switch {
			case err != nil:
				res.lost[network]++
			case r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0:
				res.failed[network]++
			default:
				res.lat[network] = append(res.lat[network], d)
			}
			res.mu.Unlock()
		}
	}()
	return &wg
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func TestSoak(t *testing.T) {
	if os.Getenv("HUSH_SOAK") == "" {
		t.Skip("HUSH_SOAK=1 (make soak) runs the soak test")
	}
	seconds := soakEnv(t, "SOAK_SECONDS", 60)
	qps := soakEnv(t, "SOAK_QPS", 2000)
	idle := soakEnv(t, "SOAK_IDLE_CONNS", 1100)
	delay := 800 * time.Millisecond
	if v := os.Getenv("SOAK_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK_DELAY=%q: %v", v, err)
		}
		delay = d
	}
	cacheSize := os.Getenv("SOAK_CACHE")
	if cacheSize == "" {
		cacheSize = "16MiB"
	}
	const slowZone = "wild.example."

	n, err := resolvertest.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := n.Serve(ctx, 0)
	if err != nil {
		t.Fatalf("serving the simulated internet: %v", err)
	}
	defer sim.Close()
	slow := 0
	for a, zones := range n.Servers() {
		if slices.Contains(zones, slowZone) {
			n.SetFault(a, resolvertest.Fault{Delay: delay})
			slow++
		}
	}
	if slow == 0 {
		t.Fatalf("no server of %s", slowZone)
	}
	dir := t.TempDir()
	hints := filepath.Join(dir, "root.hints")
	if err := os.WriteFile(hints, []byte(n.RootHintsText()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, metricsAddr := loopbackAddr(t), loopbackAddr(t)
	metricsURL := "http://" + metricsAddr + "/metrics"
	cmd := startHushProcess(t, hushBinary(t), "hush: serving dns://"+addr+" ",
		"--listen", "dns://"+addr,
		"--root-hints", hints,
		"--allow-upstream", "127.0.0.0/8",
		"--upstream-port", strconv.Itoa(int(sim.Port())),
		"--metrics-listen", metricsURL,
		"--cache-size", cacheSize,
	)
	pid := cmd.Process.Pid

	names := []string{"www.plain.example.", "short.plain.example.", "alias.plain.example.", "a.chain.example.", "anything.wild.example."}
	for _, name := range names {
		// Warm the cache; the wildcard name waits for the slow zone once.
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		c := &dns.Client{Timeout: 10 * time.Second}
		if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("warming %s: %v %v", name, r, err)
		}
	}
	before, err := procSample(pid, metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak: %d s, flood %d q/s under %s (servers delay %s), %d slow TCP connections, cached names asked at up to 100 q/s, --cache-size %s",
		seconds, qps, slowZone, delay, idle, cacheSize)
	t.Logf("before: RSS %.1f MiB, %d goroutines, %d threads, %d fds", float64(before.rss)/(1<<20), before.goroutines, before.threads, before.fds)

	floodCtx, stopFlood := context.WithCancel(ctx)
	var sent, replies, opened atomic.Int64
	res := &soakResult{lat: map[string][]time.Duration{}, lost: map[string]int{}, failed: map[string]int{}}
	flood := soakFlood(floodCtx, t, addr, slowZone, qps, &sent, &replies)
	conns := soakSlowConns(floodCtx, addr, idle, &opened)
	asker := soakAsk(floodCtx, addr, names, res)

	var samples []soakSample
	start := time.Now()
	tick := time.NewTicker(time.Second)
	for time.Since(start) < time.Duration(seconds)*time.Second {
		<-tick.C
		s, err := procSample(pid, metricsURL)
		if err != nil {
			t.Errorf("sampling hush: %v", err)
			break
		}
		s.at = time.Since(start)
		samples = append(samples, s)
		n.ResetLog() // the simulated internet's query log would grow
	}
	tick.Stop()
	stopFlood()
	asker.Wait()
	conns.Wait()
	flood.Wait()
	if len(samples) < 4 {
		t.Fatalf("only %d samples", len(samples))
	}

	for _, network := range []string{"udp", "tcp"} {
		lat := res.lat[network]
		total := len(lat) + res.lost[network] + res.failed[network]
		t.Logf("cached names over %s: %d asked, %d answered, %d lost (%.2f%%), %d not NOERROR; latency p50 %s, p99 %s, max %s",
			network, total, len(lat), res.lost[network], 100*float64(res.lost[network])/float64(max(total, 1)), res.failed[network],
			percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1))
	}
	last := samples[len(samples)-1]
	t.Logf("hush used %.1f s of CPU in %.0f s (%.0f%% of one core)", (last.cpu - before.cpu).Seconds(), last.at.Seconds(),
		100*(last.cpu-before.cpu).Seconds()/last.at.Seconds())
	t.Logf("flood: %d sent, %d replies (%.0f%%); slow TCP connections opened: %d", sent.Load(), replies.Load(),
		100*float64(replies.Load())/float64(max(sent.Load(), 1)), opened.Load())
	// The first quarter is warm-up (the cache filling, the slots taking
	// their steady churn); bounded means the last part of the rest
	// peaks no higher than noise over the part before it.
	steady := samples[len(samples)/4:]
	half := len(steady) / 2
	peak := func(ss []soakSample, f func(soakSample) int64) int64 {
		var m int64
		for _, s := range ss {
			m = max(m, f(s))
		}
		return m
	}
	rss := func(s soakSample) int64 { return s.rss }
	gor := func(s soakSample) int64 { return int64(s.goroutines) }
	fds := func(s soakSample) int64 { return int64(s.fds) }
	thr := func(s soakSample) int64 { return int64(s.threads) }
	printed := -1
	for _, s := range samples {
		// Every second of the first ten, then every ten seconds.
		if b := int(s.at / (10 * time.Second)); s.at < 10*time.Second || b != printed || s == last {
			printed = b
			t.Logf("  at %3.0fs: RSS %6.1f MiB, %5d goroutines, %3d threads, %5d fds", s.at.Seconds(), float64(s.rss)/(1<<20), s.goroutines, s.threads, s.fds)
		}
	}
	firstRSS, lastRSS := peak(steady[:half], rss), peak(steady[half:], rss)
	firstG, lastG := peak(steady[:half], gor), peak(steady[half:], gor)
	t.Logf("peaks after warm-up (%.0f s), earlier / later half: RSS %.1f / %.1f MiB, goroutines %d / %d, fds %d / %d, threads %d / %d",
		steady[0].at.Seconds(), float64(firstRSS)/(1<<20), float64(lastRSS)/(1<<20), firstG, lastG,
		peak(steady[:half], fds), peak(steady[half:], fds), peak(steady[:half], thr), peak(steady[half:], thr))
	rssBounded := lastRSS <= firstRSS+firstRSS/4+16<<20
	gBounded := lastG <= firstG+firstG/4+100
	t.Logf("bounded: RSS %v, goroutines %v", rssBounded, gBounded)
	if !rssBounded {
		t.Errorf("resident memory kept growing: %.1f MiB at most in the earlier half, %.1f MiB in the later", float64(firstRSS)/(1<<20), float64(lastRSS)/(1<<20))
	}
	if !gBounded {
		t.Errorf("goroutines kept growing: %d at most in the earlier half, %d in the later", firstG, lastG)
	}
}
