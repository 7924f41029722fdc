package dnssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSASHA1 and SHA-1 DS are still in use (RFC 8624 §3.1).
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/miekg/dns"
)

// AlgorithmSupported reports whether signatures of DNSKEY algorithm alg are
// validated (RFC 8624 §3.1, validator column): 5, 7, 8, 10, 13, 14, 15, 16;
// 5 and 7 only while p.DisableSHA1 is false. RSAMD5 (1), DSA (3, 6), GOST
// (12) and unknown numbers are not, and zones signed only with them are
// Insecure.
func AlgorithmSupported(alg uint8, p Policy) bool {
	switch alg {
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1:
		return !p.DisableSHA1
	case dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384,
		dns.ED25519, dns.ED448:
		return true
	}
	return false
}

// DigestSupported reports whether DS digest type t is validated: SHA-1 (1,
// unless p.DisableSHA1), SHA-256 (2) and SHA-384 (4). GOST (3) and unknown
// types are not (RFC 8624 §3.3).
func DigestSupported(t uint8, p Policy) bool {
	switch t {
	case dns.SHA1:
		return !p.DisableSHA1
	case dns.SHA256, dns.SHA384:
		return true
	}
	return false
}

// verifySignature checks sig over data with the public key of key. It does
// no name, time or tag checks: those are VerifyRRset's.
func verifySignature(key *dns.DNSKEY, alg uint8, data, sig []byte) error {
	pub, err := base64.StdEncoding.DecodeString(key.PublicKey)
	if err != nil {
		return fmt.Errorf("dnskey: public key: %w", ErrBogus)
	}
	switch alg {
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512:
		n, e, err := rsaKey(pub)
		if err != nil {
			return err
		}
		var h crypto.Hash
		var sum []byte
		switch alg {
		case dns.RSASHA256:
			s := sha256.Sum256(data)
			h, sum = crypto.SHA256, s[:]
		case dns.RSASHA512:
			s := sha512.Sum512(data)
			h, sum = crypto.SHA512, s[:]
		default:
			s := sha1.Sum(data) //nolint:gosec // see import.
			h, sum = crypto.SHA1, s[:]
		}
		if n.BitLen() < 1024 || !e.IsInt64() || e.Int64() > math.MaxInt32 {
			// crypto/rsa refuses such keys; see rsaKey.
			if !verifyPKCS1v15(n, e, h, sum, sig) {
				return fmt.Errorf("rsa signature: %w", ErrBogus)
			}
			return nil
		}
		rk := &rsa.PublicKey{N: n, E: int(e.Int64())}
		if err := rsa.VerifyPKCS1v15(rk, h, sum, sig); err != nil {
			return fmt.Errorf("rsa signature: %w", ErrBogus)
		}
		return nil
	case dns.ECDSAP256SHA256, dns.ECDSAP384SHA384:
		curve, size := elliptic.P256(), 32
		var sum []byte
		if alg == dns.ECDSAP384SHA384 {
			curve, size = elliptic.P384(), 48
			s := sha512.Sum384(data)
			sum = s[:]
		} else {
			s := sha256.Sum256(data)
			sum = s[:]
		}
		if len(pub) != 2*size || len(sig) != 2*size {
			return fmt.Errorf("ecdsa key or signature size: %w", ErrBogus)
		}
		// RFC 6605 §4: the key is x|y, uncompressed point without the
		// 0x04 prefix; the signature is r|s.
		uncompressed := append([]byte{4}, pub...)
		ek, err := ecdsa.ParseUncompressedPublicKey(curve, uncompressed)
		if err != nil {
			return fmt.Errorf("ecdsa key: %w", ErrBogus)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(ek, sum, r, s) {
			return fmt.Errorf("ecdsa signature: %w", ErrBogus)
		}
		return nil
	case dns.ED25519:
		if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return fmt.Errorf("ed25519 key or signature size: %w", ErrBogus)
		}
		if !ed25519.Verify(ed25519.PublicKey(pub), data, sig) {
			return fmt.Errorf("ed25519 signature: %w", ErrBogus)
		}
		return nil
	case dns.ED448:
		// RFC 8080 §3: pure Ed448 with an empty context.
		if len(pub) != ed448.PublicKeySize || len(sig) != ed448.SignatureSize {
			return fmt.Errorf("ed448 key or signature size: %w", ErrBogus)
		}
		if !ed448.Verify(ed448.PublicKey(pub), data, sig, "") {
			return fmt.Errorf("ed448 signature: %w", ErrBogus)
		}
		return nil
	}
	return fmt.Errorf("algorithm %d: %w", alg, ErrUnsupportedAlgorithm)
}

// rsaKey decodes an RFC 3110 §2 RSA public key into its modulus and
// exponent. Moduli are limited to 512–4096 bits, the range RFC 2537 and
// RFC 3110 allow: larger ones are a cheap way to make a validator work,
// and 512-bit keys still sign zones (RFC 5155's own Appendix B example
// among them) that Unbound and Knot Resolver validate. Exponents are
// limited to 64 bits, since verification time grows with them (BIND's
// max-rsa-exponent-size does the same); some zones use 2^32+1. crypto/rsa
// refuses moduli under 1024 bits and exponents over 2^31-1, so
// verifyPKCS1v15 checks those.
func rsaKey(pub []byte) (n, e *big.Int, err error) {
	if len(pub) < 3 {
		return nil, nil, fmt.Errorf("rsa key too short: %w", ErrBogus)
	}
	explen, off := int(pub[0]), 1
	if explen == 0 {
		explen, off = int(pub[1])<<8|int(pub[2]), 3
	}
	if explen == 0 || explen > 8 || off+explen >= len(pub) {
		return nil, nil, fmt.Errorf("rsa exponent: %w", ErrBogus)
	}
	e = new(big.Int).SetBytes(pub[off : off+explen])
	n = new(big.Int).SetBytes(pub[off+explen:])
	if bits := n.BitLen(); bits < 512 || bits > 4096 {
		return nil, nil, fmt.Errorf("rsa modulus of %d bits: %w", bits, ErrBogus)
	}
	if e.Cmp(big.NewInt(3)) < 0 || e.Bit(0) == 0 {
		return nil, nil, fmt.Errorf("rsa exponent: %w", ErrBogus)
	}
	return n, e, nil
}

// dsMatches reports whether ds is the digest of key (RFC 4034 §5.1.4) under
// owner. The caller checked that the digest type is supported.
func dsMatches(ds *dns.DS, key *dns.DNSKEY) bool {
	if ds.KeyTag != key.KeyTag() || ds.Algorithm != key.Algorithm ||
		!strings.EqualFold(dns.Fqdn(ds.Hdr.Name), dns.Fqdn(key.Hdr.Name)) {
		return false
	}
	want, err := hex.DecodeString(ds.Digest)
	if err != nil {
		return false
	}
	got := key.ToDS(ds.DigestType)
	if got == nil {
		return false
	}
	have, err := hex.DecodeString(got.Digest)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(want, have) == 1
}

// pkcs1Prefix is the DER DigestInfo header before each hash in an RSA
// PKCS #1 v1.5 signature (RFC 8017 §9.2, note 1).
var pkcs1Prefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// verifyPKCS1v15 verifies an RSASSA-PKCS1-v1_5 signature (RFC 8017
// §8.2.2) with modulus n and exponent e, for keys crypto/rsa will not use:
// the signature, raised to e, must be exactly the encoding of the hash.
// Everything here is public, so nothing needs to run in constant time.
func verifyPKCS1v15(n, e *big.Int, h crypto.Hash, hashed, sig []byte) bool {
	prefix, ok := pkcs1Prefix[h]
	k := (n.BitLen() + 7) / 8
	if !ok || len(sig) != k || len(hashed) != h.Size() {
		return false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(n) >= 0 {
		return false
	}
	em := new(big.Int).Exp(s, e, n).FillBytes(make([]byte, k))
	// EM = 0x00 || 0x01 || PS (0xff, at least 8 bytes) || 0x00 || T.
	tLen := len(prefix) + len(hashed)
	if k < tLen+11 || em[0] != 0 || em[1] != 1 || em[k-tLen-1] != 0 {
		return false
	}
	for _, b := range em[2 : k-tLen-1] {
		if b != 0xff {
			return false
		}
	}
	return bytes.Equal(em[k-tLen:k-len(hashed)], prefix) && bytes.Equal(em[k-len(hashed):], hashed)
}
