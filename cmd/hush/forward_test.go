package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/hush-dns/hush/transport"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

func TestForwardSettingErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "ca.pem", "not a certificate\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"host name", []string{"--forward", "tls://dns.example"}, `hush: --forward "tls://dns.example": "dns.example" is not an IP address (upstreams are given by address, never by name)`},
		{"bad TLS name", []string{"--forward", "tls://192.0.2.1#bad_name"}, `hush: --forward "tls://192.0.2.1#bad_name": TLS name "bad_name": not a host name: character '_'`},
		{"unknown scheme", []string{"--forward", "h3://192.0.2.1"}, `hush: --forward "h3://192.0.2.1": unknown scheme "h3": want dns://, tls://, https:// or quic://`},
		{"bad pin", []string{"--forward", "tls://192.0.2.1?pin=sha256/x"}, `hush: --forward "tls://192.0.2.1?pin=sha256/x": pin "sha256/x": want sha256/ and the base64 of 32 bytes`},
		{"CA not PEM", []string{"--forward-ca", notPEM}, `hush: --forward-ca "` + notPEM + `": CA file ` + notPEM + `: no PEM certificate in it`},
		{"zone without URL", []string{"--forward-zone", "lan."}, `hush: --forward-zone "lan.": want ZONE=VALUE[,VALUE...]`},
		{"zone bad URL", []string{"--forward-zone", "lan.=127.0.0.1:5353,tls://x"}, `hush: --forward-zone "lan.=127.0.0.1:5353,tls://x": tls://x: "x" is not an IP address (upstreams are given by address, never by name)`},
		{"stub URL", []string{"--stub-zone", "corp.=tls://192.0.2.1"}, `hush: --stub-zone "corp.=tls://192.0.2.1": tls://192.0.2.1: want an IP address, optionally with :port ([v6]:port)`},
		{"both kinds", []string{"--stub-zone", "corp.=192.0.2.1", "--forward-zone", "corp=192.0.2.2"}, `hush: corp. is both a --forward-zone and a --stub-zone`},
		{"policy", []string{"--forward-policy", "random"}, `hush: --forward-policy "random": want fastest, parallel or strict`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runHush(t, append([]string{"serve"}, tt.args...)...)
			line := oneErrorLine(t, res.stderr)
			if res.code != exitUsage || line != tt.want {
				t.Errorf("got %d, %q\nwant %d, %q", res.code, line, exitUsage, tt.want)
			}
		})
	}
}

// startHushFwd runs hush serve with args on a new dns:// port and
// returns the address; its stderr is kept for the test to read.
func startHushFwd(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	stderr := &lockedBuffer{}
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "dns://" + addr}, args...), &bytes.Buffer{}, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("hush serve exited %d: %s", code, stderr.String())
		}
	})
	waitAnswers(t, addr, done)
	return addr, stderr
}

// TestForwardEncrypted: a validating hush iterates the signed simulated
// internet and serves dns://, tls://, https:// (HTTP/2 and 3) and quic://;
// a second hush forwards to it over each and validates on its own: the
// same verdicts, AD bits and all, as the table of the signed internet.
func TestForwardEncrypted(t *testing.T) {
	requireHTTP(t)
	if testing.Short() {
		t.Skip("serves the simulated internet on sockets")
	}
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Serve(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	hints, anchor := filepath.Join(dir, "root.hints"), filepath.Join(dir, "anchor.ds")
	for file, text := range map[string]string{hints: n.RootHintsText(), anchor: n.TrustAnchorText()} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile, pin := writeKeyPair(t, dir)
	tlsPort := strconv.Itoa(freePort(t))
	httpsPort := strconv.Itoa(freePort(t))
	up := startHush(t, hints, srv.Port(), append([]string{
		"--dnssec", "validate", "--trust-anchor", anchor,
		"--tls-cert", certFile, "--tls-key", keyFile,
		"--listen", "tls://127.0.0.1:" + tlsPort,
		"--listen", "https://127.0.0.1:" + httpsPort + "/dns-query",
	}, quicListen("127.0.0.1:"+tlsPort)...)...)
	for _, url := range []string{
		up,
		"dns://" + up,
		"tls://127.0.0.1:" + tlsPort,
		"tls://127.0.0.1:" + tlsPort + "#nobody.example?pin=" + pin,
		"https://127.0.0.1:" + httpsPort + "/dns-query",
		"https://127.0.0.1:" + httpsPort + "/dns-query?http3=1",
		"quic://127.0.0.1:" + tlsPort,
	} {
		if (strings.HasPrefix(url, "quic://") || strings.Contains(url, "http3=1")) && !transport.QUIC {
			continue
		}
		t.Run(url, func(t *testing.T) {
			fwd, stderr := startHushFwd(t, "--forward", url, "--forward-ca", certFile,
				"--dnssec", "validate", "--trust-anchor", anchor)
			for _, e := range resolvertest.SignedExpectations() {
				m := askServer(t, "forwarding hush", fwd, e.Name, e.Type, true)
				if e.Security == resolvertest.Bogus {
					if m.Rcode != dns.RcodeServerFailure {
						t.Errorf("%s %s: got %s, want SERVFAIL (%s)", e.Name, dns.TypeToString[e.Type], dns.RcodeToString[m.Rcode], e.Why)
					}
					continue
				}
				if ad := e.Security == resolvertest.Secure; m.Rcode != e.Rcode || m.AuthenticatedData != ad {
					t.Errorf("%s %s: got %s AD %v, want %s AD %v (%s)", e.Name, dns.TypeToString[e.Type],
						dns.RcodeToString[m.Rcode], m.AuthenticatedData, dns.RcodeToString[e.Rcode], ad, e.Why)
				}
			}
			for _, e := range resolvertest.SignedExpectations() {
				if strings.Contains(stderr.String(), strings.TrimSuffix(e.Name, ".")) {
					t.Errorf("stderr names a query: %s", stderr)
					break
				}
			}
		})
	}
}

// TestRouterLayout is the router of issue 10: dnsmasq in front answers
// the LAN's clients and forwards to hush; hush forwards the internet to a
// validating upstream over DoT and lan. back to a second dnsmasq that
// holds the LAN's names, which are not validated (lan. is not delegated).
func TestRouterLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("serves the simulated internet on sockets")
	}
	dnsmasq := requireTool(t, "dnsmasq")
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Serve(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	hints, anchor := filepath.Join(dir, "root.hints"), filepath.Join(dir, "anchor.ds")
	for file, text := range map[string]string{hints: n.RootHintsText(), anchor: n.TrustAnchorText()} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile, _ := writeKeyPair(t, dir)
	tlsPort := strconv.Itoa(freePort(t))
	up := startHush(t, hints, srv.Port(), "--dnssec", "validate", "--trust-anchor", anchor,
		"--tls-cert", certFile, "--tls-key", keyFile, "--listen", "tls://127.0.0.1:"+tlsPort)
	_ = up
	lanPort := freePort(t)
	startDnsmasq(t, dnsmasq, lanPort, "--no-resolv", "--address=/printer.lan/192.168.1.10", "--local=/lan/")
	hush, _ := startHushFwd(t, "--forward", "tls://127.0.0.1:"+tlsPort, "--forward-ca", certFile,
		"--forward-zone", fmt.Sprintf("lan.=127.0.0.1:%d", lanPort),
		"--dnssec", "validate", "--trust-anchor", anchor)
	frontPort := freePort(t)
	startDnsmasq(t, dnsmasq, frontPort, "--no-resolv", "--server=127.0.0.1#"+strings.Split(hush, ":")[1], "--proxy-dnssec")
	front := "127.0.0.1:" + strconv.Itoa(frontPort)
	tests := []struct {
		name  string
		rcode int
		ad    bool
		want  string
	}{
		{"www.alg13.sec.", dns.RcodeSuccess, true, "192.0.2."},
		{"www.insecure.sec.", dns.RcodeSuccess, false, "192.0.2."},
		{"printer.lan.", dns.RcodeSuccess, false, "192.168.1.10"},
		{"www.expired.broken.", dns.RcodeServerFailure, false, ""},
	}
	for _, tt := range tests {
		m := askServer(t, "dnsmasq", front, tt.name, dns.TypeA, true)
		if m.Rcode != tt.rcode || m.AuthenticatedData != tt.ad || tt.want != "" && !strings.Contains(fmt.Sprint(m.Answer), tt.want) {
			t.Errorf("%s through dnsmasq and hush: got %s AD %v %v, want %s AD %v %s", tt.name,
				dns.RcodeToString[m.Rcode], m.AuthenticatedData, m.Answer, dns.RcodeToString[tt.rcode], tt.ad, tt.want)
		}
	}
}

// startDnsmasq runs dnsmasq in the foreground on 127.0.0.1:port.
func startDnsmasq(t *testing.T, bin string, port int, args ...string) {
	t.Helper()
	base := []string{"--keep-in-foreground", "--no-daemon", "--no-hosts", "--no-poll", "--conf-file=/dev/null",
		"--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + strconv.Itoa(port), "--user=root",
		"--pid-file=", "--cache-size=0", "--log-facility=-"}
	cmd := exec.Command(bin, append(base, args...)...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	exited := make(chan int, 1)
	go func() { cmd.Wait(); exited <- cmd.ProcessState.ExitCode() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case code := <-exited:
			t.Fatalf("dnsmasq exited %d: %s", code, out.String())
		default:
		}
		q := new(dns.Msg)
		q.SetQuestion("localhost.", dns.TypeA)
		if _, _, err := c.Exchange(q, addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("dnsmasq on %s never answered: %s", addr, out.String())
}

// TestForwardToValidatingUnbound is issue 10's report: hush serve
// --forward ADDR in front of a validating Unbound, over the signed
// simulated internet on port 53 (root only, and only when the port is
// free), gave SERVFAIL with EDE 10 for every unsigned zone. Every verdict
// of the table must come out, Insecure ones included, over plain DNS and
// over Unbound's DoT (tls-service-key) and DoH (https-port) listeners.
func TestForwardToValidatingUnbound(t *testing.T) {
	if testing.Short() {
		t.Skip("serves the simulated internet on sockets")
	}
	bin := requireTool(t, "unbound")
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 || !port53FreeFor(n) {
		t.Skip("Unbound queries authorities on port 53 only: needs root and the port free")
	}
	srv, err := n.Serve(t.Context(), 53)
	if err != nil {
		t.Skipf("serve on port 53: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	hints, anchor := filepath.Join(dir, "root.hints"), filepath.Join(dir, "anchor.ds")
	for file, text := range map[string]string{hints: n.RootHintsText(), anchor: n.TrustAnchorText()} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile, _ := writeKeyPair(t, dir)
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
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
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 0
	do-ip6: no
	do-not-query-localhost: no
	root-hints: %[7]q
	access-control: 127.0.0.0/8 allow
	module-config: "validator iterator"
	trust-anchor-file: %[8]q
	harden-algo-downgrade: no
	ede: yes
remote-control:
	control-enable: no
`, ports[0], ports[1], ports[2], keyFile, certFile, dir, hints, anchor)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start unbound: %v", err)
	}
	exited := make(chan int, 1)
	go func() { cmd.Wait(); exited <- cmd.ProcessState.ExitCode() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	waitAnswers(t, "127.0.0.1:"+strconv.Itoa(ports[0]), exited)
	for _, url := range []string{
		"127.0.0.1:" + strconv.Itoa(ports[0]),
		"tls://127.0.0.1:" + strconv.Itoa(ports[1]),
		"https://127.0.0.1:" + strconv.Itoa(ports[2]) + "/dns-query",
	} {
		if strings.HasPrefix(url, "https://") && !transport.HTTP {
			continue // not in this build (-tags nohttp)
		}
		t.Run(url, func(t *testing.T) {
			fwd, _ := startHushFwd(t, "--forward", url, "--forward-ca", certFile, "--dnssec", "validate", "--trust-anchor", anchor)
			for _, e := range resolvertest.SignedExpectations() {
				m := askServer(t, "forwarding hush", fwd, e.Name, e.Type, true)
				if e.Security == resolvertest.Bogus {
					if m.Rcode != dns.RcodeServerFailure || edeCode(m) < 0 {
						t.Errorf("%s %s: got %s EDE %d, want SERVFAIL with an EDE (%s)", e.Name, dns.TypeToString[e.Type], dns.RcodeToString[m.Rcode], edeCode(m), e.Why)
					}
					continue
				}
				if ad := e.Security == resolvertest.Secure; m.Rcode != e.Rcode || m.AuthenticatedData != ad {
					t.Errorf("%s %s: got %s AD %v EDE %d, want %s AD %v (%s)", e.Name, dns.TypeToString[e.Type],
						dns.RcodeToString[m.Rcode], m.AuthenticatedData, edeCode(m), dns.RcodeToString[e.Rcode], ad, e.Why)
				}
			}
		})
	}
}
