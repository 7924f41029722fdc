package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// certSource gives every encrypted listener its certificate through one
// GetCertificate, so that a reload can change where the certificate comes
// from (other --tls-cert/--tls-key files, or none: a self-signed one) for
// the handshakes that follow; established connections keep the session
// they have. Within one origin, a certStore reloads changed files.
type certSource struct {
	stderr io.Writer
	conf   *tls.Config // what the servers clone: GetCertificate only
	cur    atomic.Pointer[certOrigin]

	// mu guards onLeaf.
	mu     sync.Mutex
	onLeaf func(*x509.Certificate)
}

// certOrigin is where the certificate comes from: a pair of files,
// watched by a certStore, or a self-signed certificate made once.
type certOrigin struct {
	certFile, keyFile string
	store             *certStore
	self              *tls.Certificate
}

func (o *certOrigin) leaf() *x509.Certificate {
	if o.store != nil {
		return o.store.current().Leaf
	}
	return o.self.Leaf
}

func newCertSource(stderr io.Writer) *certSource {
	c := &certSource{stderr: stderr}
	c.conf = &tls.Config{GetCertificate: c.getCertificate}
	return c
}

// config is the tls.Config of every encrypted listener.
func (c *certSource) config() *tls.Config { return c.conf }

func (c *certSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	o := c.cur.Load()
	if o == nil {
		return nil, fmt.Errorf("no certificate")
	}
	if o.store != nil {
		return o.store.GetCertificate(hello)
	}
	return o.self, nil
}

// leaf returns the certificate in service, nil before the first one.
func (c *certSource) leaf() *x509.Certificate {
	if o := c.cur.Load(); o != nil {
		return o.leaf()
	}
	return nil
}

// OnLeaf has f called with the leaf of every certificate its files load
// from now on (see certStore.OnReload); commit leaves it alone.
func (c *certSource) OnLeaf(f func(*x509.Certificate)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onLeaf = f
	if o := c.cur.Load(); o != nil && o.store != nil {
		o.store.OnReload(f)
	}
}

// Reload re-reads the files of the origin in service, if it has some
// (SIGHUP).
func (c *certSource) Reload() {
	if o := c.cur.Load(); o != nil && o.store != nil {
		o.store.Reload()
	}
}

// prepare returns the origin that certFile and keyFile (both empty: a
// self-signed certificate for the addresses of listen) name, loading it
// unless it is the one in service. An error (files that do not load)
// changes nothing; nothing changes either until commit.
func (c *certSource) prepare(certFile, keyFile string, listen []listenURL) (*certOrigin, error) {
	cur := c.cur.Load()
	if cur != nil && cur.certFile == certFile && cur.keyFile == keyFile {
		return cur, nil
	}
	if certFile != "" {
		store, err := newCertStore(certFile, keyFile, c.stderr)
		if err != nil {
			return nil, fmt.Errorf("tls-cert: %w", err)
		}
		return &certOrigin{certFile: certFile, keyFile: keyFile, store: store}, nil
	}
	var ips []net.IP
	for _, u := range listen {
		if u.Scheme != "dns" && !u.Addr.Addr().IsUnspecified() {
			ips = append(ips, net.IP(u.Addr.Addr().Unmap().AsSlice()))
		}
	}
	cert, err := selfSigned(ips, time.Now())
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &certOrigin{self: &cert}, nil
}

// commit puts o in service, for the handshakes that start from now on,
// and reports whether it was a change. It does not call the OnLeaf
// function (the caller holds locks that function may need): the caller
// updates what derives from the certificate itself.
func (c *certSource) commit(o *certOrigin) bool {
	if c.cur.Swap(o) == o {
		return false
	}
	c.mu.Lock()
	f := c.onLeaf
	c.mu.Unlock()
	if o.store != nil {
		o.store.OnReload(f)
		fmt.Fprintf(c.stderr, "hush: TLS certificate %s, SPKI pin %s\n", o.certFile, spkiPin(o.leaf()))
	} else {
		fmt.Fprintf(c.stderr, "hush: self-signed certificate, SPKI pin %s\n", spkiPin(o.leaf()))
	}
	return true
}
