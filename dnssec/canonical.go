package dnssec

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// signedData returns the octets an RRSIG signs (RFC 4034 §3.1.8.1): the
// RRSIG rdata without the signature, then the RRset in canonical form and
// order (RFC 4034 §6.2, §6.3, with RFC 6840 §5.1's correction that NSEC and
// HINFO rdata keep their case). A wildcard-expanded owner is put back to
// "*." plus the signature's Labels rightmost labels (RFC 4035 §5.3.2).
func signedData(rrset []dns.RR, sig *dns.RRSIG) ([]byte, error) {
	signer := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(sig.SignerName), signer, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("signer name: %w", ErrBogus)
	}
	buf := make([]byte, 18, 18+n+64*len(rrset))
	binary.BigEndian.PutUint16(buf[0:], sig.TypeCovered)
	buf[2] = sig.Algorithm
	buf[3] = sig.Labels
	binary.BigEndian.PutUint32(buf[4:], sig.OrigTtl)
	binary.BigEndian.PutUint32(buf[8:], sig.Expiration)
	binary.BigEndian.PutUint32(buf[12:], sig.Inception)
	binary.BigEndian.PutUint16(buf[16:], sig.KeyTag)
	buf = append(buf, signer[:n]...)

	type wire struct {
		b     []byte
		rdata int // offset of the rdata in b
	}
	wires := make([]wire, 0, len(rrset))
	for _, rr := range rrset {
		c := dns.Copy(rr)
		h := c.Header()
		h.Ttl = sig.OrigTtl
		name := dns.CanonicalName(h.Name)
		if labels := dns.SplitDomainName(name); len(labels) > int(sig.Labels) {
			name = "*." + strings.Join(labels[len(labels)-int(sig.Labels):], ".") + "."
			if sig.Labels == 0 {
				name = "*."
			}
		}
		h.Name = name
		lowerRdataNames(c)
		b := make([]byte, dns.Len(c)+1)
		off, err := dns.PackRR(c, b, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", dns.TypeToString[h.Rrtype], ErrBogus)
		}
		nameLen, err := dns.PackDomainName(name, make([]byte, 256), 0, nil, false)
		if err != nil || nameLen+10 > off {
			return nil, fmt.Errorf("pack owner: %w", ErrBogus)
		}
		wires = append(wires, wire{b: b[:off], rdata: nameLen + 10})
	}
	slices.SortFunc(wires, func(a, b wire) int { return bytes.Compare(a.b[a.rdata:], b.b[b.rdata:]) })
	for i, w := range wires {
		if i > 0 && bytes.Equal(w.b, wires[i-1].b) {
			continue // RFC 4034 §6.3: duplicates are suppressed.
		}
		buf = append(buf, w.b...)
	}
	return buf, nil
}

// lowerRdataNames lowercases the domain names inside rdata for the types
// RFC 4034 §6.2 (item 3) lists, as corrected by RFC 6840 §5.1.
func lowerRdataNames(rr dns.RR) {
	switch x := rr.(type) {
	case *dns.NS:
		x.Ns = dns.CanonicalName(x.Ns)
	case *dns.MD:
		x.Md = dns.CanonicalName(x.Md)
	case *dns.MF:
		x.Mf = dns.CanonicalName(x.Mf)
	case *dns.CNAME:
		x.Target = dns.CanonicalName(x.Target)
	case *dns.SOA:
		x.Ns = dns.CanonicalName(x.Ns)
		x.Mbox = dns.CanonicalName(x.Mbox)
	case *dns.MB:
		x.Mb = dns.CanonicalName(x.Mb)
	case *dns.MG:
		x.Mg = dns.CanonicalName(x.Mg)
	case *dns.MR:
		x.Mr = dns.CanonicalName(x.Mr)
	case *dns.PTR:
		x.Ptr = dns.CanonicalName(x.Ptr)
	case *dns.MINFO:
		x.Rmail = dns.CanonicalName(x.Rmail)
		x.Email = dns.CanonicalName(x.Email)
	case *dns.MX:
		x.Mx = dns.CanonicalName(x.Mx)
	case *dns.RP:
		x.Mbox = dns.CanonicalName(x.Mbox)
		x.Txt = dns.CanonicalName(x.Txt)
	case *dns.AFSDB:
		x.Hostname = dns.CanonicalName(x.Hostname)
	case *dns.RT:
		x.Host = dns.CanonicalName(x.Host)
	case *dns.SIG:
		x.SignerName = dns.CanonicalName(x.SignerName)
	case *dns.RRSIG:
		x.SignerName = dns.CanonicalName(x.SignerName)
	case *dns.PX:
		x.Map822 = dns.CanonicalName(x.Map822)
		x.Mapx400 = dns.CanonicalName(x.Mapx400)
	case *dns.NAPTR:
		x.Replacement = dns.CanonicalName(x.Replacement)
	case *dns.KX:
		x.Exchanger = dns.CanonicalName(x.Exchanger)
	case *dns.SRV:
		x.Target = dns.CanonicalName(x.Target)
	case *dns.DNAME:
		x.Target = dns.CanonicalName(x.Target)
	}
}

// sigBytes decodes an RRSIG's signature field.
func sigBytes(sig *dns.RRSIG) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil {
		return nil, fmt.Errorf("signature encoding: %w", ErrBogus)
	}
	return b, nil
}
