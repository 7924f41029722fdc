package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

var pinLine = regexp.MustCompile(`(?m)^hush: self-signed certificate, SPKI pin (sha256/[A-Za-z0-9+/]{43}=)$`)

// startHushTLS runs hush serve with one tls:// listener on a free port and
// a loopback root that nothing answers (the tests ask only localhost.,
// which needs no upstream). It returns the address and stderr once the
// listener is up.
func startHushTLS(t *testing.T, extra ...string) (string, *lockedBuffer) {
	t.Helper()
	hints := writeFile(t, t.TempDir(), "root.hints",
		". 3600000 IN NS a.root.test.\na.root.test. 3600000 IN A 127.53.255.254\n")
	addr := loopbackAddr(t)
	args := append([]string{"--listen", "tls://" + addr, "--root-hints", hints, "--dnssec", "off"}, extra...)
	return addr, startHushServe(t, []string{"hush: serving tls://" + addr}, args...)
}

// queryHush runs hush query in-process.
func queryHush(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), append([]string{"query"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestServeTLSSelfSigned(t *testing.T) {
	addr, stderr := startHushTLS(t)
	m := pinLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr has no pin line:\n%s", stderr)
	}
	pin := m[1]
	server := "tls://" + addr
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderrRE string
	}{
		{"pinned", []string{"--pin", pin}, exitOK, []string{"localhost.\t", "127.0.0.1", ";; SERVER: " + strings.Replace(addr, ":", "#", 1) + "(127.0.0.1) (TLS1.3)"}, ""},
		{"insecure", []string{"--insecure"}, exitOK, []string{"(TLS1.3)"}, ""},
		{"short", []string{"--insecure", "--short"}, exitOK, []string{"127.0.0.1\n"}, ""},
		{"untrusted certificate", nil, exitFail, nil, `^hush: query: no response from tls://127\.0\.0\.1:\d+ over TLS: .*certificate.*; the server answered with a certificate signed by an authority hush does not know \(self-signed\?\): pass --ca FILE .*, --pin ` + regexp.QuoteMeta(pin) + ` .*, or --insecure to skip the check\n$`},
		{"wrong pin", []string{"--pin", "sha256/" + strings.Repeat("A", 43) + "="}, exitFail, nil, `does not match --pin`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--server", server, "--timeout", "10s", "localhost.", "A"}, tt.args...)
			code, out, errOut := queryHush(t, args...)
			if code != tt.code {
				t.Fatalf("exit: got %d, want %d; stderr %q", code, tt.code, errOut)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if tt.stderrRE != "" && !regexp.MustCompile(tt.stderrRE).MatchString(errOut) {
				t.Errorf("stderr: got %q, want a match for %q", errOut, tt.stderrRE)
			}
		})
	}
}

// writeKeyPair writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files and returns their names and the certificate's pin.
func writeKeyPair(t *testing.T, dir string) (certFile, keyFile, pin string) {
	t.Helper()
	cert, err := selfSigned([]net.IP{net.IPv4(127, 0, 0, 1)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})))
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile, spkiPin(cert.Leaf)
}

func TestServeTLSCertFiles(t *testing.T) {
	certFile, keyFile, pin := writeKeyPair(t, t.TempDir())
	addr, stderr := startHushTLS(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if pinLine.MatchString(stderr.String()) {
		t.Errorf("stderr has a self-signed pin line with --tls-cert:\n%s", stderr)
	}
	code, out, errOut := queryHush(t, "--server", "tls://"+addr, "--pin", pin, "localhost.")
	if code != exitOK || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("query with the files' pin: got %d, %q, %q; want 0 and 127.0.0.1", code, out, errOut)
	}
}

func TestTLSSettingErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeKeyPair(t, dir)
	otherCert, _, _ := writeKeyPair(t, t.TempDir())
	tests := []struct {
		name string
		args []string
		want string // regexp for the one stderr line
	}{
		{"cert without key", []string{"serve", "--tls-cert", certFile}, `^hush: --tls-cert ".*cert.pem": needs tls-key too$`},
		{"key without cert", []string{"serve", "--tls-key", keyFile}, `^hush: --tls-key ".*key.pem": needs tls-cert too$`},
		{"missing file", []string{"serve", "--tls-cert", dir + "/nope.pem", "--tls-key", keyFile}, `^hush: --tls-cert ".*nope.pem": cannot read: no such file or directory$`},
		{"mismatched pair", []string{"serve", "--tls-cert", otherCert, "--tls-key", keyFile}, `^hush: --tls-cert ".*cert.pem": .*private key does not match`},
		{"key as cert", []string{"serve", "--tls-cert", keyFile, "--tls-key", keyFile}, `^hush: --tls-cert ".*key.pem": `},
		{"bad pin", []string{"query", "--server", "tls://127.0.0.1", "--pin", "abc", "x."}, `^hush: --pin "abc": want sha256/BASE64$`},
		{"short pin", []string{"query", "--server", "tls://127.0.0.1", "--pin", "sha256/AAAA", "x."}, `^hush: --pin "sha256/AAAA": want sha256/ and the base64 of 32 bytes$`},
		{"pin over dns", []string{"query", "--server", "dns://127.0.0.1", "--pin", "sha256/" + strings.Repeat("A", 43) + "=", "x."}, `^hush: --insecure and --pin apply to tls://, https:// and quic:// servers only$`},
		{"insecure over dns", []string{"query", "--insecure", "x."}, `^hush: --insecure and --pin apply to tls://, https:// and quic:// servers only$`},
		{"insecure and pin", []string{"query", "--server", "tls://127.0.0.1", "--insecure", "--pin", "sha256/" + strings.Repeat("A", 43) + "=", "x."}, `^hush: --insecure and --pin exclude each other$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runHush(t, tt.args...)
			line := oneErrorLine(t, res.stderr)
			if res.code != exitUsage || !regexp.MustCompile(tt.want).MatchString(strings.TrimSuffix(line, "\n")) {
				t.Errorf("got %d, %q; want %d, a match for %q", res.code, line, exitUsage, tt.want)
			}
		})
	}
}

// TestKdigTLS is the interoperability test with a real DoT client: Knot's
// kdig, pinning the self-signed certificate hush printed.
func TestKdigTLS(t *testing.T) {
	kdig := requireTool(t, "kdig")
	addr, stderr := startHushTLS(t)
	m := pinLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr has no pin line:\n%s", stderr)
	}
	host, port, _ := net.SplitHostPort(addr)
	pin := strings.TrimPrefix(m[1], pinPrefix)
	tests := []struct {
		name string
		args []string
	}{
		{"pinned", []string{"+tls-pin=" + pin}},
		{"opportunistic", []string{"+tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"@" + host, "-p", port, "+time=5", "+retry=0"}, tt.args...)
			args = append(args, "localhost.", "A")
			out, err := exec.Command(kdig, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("kdig %v: %v\n%s", args, err, out)
			}
			text := string(out)
			for _, w := range []string{"status: NOERROR", "127.0.0.1", ";; TLS session (TLS1.3)"} {
				if !strings.Contains(text, w) {
					t.Errorf("kdig output lacks %q:\n%s", w, text)
				}
			}
		})
	}
	// A wrong pin makes kdig give up: hush's pin is really its key's.
	out, err := exec.Command(kdig, "@"+host, "-p", port, "+time=5", "+retry=0", "+tls-pin="+strings.Repeat("A", 43)+"=", "localhost.").CombinedOutput()
	if err == nil && strings.Contains(string(out), "status: NOERROR") {
		t.Errorf("kdig with a wrong pin got an answer:\n%s", out)
	}
}

// TestDigTLS asks hush over DNS over TLS with BIND's dig (+tls: encryption
// without certificate checks; dig 9.18 cannot pin).
func TestDigTLS(t *testing.T) {
	dig := requireTool(t, "dig")
	addr, _ := startHushTLS(t)
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(dig, "@"+host, "-p", port, "+tls", "+time=5", "+tries=1", "localhost.", "A").CombinedOutput()
	if err != nil {
		t.Fatalf("dig +tls: %v\n%s", err, out)
	}
	for _, w := range []string{"status: NOERROR", "127.0.0.1", "(TLS)"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("dig +tls output lacks %q:\n%s", w, out)
		}
	}
}

// TestQueryCA checks hush query --ca: the server's certificate checked
// against a CA file instead of the system's roots.
func TestQueryCA(t *testing.T) {
	certFile, keyFile, _ := writeKeyPair(t, t.TempDir())
	otherCert, _, _ := writeKeyPair(t, t.TempDir())
	notPEM := writeFile(t, t.TempDir(), "ca.pem", "not a certificate\n")
	addr, _ := startHushTLS(t, "--tls-cert", certFile, "--tls-key", keyFile)
	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		stderrRE string
	}{
		{"the signer", []string{"--server", "tls://" + addr, "--ca", certFile}, exitOK, `^$`},
		{"another CA", []string{"--server", "tls://" + addr, "--ca", otherCert}, exitFail, `--ca FILE`},
		{"not PEM", []string{"--server", "tls://" + addr, "--ca", notPEM}, exitUsage, `^hush: --ca ".*": no PEM certificate in it\n$`},
		{"missing file", []string{"--server", "tls://" + addr, "--ca", notPEM + ".gone"}, exitUsage, `^hush: --ca ".*": open .*\n$`},
		{"over dns", []string{"--server", "dns://" + addr, "--ca", certFile}, exitUsage, `^hush: --ca applies to tls://, https:// and quic:// servers only\n$`},
		{"with insecure", []string{"--server", "tls://" + addr, "--ca", certFile, "--insecure"}, exitUsage, `^hush: --ca excludes --insecure and --pin\n$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := queryHush(t, append(tt.args, "--timeout", "10s", "localhost.")...)
			if code != tt.code {
				t.Fatalf("exit: got %d, want %d; stderr %q", code, tt.code, errOut)
			}
			if code == exitOK && !strings.Contains(out, "127.0.0.1") {
				t.Errorf("stdout lacks 127.0.0.1:\n%s", out)
			}
			if !regexp.MustCompile(tt.stderrRE).MatchString(errOut) {
				t.Errorf("stderr: got %q, want a match for %q", errOut, tt.stderrRE)
			}
		})
	}
}
