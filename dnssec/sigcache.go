package dnssec

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

// SigCache remembers signature checks that succeeded, so that an RRset seen
// again signed by the same key (a zone's SOA in every negative answer, an
// NSEC3 record that covers many names, a DNSKEY set fetched again) costs a
// hash instead of an RSA or ECDSA verification. It is a memo of a pure
// function: an entry says that this key made this signature over these
// bytes, which stays true; the validity window, the signer and the key's
// use are still checked every time, before the memo is consulted. Failures
// are not remembered, so a forged signature costs a verification each
// time and cannot push a genuine one out any faster than other work.
//
// A SigCache is safe for concurrent use; share one between the budgets of
// all queries (Budget.WithSigCache).
type SigCache struct {
	s *cache.Sharded[[sha256.Size]byte, struct{}]
}

// DefaultSigCacheEntries is a size for NewSigCache: about 1.5 MiB.
const DefaultSigCacheEntries = 8192

// SigCacheEntryBytes is about what one remembered check holds, for
// sizing a SigCache in bytes: the 32-byte digest in its list node (48
// bytes) and again in the index's slot, with the index's spare room.
const SigCacheEntryBytes = 192

// NewSigCache returns a SigCache holding at most n checks (at least 1).
func NewSigCache(n int) *SigCache {
	return &SigCache{s: cache.NewSharded[[sha256.Size]byte, struct{}](n, 0, func(k [sha256.Size]byte) uint64 {
		// The key is a SHA-256 digest: already uniform.
		return binary.LittleEndian.Uint64(k[:])
	})}
}

// sigKey digests what a signature check depends on: the algorithm, the
// public key, the signed data and the signature.
func sigKey(k *dns.DNSKEY, alg uint8, data, sig []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	for _, part := range [][]byte{{alg}, []byte(k.PublicKey), data, sig} {
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// verify is verifySignature through the memo, when there is one.
func (c *SigCache) verify(k *dns.DNSKEY, alg uint8, data, sig []byte) error {
	if c == nil {
		return verifySignature(k, alg, data, sig)
	}
	key := sigKey(k, alg, data, sig)
	if _, ok := c.s.Get(key); ok {
		return nil
	}
	if err := verifySignature(k, alg, data, sig); err != nil {
		return err
	}
	c.s.Add(key, struct{}{})
	return nil
}

// Len returns the number of checks remembered.
func (c *SigCache) Len() int { return c.s.Len() }
