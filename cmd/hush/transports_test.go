package main

import (
	"bytes"
	"github.com/hush-dns/hush/transport"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// answerView is what must not depend on the transport: the rcode, the
// header flags and every record (TTL aside, since it counts down between
// two askings).
type answerView struct {
	status string
	flags  string
	rrs    []string
}

func (v answerView) String() string {
	return "status " + v.status + ", flags [" + v.flags + "]\n\t" + strings.Join(v.rrs, "\n\t")
}

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	flagsRE  = regexp.MustCompile(`(?m)^;; (?i:flags): ([a-z ]*);`)
)

// viewOfText reads dig's, kdig's or hush query's output.
func viewOfText(t *testing.T, out string) answerView {
	t.Helper()
	var v answerView
	if m := statusRE.FindStringSubmatch(out); m != nil {
		v.status = m[1]
	}
	if m := flagsRE.FindStringSubmatch(out); m != nil {
		f := strings.Fields(m[1])
		slices.Sort(f)
		v.flags = strings.Join(f, " ")
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			t.Fatalf("unreadable record line %q: %v\n%s", line, err, out)
		}
		v.rrs = append(v.rrs, normalRR(rr))
	}
	slices.Sort(v.rrs)
	return v
}

// viewOfMsg reads a wire response.
func viewOfMsg(m *dns.Msg) answerView {
	v := answerView{status: dns.RcodeToString[m.Rcode]}
	var f []string
	for _, b := range []struct {
		on   bool
		name string
	}{{m.Response, "qr"}, {m.Authoritative, "aa"}, {m.Truncated, "tc"}, {m.RecursionDesired, "rd"},
		{m.RecursionAvailable, "ra"}, {m.AuthenticatedData, "ad"}, {m.CheckingDisabled, "cd"}} {
		if b.on {
			f = append(f, b.name)
		}
	}
	slices.Sort(f)
	v.flags = strings.Join(f, " ")
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			v.rrs = append(v.rrs, normalRR(rr))
		}
	}
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			v.rrs = append(v.rrs, normalRR(rr))
		}
	}
	slices.Sort(v.rrs)
	return v
}

func normalRR(rr dns.RR) string {
	rr = dns.Copy(rr)
	rr.Header().Ttl = 0
	// Clients print NSEC3 hashes in either case; base32hex and names
	// are case-insensitive, and base64 differs by more than case.
	return strings.ToLower(rr.String())
}

// TestFiveTransports is issue 4's "done when": one hush serves dns://,
// tls://, https:// (HTTP/2 and HTTP/3) and quic:// over real loopback
// sockets, validating the signed simulated internet, and hush query, dig,
// kdig and curl get the same answer to the same question over each.
func TestFiveTransports(t *testing.T) {
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
	dotPort := strconv.Itoa(freePort(t))
	dohPort := strconv.Itoa(freePort(t))
	dnsAddr := startHush(t, hints, srv.Port(), append([]string{
		"--dnssec", "validate", "--trust-anchor", anchor,
		"--listen", "tls://127.0.0.1:" + dotPort,
		"--listen", "https://127.0.0.1:" + dohPort + "/dns-query",
	}, quicListen("127.0.0.1:"+dotPort)...)...)
	dnsHost, dnsPort, _ := net.SplitHostPort(dnsAddr)
	doh := "https://127.0.0.1:" + dohPort + "/dns-query"

	dig := requireTool(t, "dig")
	kdig := requireTool(t, "kdig")
	curl := requireTool(t, "curl")

	questions := []struct{ name, qtype string }{
		{"www.alg13.sec.", "A"},         // Secure
		{"nx.alg8.sec.", "A"},           // NXDOMAIN proven by NSEC
		{"x.ent.nsec3.sec.", "A"},       // NXDOMAIN proven by NSEC3
		{"www.insecure.sec.", "A"},      // Insecure
		{"x.wild.sec.", "A"},            // wildcard
		{"www.expired.broken.", "A"},    // Bogus: SERVFAIL
		{"to-insecure.cname.sec.", "A"}, // CNAME into an unsigned zone
	}
	for _, q := range questions {
		t.Run(q.name, func(t *testing.T) {
			hushQuery := func(server string, extra ...string) func() (answerView, error) {
				return func() (answerView, error) {
					args := append([]string{"--server", server, "--dnssec", "--timeout", "10s", q.name, q.qtype}, extra...)
					code, out, errOut := queryHush(t, args...)
					if code != exitOK && code != exitFail {
						t.Fatalf("hush query %v: exit %d: %s", args, code, errOut)
					}
					return viewOfText(t, out), nil
				}
			}
			tool := func(bin string, args ...string) func() (answerView, error) {
				return func() (answerView, error) {
					args = append(args, q.name, q.qtype)
					out, err := exec.Command(bin, args...).CombinedOutput()
					if err != nil {
						t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
					}
					return viewOfText(t, string(out)), nil
				}
			}
			clients := []struct {
				name string
				ask  func() (answerView, error)
			}{
				{"hush query dns://", hushQuery("dns://" + dnsAddr)},
				{"hush query tls://", hushQuery("tls://127.0.0.1:"+dotPort, "--insecure")},
				{"hush query https:// (HTTP/2)", hushQuery(doh, "--insecure")},
				{"hush query https:// (HTTP/3)", hushQuery(doh, "--insecure", "--http3")},
				{"hush query quic://", hushQuery("quic://127.0.0.1:"+dotPort, "--insecure")},
				{"dig UDP", tool(dig, "@"+dnsHost, "-p", dnsPort, "+dnssec", "+time=5", "+tries=1")},
				{"dig +tcp", tool(dig, "@"+dnsHost, "-p", dnsPort, "+tcp", "+dnssec", "+time=5", "+tries=1")},
				{"dig +tls", tool(dig, "@127.0.0.1", "-p", dotPort, "+tls", "+dnssec", "+time=5", "+tries=1")},
				{"dig +https", tool(dig, "@127.0.0.1", "-p", dohPort, "+https", "+dnssec", "+time=5", "+tries=1")},
				{"kdig +tls", tool(kdig, "@127.0.0.1", "-p", dotPort, "+tls", "+dnssec", "+time=5", "+retry=0")},
				{"kdig +https", tool(kdig, "@127.0.0.1", "-p", dohPort, "+https", "+dnssec", "+time=5", "+retry=0")},
				{"kdig +https-get", tool(kdig, "@127.0.0.1", "-p", dohPort, "+https-get", "+dnssec", "+time=5", "+retry=0")},
				{"curl POST application/dns-message", func() (answerView, error) {
					return curlDoH(t, curl, doh, q.name, q.qtype), nil
				}},
			}
			var first answerView
			for i, c := range clients {
				if !transport.QUIC && (c.name == "hush query https:// (HTTP/3)" || c.name == "hush query quic://") {
					continue // not in a build without QUIC
				}
				got, _ := c.ask()
				if i == 0 {
					first = got
					if got.status == "" || (got.status != "SERVFAIL" && len(got.rrs) == 0) {
						t.Fatalf("%s: nothing to compare: %s", c.name, got)
					}
					continue
				}
				if got.String() != first.String() {
					t.Errorf("%s differs from %s:\n%s\nwant\n%s", c.name, clients[0].name, got, first)
				}
			}
		})
	}
}

// curlDoH posts a DO query to url with curl over HTTP/2 and reads the
// wire response.
func curlDoH(t *testing.T, curl, url, name, qtype string) answerView {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, dns.StringToType[qtype])
	q.Id = 0
	q.SetEdns0(1232, true)
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(curl, "--silent", "--show-error", "--fail", "--http2", "--insecure", "--max-time", "10",
		"-H", "content-type: application/dns-message", "-H", "accept: application/dns-message",
		"--data-binary", "@-", url)
	cmd.Stdin = bytes.NewReader(wire)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, stderr.String())
	}
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("curl got %d bytes that do not unpack: %v", len(out), err)
	}
	return viewOfMsg(m)
}
