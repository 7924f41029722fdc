package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Upstream is one recursive resolver hush forwards to.
//
// Exchange sends q and returns the reply, whose ID is q's. It does not
// modify q. It does not retry on another upstream (the Pool does), and it
// does not fall back to another protocol. An error means no usable reply:
// the connection failed, the certificate was refused, or the reply was
// malformed or did not match the question. A reply with any rcode,
// REFUSED and SERVFAIL included, is returned as a reply.
//
// String names the upstream by address (its URL without pins); it never
// names a query. Close releases the upstream's connections; Exchange
// must not be called afterwards.
type Upstream interface {
	Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
	String() string
	Close() error
}

// Options are what every upstream of a Pool shares.
type Options struct {
	// RootCAs checks certificates instead of the system's roots when
	// set (hush's --forward-ca). A pin replaces either.
	RootCAs *x509.CertPool

	// IdleTimeout closes a connection that has had no query in flight
	// for this long, unless the server announced a shorter one with
	// edns-tcp-keepalive (RFC 7828), in which case the connection is
	// closed a little before that. Default DefaultIdleTimeout.
	IdleTimeout time.Duration

	// Dialer sets the local address and control hooks; nil means the
	// zero net.Dialer.
	Dialer *net.Dialer

	// Logf, when set, receives rare, aggregate events: a certificate
	// refused (once until the upstream works again), an upstream held
	// down and back. Messages name upstreams, never queries or clients.
	Logf func(format string, args ...any)
}

// DefaultIdleTimeout is shorter than the idle timeouts public DoT and DoH
// servers are seen to use (about 10 s), so that hush rather than the server
// closes an idle connection and a query never lands on one the server is
// closing.
const DefaultIdleTimeout = 8 * time.Second

func (o *Options) idle() time.Duration {
	if o.IdleTimeout > 0 {
		return o.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (o *Options) dialer() *net.Dialer {
	if o.Dialer != nil {
		return o.Dialer
	}
	return &net.Dialer{}
}

// New returns the Upstream for s. It opens no connection: the first
// Exchange does.
func New(s Spec, opts Options) (Upstream, error) {
	switch s.Scheme {
	case "dns":
		return newPlain(s, opts), nil
	case "tls":
		return newDoT(s, opts), nil
	case "https":
		return newDoH(s, opts), nil
	case "quic":
		return newDoQ(s, opts), nil
	}
	return nil, fmt.Errorf("upstream %s: unknown scheme", s)
}

// LoadCAs reads PEM certificate files into a pool for Options.RootCAs. A
// file with no certificate in it is an error.
func LoadCAs(files ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		n := 0
		for len(b) > 0 {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("CA file %s: %w", f, err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", f)
		}
	}
	return pool, nil
}

// SPKIPin is the RFC 7469 pin of a certificate in the form pins are
// written here: sha256/ and the standard base64 of the SHA-256 digest of
// its SubjectPublicKeyInfo.
func SPKIPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return PinPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// ErrCertificate wraps every refusal of a server's certificate.
var ErrCertificate = errors.New("certificate refused")

// certNotes says "certificate refused" once per upstream until the
// upstream works again, so that a misconfigured upstream does not flood
// the log at the query rate.
type certNotes struct {
	said atomic.Bool
}

func (n *certNotes) failed(o *Options, who string, err error) {
	if o.Logf != nil && n.said.CompareAndSwap(false, true) {
		o.Logf("upstream %s: %v", who, err)
	}
}

func (n *certNotes) worked() { n.said.Store(false) }

// tlsConfig is the client TLS configuration for s: the certificate
// checked against the roots and the name (or address), or against the
// pins when s has any; sessions kept for resumption.
func tlsConfig(s Spec, opts Options, alpn ...string) *tls.Config {
	name := s.Name
	if name == "" {
		name = s.Addr.Addr().String()
	}
	conf := &tls.Config{
		ServerName:         name,
		NextProtos:         alpn,
		MinVersion:         tls.VersionTLS12,
		RootCAs:            opts.RootCAs,
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	if len(s.Pins) > 0 {
		// The pin is the whole check: chain and name do not matter
		// (RFC 7858 §4.2).
		conf.InsecureSkipVerify = true
		pins := s.Pins
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: no certificate", ErrCertificate)
			}
			got := SPKIPin(cs.PeerCertificates[0])
			for _, p := range pins {
				if p == got {
					return nil
				}
			}
			return fmt.Errorf("%w: pin %s matches none given", ErrCertificate, got)
		}
	}
	return conf
}

// certError reports whether err is a refusal of the peer's certificate,
// and wraps it with ErrCertificate if so.
func certError(err error) (error, bool) {
	if err == nil {
		return nil, false
	}
	if errors.Is(err, ErrCertificate) {
		return err, true
	}
	var (
		unk  x509.UnknownAuthorityError
		host x509.HostnameError
		inv  x509.CertificateInvalidError
		ve   *tls.CertificateVerificationError
	)
	if errors.As(err, &ve) || errors.As(err, &unk) || errors.As(err, &host) || errors.As(err, &inv) {
		return fmt.Errorf("%w: %w", ErrCertificate, err), true
	}
	// quic-go reports a local verification failure as a TLS alert
	// (bad_certificate 42, unknown_ca 48, ...) in a transport error.
	if s := err.Error(); strings.Contains(s, "tls: failed to verify certificate") || strings.Contains(s, ErrCertificate.Error()) {
		return fmt.Errorf("%w: %w", ErrCertificate, err), true
	}
	return err, false
}

// Wire preparation shared by the encrypted transports.

// paddingBlock is the query block size of RFC 8467 §4.1 (block-length
// padding, 128 octets for queries).
const paddingBlock = 128

// prepare returns the wire form of q with id as its ID and, when q has an
// OPT record, edns-tcp-keepalive (stream transports, RFC 7828) and
// padding to a multiple of 128 octets (encrypted transports, RFC 7830 and
// 8467) added to a copy of it. q is not modified.
func prepare(q *dns.Msg, id uint16, keepalive, pad bool) ([]byte, error) {
	m := *q
	m.Id = id
	m.Compress = true
	if opt := q.IsEdns0(); opt != nil && (keepalive || pad) {
		o := *opt
		o.Option = make([]dns.EDNS0, 0, len(opt.Option)+2)
		for _, e := range opt.Option {
			switch e.Option() {
			case dns.EDNS0TCPKEEPALIVE, dns.EDNS0PADDING:
				continue
			}
			o.Option = append(o.Option, e)
		}
		if keepalive {
			o.Option = append(o.Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE})
		}
		m.Extra = make([]dns.RR, 0, len(q.Extra))
		for _, rr := range q.Extra {
			if rr == opt {
				rr = &o
			}
			m.Extra = append(m.Extra, rr)
		}
		if pad {
			// Len is the packed length without packing; 4 octets of
			// option header come on top.
			n := m.Len() + 4
			o.Option = append(o.Option, &dns.EDNS0_PADDING{Padding: make([]byte, (paddingBlock-n%paddingBlock)%paddingBlock)})
		}
	}
	wire, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return wire, nil
}

// ErrMismatch is a reply that does not answer the query sent.
var ErrMismatch = errors.New("reply does not match the query")

// ErrMalformed is a reply or frame that cannot be parsed.
var ErrMalformed = errors.New("malformed reply")

// checkReply checks that r answers q (QR set, same question, wire ID
// id) and strips the transport's own EDNS options from it (padding,
// keepalive). It sets r's ID to q's.
func checkReply(q, r *dns.Msg, id uint16) error {
	if !r.Response || r.Id != id || !sameQuestion(q, r) {
		return ErrMismatch
	}
	if opt := r.IsEdns0(); opt != nil {
		kept := opt.Option[:0]
		for _, e := range opt.Option {
			switch e.Option() {
			case dns.EDNS0TCPKEEPALIVE, dns.EDNS0PADDING:
				continue
			}
			kept = append(kept, e)
		}
		opt.Option = kept
	}
	r.Id = q.Id
	return nil
}

func sameQuestion(q, r *dns.Msg) bool {
	if len(q.Question) != len(r.Question) {
		// A FORMERR or NOTIMP may come without the question.
		return len(r.Question) == 0 && r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError
	}
	for i := range q.Question {
		a, b := q.Question[i], r.Question[i]
		if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
			return false
		}
	}
	return true
}

// keepaliveOf returns the server's edns-tcp-keepalive timeout in r, if
// it sent one.
func keepaliveOf(r *dns.Msg) (time.Duration, bool) {
	opt := r.IsEdns0()
	if opt == nil {
		return 0, false
	}
	for _, e := range opt.Option {
		if k, ok := e.(*dns.EDNS0_TCP_KEEPALIVE); ok {
			return time.Duration(k.Timeout) * 100 * time.Millisecond, true
		}
	}
	return 0, false
}

// idleFor is how long a connection may stay idle given the configured
// idle timeout and what the server announced: a little before the
// server's own timeout, so that hush closes first.
func idleFor(configured, announced time.Duration, has bool) time.Duration {
	if !has {
		return configured
	}
	margin := max(announced/5, 200*time.Millisecond)
	return max(min(configured, announced-margin), 0)
}

// bufPool holds 64 KiB buffers for reading framed replies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}
