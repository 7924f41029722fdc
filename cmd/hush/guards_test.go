package main

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/miekg/dns"
)

// TestCookieSecretRotation: hush's UDP answers carry RFC 9018 cookies
// made with the first secret of --cookie-secret; a reload with a new
// secret first makes cookies with it and still accepts the old one's.
func TestCookieSecretRotation(t *testing.T) {
	const oldHex, newHex = "e5e973e5a6b2a43f48e7dc849e37bfcf", "445536bcd2513298075a5d379663c962"
	up := startFakeUpstream(t, 1)
	dir := t.TempDir()
	listen := loopbackAddr(t)
	socket := filepath.Join(dir, "ctl.sock")
	secrets := filepath.Join(dir, "cookie-secret")
	config := filepath.Join(dir, "hush.yaml")
	rewrite(t, secrets, oldHex+"\n")
	rewrite(t, config, fmt.Sprintf("listen: dns://%s\nforward: %s\ndnssec: off\ncontrol-socket: %s\ncookie-secret: %s\n", listen, up.addr, socket, secrets))
	startHushServe(t, []string{"serving dns://" + listen}, "--config", config)
	client := netip.MustParseAddr("127.0.0.1")
	askCookie := func(c string) []byte {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion("c.example.", dns.TypeA)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: c})
		r, _, err := (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(q, listen)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		for _, o := range r.IsEdns0().Option {
			if oc, ok := o.(*dns.EDNS0_COOKIE); ok {
				b, _ := hex.DecodeString(oc.Cookie)
				return b
			}
		}
		t.Fatalf("no cookie in %v", r)
		return nil
	}
	secret := func(h string) *cookie.Server {
		s, err := cookie.ParseSecret(h)
		if err != nil {
			t.Fatal(err)
		}
		return cookie.NewServer(s)
	}
	first := askCookie("0102030405060708")
	if k := secret(oldHex).Check(client, first, time.Now(), true).Kind; k != cookie.Valid {
		t.Fatalf("cookie %x made with the configured secret: judged %v", first, k)
	}
	rewrite(t, secrets, newHex+"\n"+oldHex+"\n")
	if code, _, errOut := hushCtl(t, socket, "reload"); code != 0 {
		t.Fatalf("reload: %d %q", code, errOut)
	}
	// The old cookie is accepted (and, fresh but made with the old
	// secret, replaced); a new client gets one made with the new secret.
	renewed := askCookie(hex.EncodeToString(first))
	if k := secret(newHex).Check(client, renewed, time.Now(), true).Kind; k != cookie.Valid {
		t.Errorf("after rotation the old cookie came back as %x, judged %v by the new secret; want a valid new one", renewed, k)
	}
	fresh := askCookie("1112131415161718")
	if k := secret(newHex).Check(client, fresh, time.Now(), true).Kind; k != cookie.Valid {
		t.Errorf("after rotation a new cookie %x judged %v by the new secret", fresh, k)
	}
}
