//go:build !noquic

package main

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestServeQUICEndToEnd resolves through hush serve, from the simulated
// internet on real loopback sockets, over dns:// and quic:// (and tls://,
// sharing the certificate), and checks that DNS over QUIC answers exactly
// as plain DNS does.
func TestServeQUICEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulated internet on sockets")
	}
	n, err := resolvertest.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inet, err := n.Serve(ctx, 0)
	if err != nil {
		t.Fatalf("serve the simulated internet: %v", err)
	}
	t.Cleanup(func() { inet.Close() })
	hints := writeFile(t, t.TempDir(), "root.hints", n.RootHintsText())
	plain, dot, doq := loopbackAddr(t), loopbackAddr(t), loopbackAddr(t)
	stderr := startHushServe(t,
		[]string{"hush: serving dns://" + plain, "hush: serving tls://" + dot, "hush: serving quic://" + doq + " (DNS over QUIC)"},
		"--listen", "dns://"+plain, "--listen", "tls://"+dot, "--listen", "quic://"+doq,
		"--root-hints", hints, "--allow-upstream", "127.0.0.0/8",
		"--upstream-port", strconv.Itoa(int(inet.Port())))
	m := pinLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr has no pin line:\n%s", stderr)
	}
	pin := m[1]
	if c := strings.Count(stderr.String(), "SPKI pin"); c != 1 {
		t.Errorf("%d pin lines; want one certificate for tls:// and quic://", c)
	}

	for _, tc := range integrationCases {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := parseServerURL("quic://" + doq)
			if err != nil {
				t.Fatal(err)
			}
			x := newQUICExchanger(queryOptions{server: ep, pin: pin})
			q := new(dns.Msg)
			q.SetQuestion(tc.qname, tc.qtype)
			q.SetEdns0(1232, false)
			qctx, qcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer qcancel()
			res, err := x.exchange(qctx, q)
			if err != nil {
				t.Fatalf("over quic://: %v", err)
			}
			got := res.msg
			if got.Rcode != tc.rcode || got.Id != 0 {
				t.Fatalf("over quic://: got %s ID %d, want %s ID 0\n%v", dns.RcodeToString[got.Rcode], got.Id, dns.RcodeToString[tc.rcode], got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.String(), w) {
					t.Errorf("over quic://: answer lacks %q:\n%v", w, got)
				}
			}
			// Now cached: plain DNS must say the same.
			udp := askServer(t, "hush", plain, tc.qname, tc.qtype, false)
			if g, w := compareForm(got), compareForm(udp); g != w {
				t.Errorf("quic:// and dns:// differ:\nquic:\n%s\ndns:\n%s", g, w)
			}
		})
	}

	// DDR (RFC 9462) announces the quic:// listener with its port.
	_, doqPort, _ := net.SplitHostPort(doq)
	svcb := askServer(t, "hush", plain, "_dns.resolver.arpa.", dns.TypeSVCB, false)
	if !strings.Contains(svcb.String(), `alpn="doq" port="`+doqPort+`"`) {
		t.Errorf("DDR answer does not announce quic://%s:\n%v", doq, svcb)
	}

	// hush query prints the transport and TLS version, dig-like.
	for _, tt := range []struct {
		server string
		args   []string
		proto  string
	}{
		{"quic://" + doq, []string{"--pin", pin}, "(QUIC, TLS1.3)"},
		{"quic://" + doq, []string{"--insecure"}, "(QUIC, TLS1.3)"},
		{"tls://" + dot, []string{"--pin", pin}, "(TLS1.3)"}, // the same key
	} {
		code, out, errOut := queryHush(t, append([]string{"--server", tt.server, "--timeout", "10s", "www.plain.example.", "A"}, tt.args...)...)
		if code != exitOK {
			t.Fatalf("hush query %s %v: exit %d, %s", tt.server, tt.args, code, errOut)
		}
		for _, w := range []string{"status: NOERROR", "www.plain.example.\t", "192.0.2.1", ";; SERVER: " + strings.Replace(strings.TrimPrefix(strings.TrimPrefix(tt.server, "quic://"), "tls://"), ":", "#", 1) + "(127.0.0.1) " + tt.proto} {
			if !strings.Contains(out, w) {
				t.Errorf("hush query %s %v: stdout lacks %q:\n%s", tt.server, tt.args, w, out)
			}
		}
	}
}

func TestQueryQUICErrors(t *testing.T) {
	addr := loopbackAddr(t)
	startHushServe(t, []string{"hush: serving quic://" + addr},
		"--listen", "quic://"+addr, "--root-hints",
		writeFile(t, t.TempDir(), "root.hints", ". 3600000 IN NS a.root.test.\na.root.test. 3600000 IN A 127.53.255.254\n"),
		"--dnssec", "off")
	server := "quic://" + addr
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrRE string
	}{
		{"short", []string{"--insecure", "--short"}, exitOK, "127.0.0.1\n", ""},
		{"untrusted certificate", nil, exitFail, "", `^hush: query: no response from quic://127\.0\.0\.1:\d+ over QUIC: .*certificate`},
		{"wrong pin", []string{"--pin", "sha256/" + strings.Repeat("A", 43) + "="}, exitFail, "", `does not match --pin`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--server", server, "--timeout", "10s", "localhost.", "A"}, tt.args...)
			code, out, errOut := queryHush(t, args...)
			if code != tt.code {
				t.Fatalf("exit: got %d, want %d; stderr %q", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
			if tt.stderrRE != "" && !regexp.MustCompile(tt.stderrRE).MatchString(errOut) {
				t.Errorf("stderr: got %q, want a match for %q", errOut, tt.stderrRE)
			}
		})
	}

	// Nothing listens: a timeout, reported as such.
	code, _, errOut := queryHush(t, "--server", "quic://"+loopbackAddr(t), "--insecure", "--timeout", "300ms", "localhost.")
	if code != exitFail || !strings.Contains(errOut, "over QUIC: timed out") {
		t.Errorf("no server: got %d, %q; want %d and a timeout", code, errOut, exitFail)
	}
}

// TestKdigQUIC is the interoperability test with an independent DoQ
// client: kdig +quic, which Knot DNS has from version 3.3 (Debian
// bookworm packages 3.2, without it). It skips unless kdig has +quic.
func TestKdigQUIC(t *testing.T) {
	kdig := requireTool(t, "kdig")
	if out, _ := exec.Command(kdig, "-h").CombinedOutput(); !bytes.Contains(out, []byte("+quic")) {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Log("kdig has no +quic (Knot DNS before 3.3): no independent DoQ client to test with")
		}
		t.Skip("kdig has no +quic (Knot DNS before 3.3)")
	}
	addr := loopbackAddr(t)
	stderr := startHushServe(t, []string{"hush: serving quic://" + addr},
		"--listen", "quic://"+addr, "--root-hints",
		writeFile(t, t.TempDir(), "root.hints", ". 3600000 IN NS a.root.test.\na.root.test. 3600000 IN A 127.53.255.254\n"),
		"--dnssec", "off")
	m := pinLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr has no pin line:\n%s", stderr)
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"@" + host, "-p", port, "+quic", "+tls-pin=" + strings.TrimPrefix(m[1], pinPrefix), "+time=5", "+retry=0", "+padding", "localhost.", "A"}
	out, err := exec.Command(kdig, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig %v: %v\n%s", args, err, out)
	}
	for _, w := range []string{"status: NOERROR", "127.0.0.1", "QUIC"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("kdig +quic output lacks %q:\n%s", w, out)
		}
	}
}

func TestOpenSocketsQUIC(t *testing.T) {
	s, err := openSockets(t.Context(), []listenURL{{Scheme: "quic", Addr: netip.MustParseAddrPort("127.0.0.1:0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.QUIC) != 1 || len(s.UDP)+len(s.TCP)+len(s.TLS) != 0 {
		t.Fatalf("got %d QUIC sockets and %d others; want 1 and 0", len(s.QUIC), len(s.UDP)+len(s.TCP)+len(s.TLS))
	}
	a := s.QUIC[0].LocalAddr().(*net.UDPAddr).AddrPort()
	if !a.Addr().IsLoopback() || a.Port() == 0 {
		t.Errorf("quic:// socket on %v; want loopback and a port", a)
	}
	if err := s.Close(); err != nil || len(s.QUIC) != 0 {
		t.Errorf("Close = %v, %d QUIC sockets left; want nil, 0", err, len(s.QUIC))
	}
}

// TestServeQUICCertFiles: quic:// serves the --tls-cert certificate, which
// main's certificate store hands out through GetCertificate.
func TestServeQUICCertFiles(t *testing.T) {
	certFile, keyFile, pin := writeKeyPair(t, t.TempDir())
	addr := loopbackAddr(t)
	stderr := startHushServe(t, []string{"hush: serving quic://" + addr},
		"--listen", "quic://"+addr, "--tls-cert", certFile, "--tls-key", keyFile, "--root-hints",
		writeFile(t, t.TempDir(), "root.hints", ". 3600000 IN NS a.root.test.\na.root.test. 3600000 IN A 127.53.255.254\n"),
		"--dnssec", "off")
	if pinLine.MatchString(stderr.String()) {
		t.Errorf("stderr has a self-signed pin line with --tls-cert:\n%s", stderr)
	}
	code, out, errOut := queryHush(t, "--server", "quic://"+addr, "--pin", pin, "localhost.")
	if code != exitOK || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("query with the files' pin: got %d, %q, %q; want 0 and 127.0.0.1", code, out, errOut)
	}
}
