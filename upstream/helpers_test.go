package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
)

// testCert is a self-signed certificate that is its own CA.
type testCert struct {
	tls  tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
	pin  string
}

// newCert makes a certificate for 127.0.0.1 and ::1 and the given names.
func newCert(t testing.TB, names ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "hush upstream test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCert{
		tls:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		leaf: leaf,
		pool: pool,
		pin:  SPKIPin(leaf),
	}
}

// writePEM writes the certificate and its key as PEM files.
func (c testCert) writePEM(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.tls.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.leaf.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// zone is a tiny authoritative answerer for the tests' upstreams:
// NAME.test. A is 192.0.2.1, refused.test. is REFUSED, everything else
// NXDOMAIN. It counts the queries it answered.
type zone struct {
	queries atomic.Int64
	refuse  atomic.Bool
}

func (z *zone) ServeDNS(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	z.queries.Add(1)
	r := new(dns.Msg)
	r.SetReply(q)
	name := strings.ToLower(q.Question[0].Name)
	switch {
	case z.refuse.Load() || name == "refused.test.":
		r.Rcode = dns.RcodeRefused
	case strings.HasSuffix(name, ".test.") && q.Question[0].Qtype == dns.TypeA:
		rr, _ := dns.NewRR(q.Question[0].Name + " 300 IN A 192.0.2.1")
		r.Answer = append(r.Answer, rr)
	case strings.HasSuffix(name, ".test."):
	default:
		r.Rcode = dns.RcodeNameError
	}
	return r, nil
}

func tconfig(h transport.Handler) transport.Config {
	return transport.Config{Handler: h, QueryTimeout: 5 * time.Second}
}

func serverTLS(c testCert) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.tls}}
}

// startDoT serves DNS over TLS on loopback and returns its address.
func startDoT(t testing.TB, cfg transport.Config, c testCert) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := transport.NewTLSServer(cfg, serverTLS(c))
	go s.Serve(l)
	t.Cleanup(func() { shutdown(s.Shutdown) })
	return netip.MustParseAddrPort(l.Addr().String())
}

// startDoH serves DNS over HTTPS (HTTP/1.1 and 2 on TCP, HTTP/3 on UDP,
// same port number) and returns the TCP address.
func startDoH(t testing.TB, cfg transport.Config, c testCert, h3 bool) netip.AddrPort {
	t.Helper()
	var (
		l   net.Listener
		pc  net.PacketConn
		err error
	)
	// The TCP port the kernel picks may be taken for UDP: try another.
	for range 20 {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if !h3 {
			break
		}
		if pc, err = net.ListenPacket("udp", l.Addr().String()); err == nil {
			break
		}
		l.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := transport.NewDoHServer(cfg, serverTLS(c), transport.DoHOptions{})
	if h3 {
		go s.ServeQUIC(pc)
		t.Cleanup(func() { pc.Close() })
	}
	go s.Serve(l)
	t.Cleanup(func() { shutdown(s.Shutdown) })
	return netip.MustParseAddrPort(l.Addr().String())
}

// startDoQ serves DNS over QUIC on pc (a new loopback socket when nil).
func startDoQ(t testing.TB, cfg transport.Config, c testCert, pc net.PacketConn) (netip.AddrPort, *transport.DoQServer) {
	t.Helper()
	if pc == nil {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	s := transport.NewDoQServer(cfg, serverTLS(c))
	go s.Serve(pc)
	t.Cleanup(func() { shutdown(s.Shutdown) })
	return netip.MustParseAddrPort(pc.LocalAddr().String()), s
}

// startDNS serves plain DNS on UDP and TCP on one port.
func startDNS(t testing.TB, cfg transport.Config) netip.AddrPort {
	t.Helper()
	// The UDP port the kernel picks may be taken for TCP: try another.
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	us := transport.NewUDPServer(cfg)
	ts := transport.NewTCPServer(cfg)
	go us.Serve(pc)
	go ts.Serve(l)
	t.Cleanup(func() { shutdown(us.Shutdown); shutdown(ts.Shutdown) })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func shutdown(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f(ctx)
}

// query is a question for name with EDNS and DO.
func query(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, true)
	return q
}

// mustUp makes the upstream for raw or fails the test.
func mustUp(t *testing.T, raw string, opts Options) Upstream {
	t.Helper()
	s, err := Parse(raw)
	if errors.Is(err, errNoQUIC) && !quicBuilt || errors.Is(err, errNoHTTP) && !httpBuilt {
		t.Skipf("not in this build: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// ask sends one query through u with a 5 s budget.
func ask(t *testing.T, u Upstream, name string) (*dns.Msg, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q := query(name, dns.TypeA)
	q.Id = 4242
	r, err := u.Exchange(ctx, q)
	if err == nil && r.Id != 4242 {
		t.Errorf("%s: reply ID %d, want the query's 4242", u, r.Id)
	}
	return r, err
}

// logBuf collects Options.Logf lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// needTool skips the test when a program is missing, unless
// HUSH_INTEGRATION is "require" (as CI sets it), where that fails it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, err2 := os.Stat(filepath.Join(dir, name)); err2 == nil {
				return filepath.Join(dir, name)
			}
		}
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("%s not installed and HUSH_INTEGRATION=require", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}
