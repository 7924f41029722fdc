//go:build unix

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// replaceKeyPair writes a new pair over certFile and keyFile by rename,
// the way certbot and most deploy scripts do, and returns its pin.
func replaceKeyPair(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	dir := t.TempDir()
	newCert, newKey, pin := writeKeyPair(t, dir)
	for _, mv := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	return pin
}

func TestCertStoreReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pin1 := writeKeyPair(t, dir)
	stderr := &lockedBuffer{}
	s, err := newCertStore(certFile, keyFile, stderr)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	s.now = func() time.Time { return time.Unix(0, clock.Load()) }
	s.nextCheck.Store(0)
	pinOf := func() string {
		t.Helper()
		c, err := s.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil || c == nil {
			t.Fatalf("GetCertificate: %v, %v", c, err)
		}
		return spkiPin(c.Leaf)
	}
	if got := pinOf(); got != pin1 {
		t.Fatalf("first pin %s, want %s", got, pin1)
	}

	// A change is seen at the first handshake after the check interval,
	// not before.
	pin2 := replaceKeyPair(t, certFile, keyFile)
	if got := pinOf(); got != pin1 {
		t.Errorf("within the check interval: pin %s, want the old %s", got, pin1)
	}
	clock.Add(int64(certCheckInterval))
	if got := pinOf(); got != pin2 {
		t.Errorf("after the interval: pin %s, want the new %s", got, pin2)
	}
	if !strings.Contains(stderr.String(), "hush: reloaded TLS certificate "+certFile+", SPKI pin "+pin2) {
		t.Errorf("no reload line on stderr:\n%s", stderr)
	}

	// A half-replaced pair (new certificate, old key) keeps the old pair
	// in service and says so once.
	otherCert, _, _ := writeKeyPair(t, t.TempDir())
	if err := os.Rename(otherCert, certFile); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clock.Add(int64(certCheckInterval))
		if got := pinOf(); got != pin2 {
			t.Fatalf("mismatched pair: pin %s, want the previous %s", got, pin2)
		}
	}
	if n := strings.Count(stderr.String(), "not reloaded, keeping the previous one"); n != 1 {
		t.Errorf("mismatched pair reported %d times, want once:\n%s", n, stderr)
	}

	// A missing file is waited out silently; a forced reload reports it.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(certCheckInterval))
	if got := pinOf(); got != pin2 {
		t.Errorf("missing key: pin %s, want %s", got, pin2)
	}
	s.Reload()
	if !strings.Contains(stderr.String(), filepath.Base(keyFile)+": no such file or directory") {
		t.Errorf("forced reload of a missing key not reported:\n%s", stderr)
	}

	// SIGHUP's forced reload takes the pair even when the stamps match.
	pin3 := replaceKeyPair(t, certFile, keyFile)
	s.Reload()
	if got := s.current(); spkiPin(got.Leaf) != pin3 {
		t.Errorf("after Reload: pin %s, want %s", spkiPin(got.Leaf), pin3)
	}
}

// TestServeTLSCertReload replaces the certificate files under a running
// hush serve: new handshakes get the new certificate, after a SIGHUP and
// after a plain file change, and a connection made before the change
// keeps working.
func TestServeTLSCertReload(t *testing.T) {
	certFile, keyFile, pin1 := writeKeyPair(t, t.TempDir())
	addr, stderr := startHushTLS(t, "--tls-cert", certFile, "--tls-key", keyFile)

	// A connection made with the first certificate, kept open.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"dot"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	askOn := func() {
		t.Helper()
		q := new(dns.Msg).SetQuestion("localhost.", dns.TypeA)
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		framed := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
		if _, err := conn.Write(append(framed, wire...)); err != nil {
			t.Fatalf("write on the old connection: %v", err)
		}
		var hdr [2]byte
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Read(hdr[:]); err != nil {
			t.Fatalf("read on the old connection: %v", err)
		}
	}
	askOn()

	queryPin := func(pin string) bool {
		code, _, _ := queryHush(t, "--server", "tls://"+addr, "--pin", pin, "--timeout", "5s", "localhost.")
		return code == exitOK
	}
	if !queryPin(pin1) {
		t.Fatal("first certificate not served")
	}

	// SIGHUP: the reload is done before the next handshake is answered
	// only once the signal has been handled, so poll for its line.
	pin2 := replaceKeyPair(t, certFile, keyFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return queryPin(pin2) }, "the certificate after SIGHUP")
	if !strings.Contains(stderr.String(), "SPKI pin "+pin2) {
		t.Errorf("no reload line for the new pin:\n%s", stderr)
	}

	// A file change without a signal is noticed at a later handshake.
	pin3 := replaceKeyPair(t, certFile, keyFile)
	waitFor(t, func() bool { return queryPin(pin3) }, "the certificate after a file change")

	askOn()
}

// waitFor retries cond until it holds, for at most 20 s. It is for
// conditions with no event to wait on, such as a file change noticed on
// a later handshake.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeTLSResumption checks that a returning client resumes its TLS
// session (a ticket, RFC 8446 §2.2) with a certificate from files, so
// reconnects after an idle timeout skip the full handshake.
func TestServeTLSResumption(t *testing.T) {
	certFile, keyFile, _ := writeKeyPair(t, t.TempDir())
	addr, _ := startHushTLS(t, "--tls-cert", certFile, "--tls-key", keyFile)
	conf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"dot"}, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	resumed := false
	for i := 0; i < 3 && !resumed; i++ {
		conn, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		// TLS 1.3 tickets arrive after the handshake: read until the
		// server closes or the deadline passes so the client sees them.
		q := new(dns.Msg).SetQuestion("localhost.", dns.TypeA)
		wire, _ := q.Pack()
		conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...))
		var buf [512]byte
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		conn.Read(buf[:])
		st := conn.ConnectionState()
		resumed = st.DidResume
		if st.Version != tls.VersionTLS13 {
			t.Errorf("TLS version %x, want 1.3", st.Version)
		}
		conn.Close()
	}
	if !resumed {
		t.Error("no session was resumed in 3 connections")
	}
}

// writeNamedKeyPair writes a self-signed certificate for name and
// 127.0.0.1 over certFile and keyFile (by rename).
func writeNamedKeyPair(t *testing.T, certFile, keyFile, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := writeFile(t, dir, "c.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	k := writeFile(t, dir, "k.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	for _, mv := range [][2]string{{c, certFile}, {k, keyFile}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServeDDRFollowsReload: the DDR target is the certificate's name,
// and a reloaded certificate with another name changes it, since clients
// verify the certificate against that name (RFC 9462 §4.2).
func TestServeDDRFollowsReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeNamedKeyPair(t, certFile, keyFile, "dns1.example.net")
	addr, _ := startHushTLS(t, "--tls-cert", certFile, "--tls-key", keyFile)
	ddr := func() string {
		_, out, _ := queryHush(t, "--server", "tls://"+addr, "--insecure", "--short", "--timeout", "5s", "_dns.resolver.arpa.", "SVCB")
		return out
	}
	if got := ddr(); !strings.HasPrefix(got, "1 dns1.example.net. alpn=") {
		t.Fatalf("DDR answer %q, want target dns1.example.net.", got)
	}
	writeNamedKeyPair(t, certFile, keyFile, "dns2.example.net")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.HasPrefix(ddr(), "1 dns2.example.net. alpn=") }, "the DDR target of the reloaded certificate")
}
