//go:build !nodemo

package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// TestDemo runs hush demo as a newcomer would: it prints a port and
// commands, answers them, and stops cleanly on Ctrl-C (ctx cancelled).
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	re := regexp.MustCompile(`dns://(127\.0\.0\.1:\d+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatalf("demo printed no address")
	}
	go io.Copy(io.Discard, pr)

	tests := []struct {
		qname string
		qtype uint16
		rcode int
		want  string
	}{
		{"www.alg13.sec.", dns.TypeA, dns.RcodeSuccess, " ad"},
		{"nx.alg8.sec.", dns.TypeA, dns.RcodeNameError, " ad"},
		{"www.insecure.sec.", dns.TypeA, dns.RcodeSuccess, "www.insecure.sec."},
		{"www.expired.broken.", dns.TypeA, dns.RcodeServerFailure, "Signature Expired"},
	}
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
	for _, tc := range tests {
		q := new(dns.Msg)
		q.SetQuestion(tc.qname, tc.qtype)
		q.SetEdns0(1232, true)
		r, _, err := c.Exchange(q, addr)
		if err != nil {
			t.Fatalf("%s: %v", tc.qname, err)
		}
		if r.Rcode != tc.rcode || !strings.Contains(r.String(), tc.want) {
			t.Errorf("%s: got %s, want %s with %q\n%v", tc.qname, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], tc.want, r)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exit status %d after Ctrl-C, want 0", code)
	}
}

// TestServeBadRootHints: a root hints file without root servers is a bad
// setting: one line naming it, status 2, before anything listens.
func TestServeBadRootHints(t *testing.T) {
	file := writeFile(t, t.TempDir(), "hints", "; nothing here\n")
	res := runHush(t, "serve", "--listen", "dns://127.0.0.1:0", "--root-hints", file)
	if res.code != exitUsage || res.served {
		t.Errorf("exit status %d (served %v), want %d", res.code, res.served, exitUsage)
	}
	if line := oneErrorLine(t, res.stderr); !strings.Contains(line, "root-hints") || !strings.Contains(line, "no NS records") {
		t.Errorf("stderr %q, want it to name root-hints and the problem", line)
	}
}

// TestREADMEDemoZoneCount keeps the demo transcript in the README in step
// with the zones hush demo builds.
func TestREADMEDemoZoneCount(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`hush demo: a simulated, DNSSEC-signed internet of (\d+) zones`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no hush demo transcript line")
	}
	if got, want := string(m[1]), strconv.Itoa(len(n.Zones())); got != want {
		t.Errorf("README.md says hush demo has %s zones; it has %s", got, want)
	}
}
