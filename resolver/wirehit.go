package resolver

import (
	"encoding/binary"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Header bits AppendCached sets.
const (
	hdrAA = 1 << 10
	hdrAD = 1 << 5
)

// AppendCached is the wire form of AnswerCached, for a listener that does
// not unpack queries (the transport's WireAnswerer): qname is the question
// name in wire form as the client wrote it, the question's class is IN,
// and do, cd and ad are the query's DO, CD and AD bits. It appends the
// cached answer, as AnswerCached would shape it, to dst: header (ID zero;
// QR, opcode, RD, CD, RA, TC and Z left for the listener, which owns
// them), question (in the case it was cached with) and sections, with no
// OPT record. It allocates nothing.
//
// Whatever AnswerCached would not answer alike is a miss here, left to the
// slow path, which knows how to say it: a cached failure, a partial chain,
// a Bogus answer (an error for a client without CD), an answer with an
// Extended DNS Error to attach or validated without signature times, an
// AAAA question when DNS64 is on, and names that may be RFC 8509
// sentinels. AnswerCached and AppendCached must agree; the transport's
// differential test plays both.
func (r *Resolver) AppendCached(dst, qname []byte, qtype uint16, do, cd, ad bool) ([]byte, bool) {
	if sentinelLabel(qname) || qtype == dns.TypeAAAA && r.cfg.DNS64Prefix.IsValid() {
		return dst, false
	}
	start := len(dst)
	out, meta, ok := r.cache.AppendWire(dst, qname, qtype, dns.ClassINET, do && r.cfg.DNSSEC, false, r.now())
	if !ok {
		return dst, false
	}
	if meta.Prefetch {
		// This read took the answer's one prefetch, whether or not
		// the answer is served from here.
		r.prefetchWire(qname, qtype)
	}
	status := dnssec.Status(meta.Security)
	if meta.Partial || meta.EDE != 0 || meta.Unchecked || status == dnssec.Bogus || len(out)-start < 12 {
		return dst, false
	}
	b := out[start:]
	flags := binary.BigEndian.Uint16(b[2:])
	if flags&0xF == dns.RcodeServerFailure {
		return dst, false
	}
	// As clientView: never AA; AD only for a Secure answer to a client
	// that sent DO or AD and not CD (RFC 6840 §5.7, §5.8).
	flags &^= hdrAA | hdrAD
	if status == dnssec.Secure && (do || ad) && !cd {
		flags |= hdrAD
	}
	binary.BigEndian.PutUint16(b[2:], flags)
	return out, true
}

// sentinelLabel reports whether the wire name's first label may be an RFC
// 8509 sentinel, whose answer depends on more than the cache.
func sentinelLabel(name []byte) bool {
	const prefix = "root-key-sentinel-"
	if len(name) == 0 || int(name[0]) < len(prefix) || len(name) < 1+len(prefix) {
		return false
	}
	for i := range len(prefix) {
		c := name[1+i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
