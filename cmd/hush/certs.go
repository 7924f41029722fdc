package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// selfSignedValidity is how long the certificate made at start is valid:
// long enough for any run, short enough that a leaked key ages out.
const selfSignedValidity = 90 * 24 * time.Hour

// pinPrefix introduces an SPKI pin, as kdig's and HPKP's pins are written.
const pinPrefix = "sha256/"

// selfSigned makes a self-signed server certificate for ips (and the name
// localhost) with a new ECDSA P-256 key.
func selfSigned(ips []net.IP, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "hush self-signed"},
		// An hour back, for clients whose clocks run a little slow.
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(selfSignedValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// loadKeyPair reads a PEM certificate chain and its private key.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &cert, nil
}

// spkiPin is the RFC 7469 pin of a certificate: sha256/ and the standard
// base64 of the SHA-256 digest of its SubjectPublicKeyInfo, the value
// kdig's +tls-pin takes after the prefix.
func spkiPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return pinPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// parsePin checks a --pin value and returns it in canonical form.
func parsePin(s string) (string, error) {
	b64, ok := strings.CutPrefix(s, pinPrefix)
	if !ok {
		return "", errors.New("want sha256/BASE64")
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return "", errors.New("want sha256/ and the base64 of 32 bytes")
	}
	return pinPrefix + base64.StdEncoding.EncodeToString(sum), nil
}
