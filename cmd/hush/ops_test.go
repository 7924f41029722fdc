//go:build !nohttp

package main

import (
	"fmt"
	"github.com/hush-dns/hush/transport"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/metrics"
	"github.com/miekg/dns"
)

func opsConfigYAML(listen, upstream, socket, metricsAddr, blocklist string) string {
	return fmt.Sprintf(`listen: dns://%s
forward: %s
dnssec: off
control-socket: %s
metrics-listen: http://%s/metrics
blocklist: %s
local-data:
  - "printer.home.arpa. 300 IN A 192.168.1.9"
`, listen, upstream, socket, metricsAddr, blocklist)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestOpsEndToEnd runs hush serve with a config file, a control socket, a
// metrics listener and a blocklist, and checks hush ctl, /healthz, a
// promtool-checked scrape, a reload that changes the upstream under a
// query load without one failed query, a bad config that changes nothing,
// SIGHUP, and that no name or client address reaches what hush shows.
func TestOpsEndToEnd(t *testing.T) {
	up1, up2 := startFakeUpstream(t, 1), startFakeUpstream(t, 2)
	dir := t.TempDir()
	listen, metricsAddr := loopbackAddr(t), loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	blocklist := filepath.Join(dir, "block.txt")
	rewrite(t, blocklist, "0.0.0.0 ads.example\n||tracker.example^\n")
	config := filepath.Join(dir, "hush.yaml")
	rewrite(t, config, opsConfigYAML(listen, up1.addr, socket, metricsAddr, blocklist))
	stderr := startHushServe(t, []string{"serving dns://", "control socket", "serving metrics"}, "--config", config)

	// Filtering and local data.
	for _, tc := range []struct {
		name  string
		rcode int
		ip    string
		ede   int
	}{
		{"ads.example.", dns.RcodeNameError, "", 15},
		{"x.tracker.example.", dns.RcodeNameError, "", 15},
		{"printer.home.arpa.", dns.RcodeSuccess, "192.168.1.9", -1},
		{"allowed.example.", dns.RcodeSuccess, "192.0.2.1", -1},
	} {
		r, err := ask(listen, tc.name, dns.TypeA, netip.Addr{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Rcode != tc.rcode || answerIP(r) != tc.ip || edeOf(r) != tc.ede {
			t.Errorf("%s: got %s %q EDE %d; want %s %q EDE %d", tc.name, dns.RcodeToString[r.Rcode], answerIP(r), edeOf(r),
				dns.RcodeToString[tc.rcode], tc.ip, tc.ede)
		}
	}

	// hush ctl against the running hush.
	code, out, errOut := hushCtl(t, socket, "status")
	if code != 0 || !strings.Contains(out, "config: "+config) || !strings.Contains(out, "blocked: 2") {
		t.Errorf("hush ctl status = %d, %q, %q", code, out, errOut)
	}
	for _, words := range [][]string{{"flush", "allowed.example"}, {"flush", "zone", "example"}, {"flush", "infra"},
		{"nta", "add", "broken.example", "1h"}, {"nta", "remove", "broken.example"}, {"cache", "stats"}, {"flush", "all"}} {
		if code, out, errOut := hushCtl(t, socket, words...); code != 0 {
			t.Errorf("hush ctl %v = %d, %q, %q", words, code, out, errOut)
		}
	}
	if code, _, errOut := hushCtl(t, socket, "dump_cache"); code != 2 || !strings.Contains(errOut, "verbs are") {
		t.Errorf("hush ctl dump_cache = %d, %q; want 2 and the verbs", code, errOut)
	}

	// The health check turns 200 once a probe has been answered.
	waitFor(t, func() bool {
		code, _ := httpGet(t, "http://"+metricsAddr+metrics.HealthPath)
		return code == http.StatusOK
	}, "/healthz 200")

	// A query load of unique names from unique loopback addresses, while
	// the config changes the upstream and hush ctl reloads it.
	cached, err := ask(listen, "cached.example.", dns.TypeA, netip.Addr{})
	if err != nil || answerIP(cached) != "192.0.2.1" {
		t.Fatalf("cached.example: %v %v", cached, err)
	}
	var (
		stop             atomic.Bool
		sent, failed     atomic.Int64
		sawUp2           atomic.Bool
		wg               sync.WaitGroup
		namesMu          sync.Mutex
		names, addresses []string
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				from := netip.AddrFrom4([4]byte{127, 77, byte(w), byte(i%250 + 1)})
				name := fmt.Sprintf("q%d-%d-secret.example.", w, i)
				namesMu.Lock()
				names, addresses = append(names, strings.TrimSuffix(name, ".")), append(addresses, from.String())
				namesMu.Unlock()
				sent.Add(1)
				r, err := ask(listen, name, dns.TypeA, from)
				switch {
				case err != nil, r.Rcode != dns.RcodeSuccess:
					failed.Add(1)
				case answerIP(r) == "192.0.2.2":
					sawUp2.Store(true)
				case answerIP(r) != "192.0.2.1":
					failed.Add(1)
				}
			}
		}()
	}
	waitFor(t, func() bool { return sent.Load() > 200 }, "the load running")
	rewrite(t, config, opsConfigYAML(listen, up2.addr, socket, metricsAddr, blocklist))
	if code, out, errOut := hushCtl(t, socket, "reload"); code != 0 {
		t.Errorf("hush ctl reload = %d, %q, %q", code, out, errOut)
	}
	waitFor(t, sawUp2.Load, "answers from the new upstream")
	before := sent.Load()
	waitFor(t, func() bool { return sent.Load() > before+200 }, "more load after the reload")
	stop.Store(true)
	wg.Wait()
	t.Logf("reload under load: %d queries, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("reload under load: %d of %d queries failed; want 0", failed.Load(), sent.Load())
	}
	if !strings.Contains(stderr.String(), "hush: reloaded "+config+": forward changed; cache kept") {
		t.Errorf("no reload line on stderr: %s", stderr.String())
	}
	// The cache survived: the name answered by the first upstream still
	// is, without asking anyone.
	n1 := up1.queries.Load()
	if r, err := ask(listen, "cached.example.", dns.TypeA, netip.Addr{}); err != nil || answerIP(r) != "192.0.2.1" {
		t.Errorf("cached.example after reload: got %v, %v; want 192.0.2.1 from the cache", r, err)
	}
	if up1.queries.Load() != n1 {
		t.Errorf("the old upstream was asked after the reload")
	}

	// A config that does not parse changes nothing and says why in one line.
	rewrite(t, config, "listen: [dns://127.0.0.1:1\nforward: nonsense\n")
	code, _, errOut = hushCtl(t, socket, "reload")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "still running the previous configuration") {
		t.Errorf("bad reload = %d, %q; want 1 and one line", code, errOut)
	}
	if r, err := ask(listen, "after-bad-reload.example.", dns.TypeA, netip.Addr{}); err != nil || answerIP(r) != "192.0.2.2" {
		t.Errorf("after a bad reload: got %v, %v; want 192.0.2.2", r, err)
	}

	// SIGHUP reloads too: back to the first upstream.
	rewrite(t, config, opsConfigYAML(listen, up1.addr, socket, metricsAddr, blocklist))
	reloads := strings.Count(stderr.String(), "hush: reloaded")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Count(stderr.String(), "hush: reloaded") > reloads }, "a reload after SIGHUP")

	// The exposition passes promtool and names no query and no client.
	code, body := httpGet(t, "http://"+metricsAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	if strings.Contains(body, "hush_upstream_queries_total 0\n") {
		t.Errorf("no upstream query counted")
	}
	for _, want := range []string{`hush_queries_total{transport="udp"}`, `hush_policy_answers_total{action="blocked"} 2`, `hush_reloads_total{result="failed"} 1`, `hush_connections_open{listener="tcp"}`, "hush_rate_limited_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if promtool, ok := findTool(t, "promtool"); ok {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics on a real scrape: %v\n%s", err, out)
		}
	}
	_, status, _ := hushCtl(t, socket, "status")
	_, stats, _ := hushCtl(t, socket, "cache", "stats")
	shown := body + status + stats + stderr.String()
	namesMu.Lock()
	defer namesMu.Unlock()
	for _, s := range append(append(names, addresses...), "cached.example", "printer.home", "ads.example", "secret") {
		if strings.Contains(shown, s) {
			t.Errorf("%q appears in what hush shows", s)
			break
		}
	}
	t.Logf("checked %d names and %d addresses", len(names), len(addresses))
}

// TestOpsReloadErrors checks a reload's one-line failures for a missing
// blocklist and an invalid value, and that a reload also opens the
// listeners added.
func TestOpsReloadErrors(t *testing.T) {
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	listen, metricsAddr := loopbackAddr(t), loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	blocklist := filepath.Join(dir, "block.txt")
	rewrite(t, blocklist, "ads.example\n")
	config := filepath.Join(dir, "hush.yaml")
	good := opsConfigYAML(listen, up.addr, socket, metricsAddr, blocklist)
	rewrite(t, config, good)
	stderr := startHushServe(t, []string{"control socket"}, "--config", config)
	for _, tc := range []struct{ name, config, want string }{
		{"missing blocklist", strings.Replace(good, blocklist, blocklist+".gone", 1), "cannot read"},
		{"bad value", good + "cache-size: -3\n", "cache-size"},
		{"unknown key", good + "cach-size: 3\n", "cach-size"},
		{"bad local data", strings.Replace(good, "IN A 192.168.1.9", "IN A nonsense", 1), "local-data"},
	} {
		rewrite(t, config, tc.config)
		code, _, errOut := hushCtl(t, socket, "reload")
		if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) ||
			!strings.HasPrefix(errOut, "hush: reload failed, still running the previous configuration: ") {
			t.Errorf("%s: reload = %d, %q; want 1 and one line naming %q", tc.name, code, errOut, tc.want)
		}
		t.Logf("%s: %s", tc.name, strings.TrimSpace(errOut))
	}
	// An encrypted listener added: quic://, or tls:// in a build without
	// QUIC.
	added := "quic://"
	if !transport.QUIC {
		added = "tls://"
	}
	rewrite(t, config, strings.Replace(good, "listen: dns://"+listen, "listen: [dns://"+listen+", "+added+loopbackAddr(t)+"]", 1)+"cache-size: 1000\n")
	if code, _, errOut := hushCtl(t, socket, "reload"); code != 0 {
		t.Fatalf("reload: %d %q", code, errOut)
	}
	if want := "cache-size changed; new empty cache; serving " + added; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q: %s", want, stderr.String())
	}
	if r, err := ask(listen, "still.example.", dns.TypeA, netip.Addr{}); err != nil || answerIP(r) != "192.0.2.1" {
		t.Errorf("the old listener after the reload: %v, %v", r, err)
	}

	// allow-client is applied by a reload: 127.0.0.1 only, then 127.0.0.2
	// is refused and 127.0.0.1 still answered.
	rewrite(t, config, good+"allow-client: [127.0.0.1/32]\n")
	if code, _, errOut := hushCtl(t, socket, "reload"); code != 0 {
		t.Fatalf("reload: %d %q", code, errOut)
	}
	if r, err := ask(listen, "acl.example.", dns.TypeA, netip.MustParseAddr("127.0.0.2")); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("from 127.0.0.2 after allow-client 127.0.0.1/32: got %v, %v; want REFUSED", r, err)
	}
	if r, err := ask(listen, "acl.example.", dns.TypeA, netip.MustParseAddr("127.0.0.1")); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Errorf("from 127.0.0.1 after allow-client 127.0.0.1/32: got %v, %v; want NOERROR", r, err)
	}
}

// TestOpsChaos checks the CHAOS answers and NSID end to end, and that
// without --identity and --version-string the names are REFUSED.
func TestOpsChaos(t *testing.T) {
	up := startFakeUpstream(t, 1)
	on, off := loopbackAddr(t), loopbackAddr(t)
	startHushServe(t, []string{"serving dns://" + on}, "--listen", "dns://"+on, "--forward", up.addr, "--dnssec", "off",
		"--identity", "fra-1", "--version-string", "hush-test", "--nsid", "fra-1")
	startHushServe(t, []string{"serving dns://" + off}, "--listen", "dns://"+off, "--forward", up.addr, "--dnssec", "off")
	for _, tc := range []struct {
		addr, name string
		rcode      int
		txt        string
	}{
		{on, "id.server.", dns.RcodeSuccess, "fra-1"},
		{on, "hostname.bind.", dns.RcodeSuccess, "fra-1"},
		{on, "version.bind.", dns.RcodeSuccess, "hush-test"},
		{off, "id.server.", dns.RcodeRefused, ""},
		{off, "version.bind.", dns.RcodeRefused, ""},
	} {
		q := new(dns.Msg)
		q.SetQuestion(tc.name, dns.TypeTXT)
		q.Question[0].Qclass = dns.ClassCHAOS
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, tc.addr)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		txt := ""
		if len(r.Answer) == 1 {
			txt = r.Answer[0].(*dns.TXT).Txt[0]
		}
		nsid := ""
		for _, o := range r.IsEdns0().Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				nsid = n.Nsid
			}
		}
		wantNSID := ""
		if tc.addr == on {
			wantNSID = "6672612d31"
		}
		if r.Rcode != tc.rcode || txt != tc.txt || nsid != wantNSID {
			t.Errorf("%s CH TXT: got %s %q NSID %q; want %s %q NSID %q", tc.name, dns.RcodeToString[r.Rcode], txt, nsid,
				dns.RcodeToString[tc.rcode], tc.txt, wantNSID)
		}
	}
}

// TestOpsReloadListeners checks that a reload opens a dns:// listener the
// config file adds and closes one it removes, that a port already taken
// fails the reload with nothing changed, and that an encrypted listener
// is served too.
func TestOpsReloadListeners(t *testing.T) {
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	first, second := loopbackAddr(t), loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	config := filepath.Join(dir, "hush.yaml")
	base := fmt.Sprintf("forward: %s\ndnssec: off\ncontrol-socket: %s\n", up.addr, socket)
	rewrite(t, config, base+"listen: [dns://"+first+"]\n")
	stderr := startHushServe(t, []string{"serving dns://" + first}, "--config", config)
	works := func(addr string) bool {
		r, err := ask(addr, "l.example.", dns.TypeA, netip.Addr{})
		return err == nil && answerIP(r) == "192.0.2.1"
	}
	reload := func(listen string) (int, string) {
		rewrite(t, config, base+"listen: ["+listen+"]\n")
		code, _, errOut := hushCtl(t, socket, "reload")
		return code, errOut
	}
	if code, errOut := reload("dns://" + first + ", dns://" + second); code != 0 {
		t.Fatalf("reload adding a listener: %d %q", code, errOut)
	}
	if !works(first) || !works(second) {
		t.Errorf("after adding dns://%s: first %v, second %v; want both answering", second, works(first), works(second))
	}
	if !strings.Contains(stderr.String(), "serving dns://"+second) {
		t.Errorf("no line for the new listener: %s", stderr.String())
	}
	if code, errOut := reload("dns://" + second); code != 0 {
		t.Fatalf("reload removing a listener: %d %q", code, errOut)
	}
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", first, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "dns://"+first+" closed")
	if !works(second) {
		t.Errorf("dns://%s stopped answering", second)
	}
	// A port someone else holds: the reload fails and changes nothing.
	taken, err := net.Listen("tcp", loopbackAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if code, errOut := reload("dns://" + second + ", dns://" + taken.Addr().String()); code != 1 || !strings.Contains(errOut, "still running the previous configuration") {
		t.Errorf("reload onto a taken port: %d %q; want 1 and the previous configuration", code, errOut)
	}
	if !works(second) {
		t.Errorf("dns://%s stopped answering after a failed reload", second)
	}
	dot := loopbackAddr(t)
	if code, errOut := reload("dns://" + second + ", tls://" + dot); code != 0 {
		t.Fatalf("reload adding tls://: %d %q", code, errOut)
	}
	if !answersOver(t, "tls://"+dot) {
		t.Errorf("tls://%s added by a reload does not answer", dot)
	}
	if strings.Contains(stderr.String(), "take effect at restart") {
		t.Errorf("a restart note for tls://: %s", stderr.String())
	}
}
