package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// integrationCases are the questions hush, Unbound and the zone files
// must agree on. want lists record data the zone files say the answer
// holds (checked whatever Unbound says); rcode is what the zones imply.
var integrationCases = []struct {
	name  string
	qname string
	qtype uint16
	rcode int
	want  []string
}{
	{"A", "www.plain.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.1"}},
	{"AAAA", "www.plain.example.", dns.TypeAAAA, dns.RcodeSuccess, []string{"2001:db8::1"}},
	{"MX", "plain.example.", dns.TypeMX, dns.RcodeSuccess, []string{"10 mail.plain.example."}},
	{"TXT", "txt.plain.example.", dns.TypeTXT, dns.RcodeSuccess, []string{`"hello" "world"`}},
	{"in-zone CNAME chain", "alias.plain.example.", dns.TypeA, dns.RcodeSuccess, []string{"alias2.plain.example.", "192.0.2.1"}},
	{"CNAME chain across zones", "a.chain.example.", dns.TypeA, dns.RcodeSuccess, []string{"b.other.test.", "c.third.example."}},
	{"glueless delegation", "www.glueless.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"doubly glueless delegation", "www.deep.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"NXDOMAIN", "nope.plain.example.", dns.TypeA, dns.RcodeNameError, nil},
	{"NXDOMAIN at a TLD", "www.nosuchtld.", dns.TypeA, dns.RcodeNameError, nil},
	{"NODATA", "www.plain.example.", dns.TypeMX, dns.RcodeSuccess, nil},
	{"empty non-terminal", "b.c.plain.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"below an empty non-terminal", "a.b.c.plain.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.3"}},
	{"wildcard", "anything.wild.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.80"}},
	{"DNAME", "www.local.dname.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.14"}},
	{"large answer, TCP upstream", "txt.big.example.", dns.TypeTXT, dns.RcodeSuccess, []string{"09-jkl"}},
	{"one dead server", "www.half.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"lame delegation", "www.lame.example.", dns.TypeA, dns.RcodeServerFailure, nil},
	{"one lame server", "www.partlame.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"glue for one server only", "www.mixed.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"dangling CNAME", "dangling.plain.example.", dns.TypeA, dns.RcodeNameError, []string{"missing.plain.example."}},
	{"wildcard CNAME to another zone", "x.out.wild.example.", dns.TypeA, dns.RcodeSuccess, []string{"192.0.2.1"}},
	{"wildcard NODATA", "x.nodata.wild.example.", dns.TypeA, dns.RcodeSuccess, nil},
	{"DNAME to another zone", "b.sub.dname.example.", dns.TypeA, dns.RcodeSuccess, []string{"c.third.example."}},
	{"CNAME loop across zones", "loop.chain.example.", dns.TypeA, dns.RcodeServerFailure, []string{"loop.chain.example.\t", "CNAME\tloop.other.test."}},
	{"NS of a zone", "plain.example.", dns.TypeNS, dns.RcodeSuccess, []string{"ns1.plain.example."}},
	{"SOA of a zone", "plain.example.", dns.TypeSOA, dns.RcodeSuccess, nil},
	{"DS-less delegation, DS query", "plain.example.", dns.TypeDS, dns.RcodeSuccess, nil},
}

// TestIntegrationNSD resolves through `hush serve` over real sockets from
// zones served by real NSD processes, and compares with the zone data and,
// when it can run (as root, so that NSD listens on port 53, the only port
// Unbound queries), with Unbound pointed at the same servers.
func TestIntegrationNSD(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NSD processes")
	}
	n, err := resolvertest.Default()
	if err != nil {
		t.Fatal(err)
	}
	// Unbound queries port 53 only, so NSD must listen there: possible as
	// root, and when nothing else (a fakenet run, say) holds the addresses.
	var port uint16
	if os.Geteuid() == 0 && port53FreeFor(n) {
		port = 53
	}
	port = n.StartNSD(t, port)
	dir := t.TempDir()
	hints := filepath.Join(dir, "root.hints")
	if err := os.WriteFile(hints, []byte(n.RootHintsText()), 0o644); err != nil {
		t.Fatal(err)
	}

	// Exactly the command line of the issue: no --dnssec off. The root is
	// on loopback and no trust anchor is given, so hush does not validate
	// (the zones are unsigned), as Unbound without an anchor does not.
	hush := startHush(t, hints, port)
	var unbound string
	if port == 53 {
		unbound = startUnbound(t, dir, hints, "")
	} else {
		t.Log("NSD is not on port 53 (not root, or the port is taken), so there is no Unbound to compare with")
	}

	for _, tc := range integrationCases {
		t.Run(tc.name, func(t *testing.T) {
			got := askServer(t, "hush", hush, tc.qname, tc.qtype, false)
			if got.Rcode != tc.rcode {
				t.Fatalf("hush rcode: got %s, want %s\n%v", dns.RcodeToString[got.Rcode], dns.RcodeToString[tc.rcode], got)
			}
			text := got.String()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("hush answer lacks %q:\n%v", w, got)
				}
			}
			if tc.rcode != dns.RcodeServerFailure && tc.want == nil && tc.rcode == dns.RcodeSuccess && strings.HasPrefix(tc.name, "NODATA") && len(got.Answer) != 0 {
				t.Errorf("hush: got answers for NODATA: %v", got.Answer)
			}
			if unbound == "" {
				return
			}
			ub := askServer(t, "unbound", unbound, tc.qname, tc.qtype, false)
			if tc.rcode == dns.RcodeServerFailure {
				// What a SERVFAIL carries is information only: hush
				// shows a CNAME loop's chain, as Knot Resolver does,
				// where Unbound shows nothing.
				if ub.Rcode != got.Rcode {
					t.Errorf("Unbound rcode: got %s, want %s", dns.RcodeToString[ub.Rcode], dns.RcodeToString[got.Rcode])
				}
				return
			}
			if g, w := compareForm(got), compareForm(ub); g != w {
				t.Errorf("hush and Unbound differ:\nhush:\n%s\nunbound:\n%s", g, w)
			}
		})
	}

	// A real client: dig, over UDP and TCP.
	dig, ok := findTool(t, "dig")
	if !ok {
		return
	}
	host, p, _ := net.SplitHostPort(hush)
	for _, proto := range []string{"+notcp", "+tcp"} {
		out, err := exec.Command(dig, "@"+host, "-p", p, proto, "+short", "+time=5", "a.chain.example", "A").CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", proto, err, out)
		}
		if want := "b.other.test.\nc.third.example.\n192.0.2.13\n"; string(out) != want {
			t.Errorf("dig %s +short: got %q, want %q", proto, out, want)
		}
	}
}

// compareForm is what hush and Unbound must agree on: the rcode, the
// answer records without TTLs (sorted, lowercased) and whether a negative
// answer carries the zone's SOA.
func compareForm(m *dns.Msg) string {
	var lines []string
	for _, rr := range m.Answer {
		c := dns.Copy(rr)
		c.Header().Ttl = 0
		lines = append(lines, strings.ToLower(c.String()))
	}
	slices.Sort(lines)
	var soa []string
	for _, rr := range m.Ns {
		if s, ok := rr.(*dns.SOA); ok {
			soa = append(soa, strings.ToLower(s.Hdr.Name))
		}
	}
	return fmt.Sprintf("rcode %s\n%s\nsoa %v", dns.RcodeToString[m.Rcode], strings.Join(lines, "\n"), soa)
}

// askServer asks server as dig does: over UDP with EDNS (and the DO bit
// as given), again over TCP when the answer is truncated. (Unbound closes
// a TCP connection whose query takes more than about two seconds, as one
// behind a dead server does.)
func askServer(t *testing.T, label, server, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, do)
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: 5 * time.Second, UDPSize: 1232}
		r, _, err := c.Exchange(q.Copy(), server)
		if err != nil && network == "udp" {
			// Unbound sometimes drops the query that waits on a dead
			// server; as dig does, ask once more.
			r, _, err = c.Exchange(q.Copy(), server)
		}
		if err != nil {
			t.Fatalf("ask %s on %s over %s: %v", label, server, network, err)
		}
		if !r.Truncated {
			return r
		}
	}
	t.Fatalf("ask %s on %s: truncated over TCP", label, server)
	return nil
}

// startHush runs `hush serve` in-process, as the command line would, with
// extra flags after the common ones, and returns its address once it
// answers.
func startHush(t *testing.T, hints string, upstreamPort uint16, extra ...string) string {
	t.Helper()
	addr := loopbackAddr(t)
	args := append([]string{
		"--listen", "dns://" + addr,
		"--root-hints", hints,
		"--allow-upstream", "127.0.0.0/8",
		"--upstream-port", strconv.Itoa(int(upstreamPort)),
	}, extra...)
	startHushServe(t, []string{"hush: serving dns://" + addr + " "}, args...)
	return addr
}

// waitAnswers polls a server until it answers (localhost. needs no
// upstream) or exited says it stopped.
// exited gets the server's exit code; one read here is put back, for the
// test's cleanup that waits on it (a buffered channel of one).
func waitAnswers(t *testing.T, addr string, exited chan int) {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case code := <-exited:
			exited <- code
			t.Fatalf("server on %s exited with %d before answering", addr, code)
		default:
		}
		q := new(dns.Msg)
		q.SetQuestion("localhost.", dns.TypeA)
		if _, _, err := c.Exchange(q, addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server on %s never answered", addr)
}

// startUnbound runs Unbound with the same root hints and returns its
// address: a plain iterator when anchor is "", else a validator trusting
// the DS records in the file anchor (and no RFC 5011 state, so nothing is
// written next to it).
func startUnbound(t *testing.T, dir, hints, anchor string) string {
	t.Helper()
	bin, ok := findTool(t, "unbound")
	if !ok {
		t.Log("unbound not installed: no comparison")
		return ""
	}
	port := freePort(t)
	modules := "\tmodule-config: \"iterator\"\n"
	if anchor != "" {
		// harden-algo-downgrade off: RFC 6840 §5.11 lets a zone be
		// validated by any one of its algorithms, which hush does too.
		modules = fmt.Sprintf("\tmodule-config: \"validator iterator\"\n\ttrust-anchor-file: %q\n\tval-log-level: 0\n\tharden-algo-downgrade: no\n\tede: yes\n", anchor)
	}
	conf := filepath.Join(dir, "unbound.conf")
	text := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %d
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: ""
	verbosity: 0
	do-ip6: no
	do-not-query-localhost: no
	root-hints: %q
	access-control: 127.0.0.0/8 allow
	qname-minimisation: yes
	minimal-responses: yes
%sremote-control:
	control-enable: no
`, port, dir, filepath.Join(dir, "unbound.pid"), hints, modules)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", conf)
	var out bytes.Buffer
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
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitAnswers(t, addr, exited)
	return addr
}

var _ = netip.Addr{}
