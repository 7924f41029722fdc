package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certCheckInterval is how often, at most, a handshake looks at the
// certificate files' metadata. Reloading on the handshake path rather
// than from a timer means an idle laptop or router never wakes up for it,
// and a busy server stats two files a second.
const certCheckInterval = time.Second

// certStore serves the --tls-cert/--tls-key pair to every encrypted
// listener through tls.Config.GetCertificate, and swaps in a new pair when
// the files change (noticed at the next handshake) or on SIGHUP. A swap
// affects only handshakes that start after it: established connections
// keep their session, so nothing is dropped. A pair that does not load
// (a half-written file, a key that does not match) leaves the old one in
// service; it is tried again when the files change again.
type certStore struct {
	certFile, keyFile string
	stderr            io.Writer
	now               func() time.Time

	cur       atomic.Pointer[tls.Certificate]
	nextCheck atomic.Int64 // unix nanoseconds; 0 = check at once

	mu       sync.Mutex // serialises reloads and guards stamp and onReload
	stamp    fileStamps // of the pair last tried, loaded or not
	onReload func(*x509.Certificate)
}

// OnReload has f called, under the store's lock, with the leaf of every
// pair loaded from now on, so that what is derived from the certificate
// (the DDR target name) follows it.
func (s *certStore) OnReload(f func(*x509.Certificate)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onReload = f
}

// fileStamps identifies a version of the two files without reading them.
type fileStamps [2]struct {
	mod  time.Time
	size int64
	ino  uint64
}

// newCertStore loads the pair once; a pair that does not load is an error
// (hush serve refuses to start with it).
func newCertStore(certFile, keyFile string, stderr io.Writer) (*certStore, error) {
	s := &certStore{certFile: certFile, keyFile: keyFile, stderr: stderr, now: time.Now}
	st, err := s.stat()
	if err != nil {
		return nil, err
	}
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	s.stamp = st
	s.cur.Store(cert)
	s.nextCheck.Store(s.now().Add(certCheckInterval).UnixNano())
	return s, nil
}

// stat reads the metadata of both files.
func (s *certStore) stat() (fileStamps, error) {
	var st fileStamps
	for i, name := range []string{s.certFile, s.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return st, err
		}
		st[i].mod, st[i].size, st[i].ino = fi.ModTime(), fi.Size(), inode(fi)
	}
	return st, nil
}

// GetCertificate is the tls.Config hook. It never fails once a
// certificate has loaded.
func (s *certStore) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if now := s.now().UnixNano(); now >= s.nextCheck.Load() {
		// One handshake at a time does the check; the others go on with
		// the current pair.
		if s.mu.TryLock() {
			s.nextCheck.Store(now + int64(certCheckInterval))
			s.reloadLocked(false)
			s.mu.Unlock()
		}
	}
	return s.cur.Load(), nil
}

// Reload reloads the pair even if the files look unchanged (SIGHUP: the
// operator asked). It reports the outcome on stderr.
func (s *certStore) Reload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloadLocked(true)
}

// reloadLocked loads the pair if force is set or the files changed since
// the last attempt. s.mu is held.
func (s *certStore) reloadLocked(force bool) {
	st, err := s.stat()
	if err != nil {
		if force {
			s.report(err)
		}
		// A file that is missing for a moment (replaced by rename) is
		// looked at again at the next check.
		return
	}
	if !force && st == s.stamp {
		return
	}
	s.stamp = st
	cert, err := loadKeyPair(s.certFile, s.keyFile)
	if err != nil {
		s.report(err)
		return
	}
	s.cur.Store(cert)
	if s.onReload != nil {
		s.onReload(cert.Leaf)
	}
	fmt.Fprintf(s.stderr, "hush: reloaded TLS certificate %s, SPKI pin %s\n", s.certFile, spkiPin(cert.Leaf))
}

// report says that a reload failed and that the old pair stays.
func (s *certStore) report(err error) {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	fmt.Fprintf(s.stderr, "hush: TLS certificate not reloaded, keeping the previous one: %v\n", err)
}

// current returns the certificate in service.
func (s *certStore) current() *tls.Certificate { return s.cur.Load() }
