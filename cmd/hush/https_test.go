//go:build !nohttp

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"github.com/hush-dns/hush/transport"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// hushDoH is a running hush serve with an https:// listener (and a dns://
// one, to compare with) in front of the simulated internet on loopback
// sockets.
type hushDoH struct {
	addr    string // host:port of https:// (TCP and UDP)
	url     string // https://addr/dns-query
	dnsAddr string
	pin     string // sha256/BASE64
	stderr  *lockedBuffer
}

// startHushDoH starts the simulated internet and hush serve in front of it.
func startHushDoH(t *testing.T, extra ...string) *hushDoH {
	t.Helper()
	n, err := resolvertest.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sim, err := n.Serve(ctx, 0)
	if err != nil {
		cancel()
		t.Fatalf("serving the simulated internet: %v", err)
	}
	t.Cleanup(func() { cancel(); sim.Close() })
	hints := writeFile(t, t.TempDir(), "root.hints", n.RootHintsText())

	h := &hushDoH{
		addr:    loopbackAddr(t),
		dnsAddr: loopbackAddr(t),
	}
	h.url = "https://" + h.addr + "/dns-query"
	h.stderr = startHushServe(t, []string{"hush: serving " + h.url + " (DNS over HTTPS: " + dohProtocols + ")"},
		"--listen", h.url, "--listen", "dns://"+h.dnsAddr,
		"--root-hints", hints,
		"--allow-upstream", "127.0.0.0/8",
		"--upstream-port", strconv.Itoa(int(sim.Port())),
	)
	if m := pinLine.FindStringSubmatch(h.stderr.String()); m != nil {
		h.pin = m[1]
	}
	return h
}

// goDoH sends msg to h over HTTP/1.1 or HTTP/2 with Go's client, pinning
// nothing (the certificate is self-signed), and returns the answer.
func goDoH(t *testing.T, h *hushDoH, http1 bool, msg *dns.Msg) (*http.Response, *dns.Msg) {
	t.Helper()
	var p http.Protocols
	if http1 {
		p.SetHTTP1(true)
	} else {
		p.SetHTTP2(true)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Protocols: &p}
	defer tr.CloseIdleConnections()
	raw, err := msg.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Post(h.url, "application/dns-message", bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		t.Fatalf("answer (HTTP %d) does not unpack: %v", resp.StatusCode, err)
	}
	return resp, r
}

// TestServeHTTPS resolves through hush's DoH listener, over each HTTP
// version, from the simulated internet, and checks that every transport
// gives the answer plain DNS gives.
func TestServeHTTPS(t *testing.T) {
	h := startHushDoH(t)
	if h.pin == "" {
		t.Fatalf("no pin line:\n%s", h.stderr)
	}
	// The reference: plain DNS, which also warms the cache.
	code, ref, errOut := queryHush(t, "--server", "dns://"+h.dnsAddr, "--short", "www.plain.example.", "A")
	if code != exitOK || ref != "192.0.2.1\n" {
		t.Fatalf("over dns://: %d, %q, %q", code, ref, errOut)
	}
	server := ";; SERVER: " + strings.Replace(h.addr, ":", "#", 1) + "(127.0.0.1) "
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderrRE string
	}{
		{"HTTP/2 POST, pinned", []string{"--pin", h.pin}, exitOK, []string{"status: NOERROR, id: 0", "www.plain.example.\t", "192.0.2.1", server + "(HTTPS, HTTP/2, TLS1.3)"}, ""},
		{"HTTP/2 GET", []string{"--pin", h.pin, "--get"}, exitOK, []string{"192.0.2.1", server + "(HTTPS, HTTP/2, GET, TLS1.3)"}, ""},
		{"HTTP/3 POST", []string{"--pin", h.pin, "--http3"}, exitOK, []string{"192.0.2.1", server + "(HTTPS, HTTP/3, TLS1.3)"}, ""},
		{"HTTP/3 GET, insecure", []string{"--insecure", "--http3", "--get"}, exitOK, []string{"192.0.2.1", "(HTTPS, HTTP/3, GET, TLS1.3)"}, ""},
		{"NXDOMAIN", []string{"--insecure", "nope.plain.example."}, exitOK, []string{"status: NXDOMAIN", "IN\tSOA\tns1.plain.example."}, ""},
		{"untrusted certificate", nil, exitFail, nil, `^hush: query: no response from https://127\.0\.0\.1:\d+/dns-query over HTTPS, HTTP/2: .*certificate`},
		{"untrusted certificate, HTTP/3", []string{"--http3"}, exitFail, nil, `over HTTPS, HTTP/3: .*certificate`},
		{"wrong pin", []string{"--pin", "sha256/" + strings.Repeat("A", 43) + "="}, exitFail, nil, `does not match --pin`},
		{"wrong path", []string{"--insecure", "--server", "https://" + h.addr + "/other"}, exitFail, nil, `^hush: query: https://127\.0\.0\.1:\d+/other answered HTTP 404: not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if slices.Contains(tt.args, "--http3") {
				requireQUIC(t)
			}
			args := append([]string{"--server", h.url, "--timeout", "10s"}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), ".example.") {
				args = append(args, "www.plain.example.", "A")
			}
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
	// --short answers are the same over every transport.
	for _, extra := range [][]string{nil, {"--http3"}, {"--get"}} {
		if slices.Contains(extra, "--http3") && !transport.QUIC {
			continue
		}
		args := append([]string{"--server", h.url, "--insecure", "--short", "www.plain.example.", "A"}, extra...)
		if code, out, errOut := queryHush(t, args...); code != exitOK || out != ref {
			t.Errorf("hush query %v: got %d, %q (%s); want %q as over dns://", extra, code, out, errOut, ref)
		}
	}
	// HTTP/1.1 and HTTP/2 with Go's client, a name not yet cached.
	for _, http1 := range []bool{true, false} {
		q := new(dns.Msg)
		q.SetQuestion("alias.plain.example.", dns.TypeA)
		resp, r := goDoH(t, h, http1, q)
		if resp.ProtoMajor != map[bool]int{true: 1, false: 2}[http1] || len(r.Answer) != 3 || r.Rcode != dns.RcodeSuccess {
			t.Errorf("http1=%v: got %s, %s, %v", http1, resp.Proto, dns.RcodeToString[r.Rcode], r.Answer)
		}
		if got, want := resp.Header.Get("Alt-Svc"), withQUIC(`h3=":`+strings.Split(h.addr, ":")[1]+`"; ma=86400`); got != want {
			t.Errorf("Alt-Svc: got %q, want %q", got, want)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "max-age=") {
			t.Errorf("Cache-Control: got %q, want max-age", cc)
		}
	}
	// Nothing hush wrote names a client or a query, although clients
	// failed their handshakes above (net/http logs those with the
	// client's address).
	for _, line := range strings.Split(strings.TrimSpace(h.stderr.String()), "\n") {
		if !strings.HasPrefix(line, "hush: serving ") && !strings.HasPrefix(line, "hush: self-signed certificate, SPKI pin ") &&
			!strings.HasPrefix(line, "hush: the root hints name only private") {
			t.Errorf("unexpected stderr line %q", line)
		}
	}
}

func TestHTTPSSettingErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"http3 over dns", []string{"query", "--http3", "x."}, `^hush: --http3 and --get apply to https:// servers only$`},
		{"get over tls", []string{"query", "--server", "tls://127.0.0.1", "--get", "x."}, `^hush: --http3 and --get apply to https:// servers only$`},
		{"listen host name", []string{"serve", "--listen", "https://localhost/dns-query"}, `^hush: --listen "https://localhost/dns-query": host "localhost" is not an IP address$`},
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

// TestKdigHTTPS: Knot's kdig over DoH, POST and GET, pinning the key.
func TestKdigHTTPS(t *testing.T) {
	kdig := requireTool(t, "kdig")
	h := startHushDoH(t)
	host, port, _ := net.SplitHostPort(h.addr)
	pin := strings.TrimPrefix(h.pin, pinPrefix)
	for _, mode := range []string{"+https", "+https-get"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"@" + host, "-p", port, "+time=5", "+retry=0", mode, "+tls-pin=" + pin, "+padding", "www.plain.example.", "A"}
			out, err := exec.Command(kdig, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("kdig %v: %v\n%s", args, err, out)
			}
			for _, w := range []string{"status: NOERROR", "192.0.2.1", ";; TLS session (TLS1.3)", ";; HTTP session (HTTP/2-", "PADDING: "} {
				if !strings.Contains(string(out), w) {
					t.Errorf("kdig output lacks %q:\n%s", w, out)
				}
			}
			// +padding: the response is padded to a multiple of 468.
			if m := regexp.MustCompile(`;; Received (\d+) B`).FindStringSubmatch(string(out)); m == nil {
				t.Errorf("kdig output has no size:\n%s", out)
			} else if n, _ := strconv.Atoi(m[1]); n%468 != 0 {
				t.Errorf("padded response of %d bytes, not a multiple of 468", n)
			}
		})
	}
}

// TestDigHTTPS: BIND's dig over DoH (dig 9.18 does not check the
// certificate unless given a CA).
func TestDigHTTPS(t *testing.T) {
	dig := requireTool(t, "dig")
	h := startHushDoH(t)
	host, port, _ := net.SplitHostPort(h.addr)
	for _, mode := range []string{"+https", "+https-get"} {
		t.Run(mode, func(t *testing.T) {
			out, err := exec.Command(dig, "@"+host, "-p", port, mode, "+time=5", "+tries=1", "www.plain.example.", "A").CombinedOutput()
			if err != nil {
				t.Fatalf("dig %s: %v\n%s", mode, err, out)
			}
			proto := map[string]string{"+https": "(HTTPS)", "+https-get": "(HTTPS-GET)"}[mode]
			for _, w := range []string{"status: NOERROR", "192.0.2.1", proto} {
				if !strings.Contains(string(out), w) {
					t.Errorf("dig %s output lacks %q:\n%s", mode, w, out)
				}
			}
		})
	}
}

// TestCurlDoH: curl resolves a name of the simulated internet through hush
// (--doh-url) and fetches a page from the address it got; then raw DoH
// POSTs over HTTP/2 and HTTP/1.1, and the JSON form. curl 7.88 has no
// HTTP/3.
func TestCurlDoH(t *testing.T) {
	curl := requireTool(t, "curl")
	h := startHushDoH(t)

	// ns1.plain.example. is 127.53.10.1 in the simulated internet; a web
	// server there (another port than the simulated DNS) answers curl.
	l, err := net.Listen("tcp", "127.53.10.1:0")
	if err != nil {
		t.Fatalf("listen on 127.53.10.1: %v", err)
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.Host+"\n")
	})}
	go web.Serve(l)
	t.Cleanup(func() { web.Close() })
	webPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "--doh-url", h.url, "--doh-insecure",
		"http://ns1.plain.example:"+webPort+"/").CombinedOutput()
	if err != nil || string(out) != "hello from ns1.plain.example:"+webPort+"\n" {
		t.Errorf("curl --doh-url: %v\n%s", err, out)
	}

	q := new(dns.Msg)
	q.SetQuestion("www.plain.example.", dns.TypeAAAA)
	q.Id = 0
	raw, _ := q.Pack()
	qfile := filepath.Join(t.TempDir(), "query.bin")
	if err := os.WriteFile(qfile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"--http2", "--http1.1"} {
		t.Run("POST "+version, func(t *testing.T) {
			cmd := exec.Command(curl, "-sS", "-k", "--max-time", "10", version, "--data-binary", "@"+qfile,
				"-H", "content-type: application/dns-message", "-w", "%{http_version} %{content_type}", "-o", "-", h.url)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("curl: %v", err)
			}
			want := map[string]string{"--http2": "2", "--http1.1": "1.1"}[version] + " application/dns-message"
			body, ok := bytes.CutSuffix(out, []byte(want))
			if !ok {
				t.Fatalf("curl output %q does not end in %q", out, want)
			}
			var r dns.Msg
			if err := r.Unpack(body); err != nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "2001:db8::1") {
				t.Errorf("answer: %v, %v", err, r.Answer)
			}
		})
	}
	t.Run("GET dns=", func(t *testing.T) {
		out, err := exec.Command(curl, "-sS", "-k", "--max-time", "10", "-o", "-", "-H", "accept: application/dns-message",
			h.url+"?dns="+base64.RawURLEncoding.EncodeToString(raw)).Output()
		var r dns.Msg
		if err != nil || r.Unpack(out) != nil || len(r.Answer) != 1 {
			t.Errorf("curl GET: %v, %q", err, out)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		out, err := exec.Command(curl, "-sS", "-k", "--max-time", "10", "-H", "accept: application/dns-json",
			h.url+"?name=www.plain.example&type=AAAA").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		var r struct {
			Status int
			Answer []struct {
				Name string `json:"name"`
				Type int    `json:"type"`
				TTL  int
				Data string `json:"data"`
			}
		}
		if err := json.Unmarshal(out, &r); err != nil || r.Status != 0 || len(r.Answer) != 1 || r.Answer[0].Data != "2001:db8::1" || r.Answer[0].Type != 28 {
			t.Errorf("JSON answer %s: %+v, %v", out, r, err)
		}
	})
	t.Run("JSON bad type", func(t *testing.T) {
		out, err := exec.Command(curl, "-sS", "-k", "--max-time", "10", "-w", "\n%{http_code}",
			h.url+"?name=www.plain.example&type=NOPE").Output()
		if err != nil || !strings.HasSuffix(string(out), "\n400") || !strings.Contains(string(out), `"error"`) {
			t.Errorf("got %v, %q; want 400 with a JSON error", err, out)
		}
	})
}
