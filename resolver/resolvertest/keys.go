package resolvertest

import (
	"bytes"
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA is what algorithm 3 is; the zone exists to be unsupported.
	"crypto/rand"
	"crypto/sha1"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/big"
	"slices"
	"strings"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/miekg/dns"
)

// The signing keys of the signed internet are committed test fixtures
// (keys/*.key and keys/*.private, BIND format), so that every run signs
// with the same keys and a trust anchor written down once stays valid.
// TestGenerateKeys with -resolvertest.genkeys rewrites them.
//
//go:embed keys
var embeddedKeys embed.FS

// algorithmDSA is DNSSEC algorithm 3 (RFC 2536), which validators must
// not use (RFC 8624 §3.1): a zone signed only with it validates as
// Insecure (RFC 4035 §5.2), however correct its signatures.
const algorithmDSA = dns.DSA

// key is one DNSKEY and what signs with it.
type key struct {
	rr     *dns.DNSKEY
	signer crypto.Signer    // miekg/dns-supported algorithms
	ed448  ed448.PrivateKey // algorithm 16, which miekg/dns cannot sign
	dsa    *dsa.PrivateKey  // algorithm 3, which miekg/dns no longer signs
}

// loadKey reads keys/NAME.key and keys/NAME.private.
func loadKey(name string) (*key, error) {
	pub, err := embeddedKeys.ReadFile("keys/" + name + ".key")
	if err != nil {
		return nil, fmt.Errorf("resolvertest: key %s: %w", name, err)
	}
	rr, err := dns.NewRR(string(pub))
	if err != nil {
		return nil, fmt.Errorf("resolvertest: key %s: %w", name, err)
	}
	dk, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("resolvertest: key %s: not a DNSKEY", name)
	}
	k := &key{rr: dk}
	priv, err := embeddedKeys.ReadFile("keys/" + name + ".private")
	if err != nil {
		return nil, fmt.Errorf("resolvertest: key %s: %w", name, err)
	}
	if dk.Algorithm == algorithmDSA {
		k.dsa, err = readDSA(string(priv))
		if err != nil {
			return nil, fmt.Errorf("resolvertest: key %s: %w", name, err)
		}
		return k, nil
	}
	if dk.Algorithm == dns.ED448 {
		k.ed448, err = readEd448(string(priv))
		if err != nil {
			return nil, fmt.Errorf("resolvertest: key %s: %w", name, err)
		}
		return k, nil
	}
	p, err := dk.ReadPrivateKey(bytes.NewReader(priv), name+".private")
	if err != nil {
		return nil, fmt.Errorf("resolvertest: key %s: %w", name, err)
	}
	s, ok := p.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("resolvertest: key %s: not a signer", name)
	}
	k.signer = s
	return k, nil
}

// readEd448 parses a BIND private key file of algorithm 16, whose
// PrivateKey field is the 57-octet seed (RFC 8080 §3).
func readEd448(text string) (ed448.PrivateKey, error) {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "PrivateKey") {
			continue
		}
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(seed) != ed448.SeedSize {
			return nil, fmt.Errorf("ed448 private key: bad seed")
		}
		return ed448.NewKeyFromSeed(seed), nil
	}
	return nil, fmt.Errorf("ed448 private key: no PrivateKey field")
}

// readDSA parses a BIND private key file of algorithm 3.
func readDSA(text string) (*dsa.PrivateKey, error) {
	fields := map[string]*big.Int{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		fields[strings.ToLower(strings.TrimSpace(k))] = new(big.Int).SetBytes(b)
	}
	k := &dsa.PrivateKey{}
	for name, dst := range map[string]**big.Int{"prime(p)": &k.P, "subprime(q)": &k.Q, "base(g)": &k.G, "private_value(x)": &k.X, "public_value(y)": &k.Y} {
		if fields[name] == nil {
			return nil, fmt.Errorf("dsa private key: no %s", name)
		}
		*dst = fields[name]
	}
	return k, nil
}

// dsaPrivateText is the BIND private key file of a DSA key.
func dsaPrivateText(k *dsa.PrivateKey) string {
	b64 := func(i *big.Int) string { return base64.StdEncoding.EncodeToString(i.Bytes()) }
	return "Private-key-format: v1.2\nAlgorithm: 3 (DSA)\nPrime(p): " + b64(k.P) + "\nSubprime(q): " + b64(k.Q) +
		"\nBase(g): " + b64(k.G) + "\nPrivate_value(x): " + b64(k.X) + "\nPublic_value(y): " + b64(k.Y) + "\n"
}

// dsaPublicKey is the DNSKEY public key field of k (RFC 2536 §2):
// T, Q, P, G, Y, with P, G and Y 64+8T octets long.
func dsaPublicKey(k *dsa.PublicKey) string {
	size := len(k.P.Bytes())
	t := (size - 64) / 8
	out := make([]byte, 1+20+3*size)
	out[0] = byte(t)
	k.Q.FillBytes(out[1:21])
	k.P.FillBytes(out[21 : 21+size])
	k.G.FillBytes(out[21+size : 21+2*size])
	k.Y.FillBytes(out[21+2*size:])
	return base64.StdEncoding.EncodeToString(out)
}

// ed448PrivateText is the BIND private key file of an Ed448 seed.
func ed448PrivateText(seed []byte) string {
	return "Private-key-format: v1.3\nAlgorithm: 16 (ED448)\nPrivateKey: " + base64.StdEncoding.EncodeToString(seed) + "\n"
}

// sign returns the RRSIG of rrset by k, valid from inception to
// expiration, with the TTL of the RRset. rrset must be one RRset.
func (k *key) sign(rrset []dns.RR, inception, expiration uint32) (*dns.RRSIG, error) {
	h := rrset[0].Header()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm:  k.rr.Algorithm,
		SignerName: dns.CanonicalName(k.rr.Hdr.Name),
		KeyTag:     k.rr.KeyTag(),
		Inception:  inception,
		Expiration: expiration,
		OrigTtl:    h.Ttl,
	}
	switch {
	case k.signer != nil:
		if err := sig.Sign(k.signer, rrset); err != nil {
			return nil, fmt.Errorf("resolvertest: sign %s %s: %w", h.Name, dns.TypeToString[h.Rrtype], err)
		}
		return sig, nil
	case k.ed448 != nil:
		sig.TypeCovered = h.Rrtype
		sig.Labels = rrsigLabels(h.Name)
		data, err := signedData(sig, rrset)
		if err != nil {
			return nil, err
		}
		sig.Signature = base64.StdEncoding.EncodeToString(ed448.Sign(k.ed448, data, ""))
		return sig, nil
	case k.dsa != nil:
		sig.TypeCovered = h.Rrtype
		sig.Labels = rrsigLabels(h.Name)
		data, err := signedData(sig, rrset)
		if err != nil {
			return nil, err
		}
		sum := sha1.Sum(data)
		r, s, err := dsa.Sign(rand.Reader, k.dsa, sum[:])
		if err != nil {
			return nil, fmt.Errorf("resolvertest: sign %s %s: %w", h.Name, dns.TypeToString[h.Rrtype], err)
		}
		// RFC 2536 §3: T, R, S.
		raw := make([]byte, 41)
		raw[0] = byte((len(k.dsa.P.Bytes()) - 64) / 8)
		r.FillBytes(raw[1:21])
		s.FillBytes(raw[21:41])
		sig.Signature = base64.StdEncoding.EncodeToString(raw)
		return sig, nil
	}
	return nil, fmt.Errorf("resolvertest: sign %s: key has no private half", h.Name)
}

// rrsigLabels is the RRSIG Labels field for owner (RFC 4034 §3.1.3): its
// label count without the root and without a leading "*".
func rrsigLabels(owner string) uint8 {
	n := dns.CountLabel(owner)
	if strings.HasPrefix(owner, "*.") {
		n--
	}
	return uint8(n)
}

// verifyEd448 checks an algorithm 16 signature, which miekg/dns cannot.
func verifyEd448(sig *dns.RRSIG, k *dns.DNSKEY, rrset []dns.RR) error {
	if sig.Algorithm != dns.ED448 || k.Algorithm != dns.ED448 || sig.KeyTag != k.KeyTag() ||
		dns.CanonicalName(sig.SignerName) != dns.CanonicalName(k.Hdr.Name) {
		return dns.ErrKey
	}
	pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(pub) != ed448.PublicKeySize {
		return dns.ErrKey
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil {
		return dns.ErrSig
	}
	data, err := signedData(sig, rrset)
	if err != nil {
		return err
	}
	if !ed448.Verify(ed448.PublicKey(pub), data, raw, "") {
		return dns.ErrSig
	}
	return nil
}

// signedData builds the data an RRSIG signs (RFC 4034 §3.1.8.1): the RRSIG
// RDATA without the signature, then the RRset in canonical form (§6.2:
// lowercased owner, wildcard owner restored, original TTL, lowercased
// names in the RDATA of the types listed there) sorted by canonical RDATA
// order (§6.3), duplicates removed.
func signedData(sig *dns.RRSIG, rrset []dns.RR) ([]byte, error) {
	s := *sig
	s.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeRRSIG, Class: dns.ClassINET}
	s.SignerName = dns.CanonicalName(sig.SignerName)
	s.Signature = ""
	buf := make([]byte, 4096)
	off, err := dns.PackRR(&s, buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("resolvertest: pack rrsig: %w", err)
	}
	out := append([]byte(nil), buf[11:off]...) // past ".", type, class, ttl, rdlength
	if len(rrset) == 0 {
		return out, nil
	}
	// Every record gets the same canonical owner (§6.2 (2), (4)).
	name := rrset[0].Header().Name
	if labels := dns.SplitDomainName(name); len(labels) > int(sig.Labels) {
		name = "*." + strings.Join(labels[len(labels)-int(sig.Labels):], ".") + "."
	}
	owner := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), owner, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("resolvertest: pack owner: %w", err)
	}
	owner = owner[:n]
	var wires [][]byte
	for _, rr := range rrset {
		c := dns.Copy(rr)
		c.Header().Ttl = sig.OrigTtl
		c.Header().Name = dns.CanonicalName(name)
		canonicalRdata(c)
		off, err := dns.PackRR(c, buf, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("resolvertest: pack %s: %w", name, err)
		}
		// Keep type, class, TTL, length and RDATA; sort on the RDATA.
		wires = append(wires, append([]byte(nil), buf[len(owner):off]...))
	}
	slices.SortFunc(wires, func(a, b []byte) int { return bytes.Compare(a[10:], b[10:]) })
	wires = slices.CompactFunc(wires, func(a, b []byte) bool { return bytes.Equal(a[10:], b[10:]) })
	for _, w := range wires {
		out = append(out, owner...)
		out = append(out, w...)
	}
	return out, nil
}

// canonicalRdata lowercases the domain names in the RDATA of the types
// RFC 4034 §6.2 lists (as amended by RFC 6840 §5.1) that the simulated
// zones use.
func canonicalRdata(rr dns.RR) {
	switch x := rr.(type) {
	case *dns.NS:
		x.Ns = dns.CanonicalName(x.Ns)
	case *dns.CNAME:
		x.Target = dns.CanonicalName(x.Target)
	case *dns.SOA:
		x.Ns = dns.CanonicalName(x.Ns)
		x.Mbox = dns.CanonicalName(x.Mbox)
	case *dns.MX:
		x.Mx = dns.CanonicalName(x.Mx)
	case *dns.PTR:
		x.Ptr = dns.CanonicalName(x.Ptr)
	case *dns.DNAME:
		x.Target = dns.CanonicalName(x.Target)
	case *dns.SRV:
		x.Target = dns.CanonicalName(x.Target)
	}
}

// keyNames lists the key fixtures present, for tests.
func keyNames() ([]string, error) {
	entries, err := fs.ReadDir(embeddedKeys, "keys")
	if err != nil {
		return nil, fmt.Errorf("resolvertest: keys: %w", err)
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".key"); ok {
			out = append(out, name)
		}
	}
	return out, nil
}
