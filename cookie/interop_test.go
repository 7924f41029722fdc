package cookie

import (
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
	dir := t.TempDir()
	addr := freeUDP(t)
	conf := "server:\n    listen: " + addr.Addr().String() + "@" + strconv.Itoa(int(addr.Port())) + "\n    rundir: " + dir + "\n" +
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
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start knotd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	hush := NewServer(mustSecret(t, secretA))
	client := netip.MustParseAddr("127.0.0.1")
	ask := func(opt string) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion("a.cookie.test.", dns.TypeA)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: opt})
		c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
		// knotd binds its socket a moment after it starts: poll.
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, _, err := c.Exchange(q, addr.String())
			if err == nil {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("knotd does not answer: %v", err)
			}
		}
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

// freeUDP returns a loopback UDP address that was free a moment ago.
func freeUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}
