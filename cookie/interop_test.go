package cookie

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/internal/testport"
	"github.com/miekg/dns"
)

// TestInteropKnot checks that hush's server cookies and those of an
// independent RFC 9018 implementation are the same cookies: Knot DNS's
// mod-cookies, given the secret hush holds, makes cookies hush verifies,
// and accepts the ones hush makes (and sends BADCOOKIE for one it did
// not). Unbound speaks the same cookies from 1.18 on (answer-cookie,
// cookie-secret), but Debian 12 ships 1.17, which has neither; the RFC's
// own vectors (TestRFC9018Vectors) are the third witness.
//
// Skipped when knotd is not installed (Debian package knot).
func TestInteropKnot(t *testing.T) {
	knotd, err := exec.LookPath("knotd")
	if err != nil {
		t.Skip("knotd not installed")
	}
	addr := startKnotd(t, knotd)
	hush := NewServer(mustSecret(t, secretA))
	client := netip.MustParseAddr("127.0.0.1")
	ask := func(opt string) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion("a.cookie.test.", dns.TypeA)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: opt})
		// knotd is serving (startKnotd waited for it to say so): one
		// query, no polling. Polling a port nothing is bound to yet can
		// self-connect (the client's ephemeral port is the port asked)
		// and read back its own query as the answer.
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		r, _, err := c.Exchange(q, addr.String())
		if err != nil {
			t.Fatalf("knotd does not answer: %v", err)
		}
		if !r.Response {
			t.Fatalf("the answer from %s is a query (QR clear), not knotd's response:\n%v", addr, r)
		}
		return r
	}
	respCookie := func(r *dns.Msg) []byte {
		t.Helper()
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if c, ok := e.(*dns.EDNS0_COOKIE); ok {
					return mustHex(t, c.Cookie)
				}
			}
		}
		t.Fatalf("no cookie in knotd's answer:\n%v", r)
		return nil
	}

	// Knot's cookie verifies in hush.
	r := ask("2464c4abcf10c957")
	knotCookie := respCookie(r)
	if res := hush.Check(client, knotCookie, time.Now(), true); res.Kind != Valid {
		t.Errorf("knotd's cookie %x judged %v by hush; want valid", knotCookie, res.Kind)
	}
	// hush's cookie is accepted by Knot: an answer, not BADCOOKIE.
	mine := hush.Check(client, mustHex(t, "0102030405060708"), time.Now(), false).Response
	r = ask(hex.EncodeToString(mine[:]))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("knotd given hush's cookie answered %s with %d records; want NOERROR with 1", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	// And a cookie made with another secret is refused by both.
	other := NewServer(mustSecret(t, secretB)).Check(client, mustHex(t, "0102030405060708"), time.Now(), false).Response
	if r = ask(hex.EncodeToString(other[:])); r.Rcode != dns.RcodeBadCookie {
		t.Errorf("knotd given a foreign cookie answered %s; want BADCOOKIE", dns.RcodeToString[r.Rcode])
	}
	if res := hush.Check(client, other[:], time.Now(), true); res.Kind != Invalid || res.Action != BadCookie {
		t.Errorf("hush given a foreign cookie: %v %v; want invalid badcookie", res.Kind, res.Action)
	}
}

// startKnotd runs knotd serving cookie.test with mod-cookies holding
// secretA on a loopback port, and returns that address once knotd has
// said it is serving the zone.
//
// The port is found free for UDP and TCP (knotd binds both), below the
// ephemeral range, and then closed, so another test choosing the same
// number may take it before knotd binds it; knotd then exits saying so,
// and the start is made again on another port.
// Any other exit fails the test.
func startKnotd(t *testing.T, knotd string) netip.AddrPort {
	t.Helper()
	const attempts = 10
	for range attempts {
		addr, err := tryKnotd(t, knotd)
		if err == nil {
			return addr
		}
		if !errors.Is(err, errKnotdPortTaken) {
			t.Fatal(err)
		}
		t.Log(err)
	}
	t.Fatalf("knotd: no free port in %d attempts", attempts)
	return netip.AddrPort{}
}

// errKnotdPortTaken is tryKnotd's error when knotd could not bind its
// port because something else took it first.
var errKnotdPortTaken = errors.New("knotd: port taken")

// tryKnotd is one start of knotd for startKnotd.
func tryKnotd(t *testing.T, knotd string) (netip.AddrPort, error) {
	t.Helper()
	dir := t.TempDir()
	addr := testport.Addr(t)
	conf := "server:\n    listen: " + addr.Addr().String() + "@" + strconv.Itoa(int(addr.Port())) + "\n    rundir: " + dir + "\n" +
		"log:\n  - target: stderr\n    any: info\n" +
		"database:\n    storage: " + dir + "\n" +
		"mod-cookies:\n  - id: shared\n    secret: 0x" + secretA + "\n    badcookie-slip: 1\n" +
		"template:\n  - id: default\n    storage: " + dir + "\n    global-module: mod-cookies/shared\n" +
		"zone:\n  - domain: cookie.test\n    file: cookie.test.zone\n"
	zone := "$ORIGIN cookie.test.\n@ 300 IN SOA ns hostmaster 1 3600 600 86400 300\n@ 300 IN NS ns\nns 300 IN A 127.0.0.1\na 300 IN A 192.0.2.1\n"
	for name, content := range map[string]string{"knot.conf": conf, "cookie.test.zone": zone} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(knotd, "-c", filepath.Join(dir, "knot.conf"))
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start knotd: %v", err)
	}
	drained := make(chan struct{}) // closed when nothing reads logs any more
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-drained // Wait closes the pipe: not while it is read
		_ = cmd.Wait()
	})
	// knotd logs "server started" once its sockets are bound and
	// "[cookie.test.] loaded" once it can answer for the zone (before
	// that it refuses); the two may come in either order. Reading its
	// log is the readiness signal: knotd has no other.
	var log strings.Builder
	started, loaded, inUse := false, false, false
	sc := bufio.NewScanner(logs)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		switch {
		case strings.Contains(line, "server started"):
			started = true
		case strings.Contains(line, "[cookie.test.] loaded"):
			loaded = true
		case strings.Contains(line, "cannot bind address") && strings.Contains(line, "address already in use"):
			inUse = true
		}
		if started && loaded {
			// Keep draining the log so that knotd never blocks on a
			// full pipe; the pipe closes when knotd exits.
			go func() {
				defer close(drained)
				_, _ = io.Copy(io.Discard, logs)
			}()
			return addr, nil
		}
	}
	// The log ended: knotd exited before serving.
	close(drained)
	err = cmd.Wait()
	if inUse {
		return netip.AddrPort{}, fmt.Errorf("%w: %s (%v):\n%s", errKnotdPortTaken, addr, err, log.String())
	}
	return netip.AddrPort{}, fmt.Errorf("knotd exited before serving (%v):\n%s", err, log.String())
}
