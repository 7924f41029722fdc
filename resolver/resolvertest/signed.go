package resolvertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Options configures Signed.
type Options struct {
	// Now is the time the zones are signed at: signatures are valid from
	// an hour before it to 30 days after it (the expired and not-yet-valid
	// zones are shifted from it, see doc.go). Zero means time.Now(). A
	// validator test that fixes its clock passes the same time here.
	Now time.Time
}

// Signed builds the signed internet described in the package
// documentation: its own root (signed, RSASHA256, KSK and ZSK), TLDs with
// DS in the root, leaves per algorithm and denial method, and deliberately
// broken zones. Signing happens here, in memory, with the fixed keys in
// keys/, so the zone texts (ZoneText, WriteZoneFiles) are signed master
// files that NSD serves unchanged. Signatures with ECDSA differ from run
// to run; RSA, Ed25519 and Ed448 ones only when Now does.
//
// Signed does not share servers or addresses with Default: its servers
// live in 127.53.100.0-127.53.130.255.
func Signed(opts Options) (*Network, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	specs := signedSpecs()
	keys := map[string][2]*key{}
	for _, s := range specs {
		if s.alg == 0 {
			continue
		}
		ksk, err := loadKey(keyBase(s.origin) + ".ksk")
		if err != nil {
			return nil, err
		}
		zsk, err := loadKey(keyBase(s.origin) + ".zsk")
		if err != nil {
			return nil, err
		}
		keys[s.origin] = [2]*key{ksk, zsk}
	}
	rogue, err := loadKey("rogue")
	if err != nil {
		return nil, err
	}
	ds := map[string][]dns.RR{} // by parent origin
	for _, s := range specs {
		if s.alg == 0 || s.origin == "." {
			continue
		}
		p := parentZone(s.origin, specs)
		ttl := uint32(3600)
		if p == "." {
			ttl = 86400
		}
		ds[p] = append(ds[p], delegationSigner(s, keys[s.origin][0], rogue, ttl))
	}
	texts := make([]string, 0, len(specs))
	unsigned := map[string]string{}
	for _, s := range specs {
		text := unsignedText(s, specs)
		for _, d := range ds[s.origin] {
			text += d.String() + "\n"
		}
		unsigned[s.origin] = text
		if s.alg == 0 {
			texts = append(texts, text)
			continue
		}
		records, err := parseRecords(text)
		if err != nil {
			return nil, fmt.Errorf("resolvertest: signed zone %s: %w", s.origin, err)
		}
		zs := &zoneSigner{spec: s, ksk: keys[s.origin][0], zsk: keys[s.origin][1], when: window(now, s.flaw)}
		r := *rogue
		r.rr = dns.Copy(rogue.rr).(*dns.DNSKEY)
		r.rr.Hdr.Name = s.origin
		zs.rogue = &r
		signed, err := zs.sign(records)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "; %s of the signed simulated internet, signed %s\n", s.origin, now.UTC().Format(time.RFC3339))
		for _, rr := range signed {
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
		texts = append(texts, b.String())
	}
	n, err := New(texts...)
	if err != nil {
		return nil, fmt.Errorf("resolvertest: signed zones: %w", err)
	}
	anchor := keys["."][0].rr.ToDS(dns.SHA256)
	anchor.Hdr.Ttl = 86400
	n.anchor = []dns.RR{anchor}
	n.unsigned = unsigned
	return n, nil
}

// delegationSigner is the DS the parent of s publishes, flaws applied.
func delegationSigner(s signSpec, ksk, rogue *key, ttl uint32) *dns.DS {
	k := ksk.rr
	if s.flaw == flawDSMismatch {
		k = dns.Copy(rogue.rr).(*dns.DNSKEY)
		k.Hdr.Name = s.origin
	}
	d := k.ToDS(dns.SHA256)
	d.Hdr.Ttl = ttl
	if s.flaw == flawUnknownDigest {
		sum := sha256.Sum256([]byte(d.Digest))
		d.DigestType = 200
		d.Digest = strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	return d
}

// parseRecords parses one master file.
func parseRecords(text string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(text), "", "")
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// TrustAnchor returns the DS of the root KSK, the trust anchor a
// validating resolver configures for a network made by Signed. Nil for
// an unsigned network. The records are copies.
func (n *Network) TrustAnchor() []dns.RR {
	if len(n.anchor) == 0 {
		return nil
	}
	out := make([]dns.RR, 0, len(n.anchor))
	for _, rr := range n.anchor {
		out = append(out, dns.Copy(rr))
	}
	return out
}

// TrustAnchorText returns TrustAnchor as master-file text, usable as a
// --trust-anchor file. Empty for an unsigned network.
func (n *Network) TrustAnchorText() string {
	if len(n.anchor) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; trust anchor of the resolvertest signed simulated internet\n")
	for _, rr := range n.anchor {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteUnsignedZoneFiles writes, for a network made by Signed, every zone
// as it was before signing (the parents' DS records included) into dir,
// named by ZoneFileName, and the key fixtures into dir/keys, so that a
// test can sign the same zones with real tools (ldns-signzone,
// dnssec-signzone). For an unsigned network it writes nothing.
func (n *Network) WriteUnsignedZoneFiles(dir string) error {
	if len(n.unsigned) == 0 {
		return nil
	}
	for origin, text := range n.unsigned {
		if err := os.WriteFile(filepath.Join(dir, ZoneFileName(origin)), []byte(text), 0o644); err != nil {
			return fmt.Errorf("resolvertest: write unsigned zone %s: %w", origin, err)
		}
	}
	names, err := keyNames()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		return fmt.Errorf("resolvertest: write keys: %w", err)
	}
	for _, name := range names {
		for _, ext := range []string{".key", ".private"} {
			b, err := embeddedKeys.ReadFile("keys/" + name + ext)
			if err != nil {
				return fmt.Errorf("resolvertest: read key %s: %w", name+ext, err)
			}
			if err := os.WriteFile(filepath.Join(dir, "keys", name+ext), b, 0o600); err != nil {
				return fmt.Errorf("resolvertest: write key %s: %w", name, err)
			}
		}
	}
	return nil
}
