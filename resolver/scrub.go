package resolver

import (
	"strings"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// maxChain bounds the CNAME/DNAME links scrub follows inside one response.
const maxChain = 16

// scrub returns a copy of resp that keeps only what a server authoritative
// for zone may speak for and what bears on the question (qname, qtype), in
// the manner of Unbound's iter_scrub.c:
//
//   - every record must be of class IN and owned by a name in zone
//     (the bailiwick rule: the root may speak for anything, example.com's
//     servers only for names under example.com);
//   - the answer section keeps the chain that starts at qname: records of
//     qtype at the current name, a CNAME there, or a DNAME above it (with its
//     synthesised CNAME checked, RFC 6672 §3); the chain stops at a target
//     outside zone, which the resolver must look up for itself;
//   - the authority section keeps SOA and NS records owned by an ancestor of
//     (or the same name as) the end of the chain, and the DNSSEC records
//     that go with them;
//   - the additional section keeps only addresses of the name servers named
//     in the kept NS records, and the OPT record.
//
// scrub is pure: it neither changes resp nor looks anything up. It does not
// judge whether the response is a referral, an answer or lame; classify
// does.
func scrub(resp *dns.Msg, qname string, qtype uint16, zone string) *dns.Msg {
	out := new(dns.Msg)
	out.MsgHdr = resp.MsgHdr
	out.Question = resp.Question
	out.Compress = true
	end := scrubAnswer(resp, out, qname, qtype, zone)
	nsTargets := scrubAuthority(resp, out, end, qtype, zone)
	scrubAdditional(resp, out, nsTargets, zone)
	return out
}

// inZone reports whether rr is of class IN and owned by a name in zone.
func inZone(rr dns.RR, zone string) bool {
	h := rr.Header()
	return h.Class == dns.ClassINET && dnssec.IsSubDomain(zone, h.Name)
}

// scrubAnswer copies to out the answer chain of resp that starts at qname
// and returns the name where it ends.
func scrubAnswer(resp, out *dns.Msg, qname string, qtype uint16, zone string) string {
	cur := qname
	seen := map[string]bool{}
	for hops := 0; hops < maxChain; hops++ {
		key := strings.ToLower(cur)
		if seen[key] {
			break
		}
		seen[key] = true
		cname, dname := scrubLink(resp, out, cur, qtype, zone)
		// A DNAME wins over a CNAME the server synthesised from it: the
		// CNAME is recomputed here rather than trusted (RFC 6672 §3).
		switch {
		case dname != nil:
			target, ok := dnameTarget(cur, dname)
			if !ok {
				if resp.Rcode == dns.RcodeYXDomain {
					// The substitution overflows (RFC 6672 §2.2): the
					// DNAME is the answer that explains the YXDOMAIN.
					out.Answer = append(out.Answer, dname)
				}
				return cur
			}
			out.Answer = append(out.Answer, dname, synthCNAME(cur, target, dname.Hdr.Ttl))
			cur = target
		case cname != nil:
			out.Answer = append(out.Answer, cname)
			cur = cname.Target
		default:
			return cur
		}
		if !dnssec.IsSubDomain(zone, cur) {
			break
		}
	}
	return cur
}

// scrubLink copies to out the records of resp's answer section at cur, one
// link of the chain, with their signatures, and returns the first CNAME
// at cur and the first DNAME above it, which scrubAnswer follows.
func scrubLink(resp, out *dns.Msg, cur string, qtype uint16, zone string) (*dns.CNAME, *dns.DNAME) {
	var cname *dns.CNAME
	var dname *dns.DNAME
	for _, rr := range resp.Answer {
		if !inZone(rr, zone) {
			continue
		}
		h := rr.Header()
		switch {
		case strings.EqualFold(h.Name, cur) && matchesType(rr, qtype):
			out.Answer = append(out.Answer, rr)
		case strings.EqualFold(h.Name, cur) && h.Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME:
			if cname == nil {
				cname = rr.(*dns.CNAME)
			}
		case h.Rrtype == dns.TypeDNAME && qtype != dns.TypeDNAME &&
			!strings.EqualFold(h.Name, cur) && dnssec.IsSubDomain(h.Name, cur):
			if dname == nil {
				dname = rr.(*dns.DNAME)
			}
		case h.Rrtype == dns.TypeRRSIG && strings.EqualFold(h.Name, cur):
			// Signatures over the kept records; DNSSEC sorts them out.
			if c := rr.(*dns.RRSIG).TypeCovered; c == qtype || c == dns.TypeCNAME {
				out.Answer = append(out.Answer, rr)
			}
		case h.Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeDNAME &&
			!strings.EqualFold(h.Name, cur) && dnssec.IsSubDomain(h.Name, cur):
			// The DNAME's own signature, at the DNAME's owner.
			out.Answer = append(out.Answer, rr)
		}
	}
	return cname, dname
}

// scrubAuthority copies to out the NS and SOA records of resp's authority
// section above end, the end of the chain, plus its DNSSEC records, and
// returns the (lowercased) name server names whose glue may stay.
func scrubAuthority(resp, out *dns.Msg, end string, qtype uint16, zone string) map[string]bool {
	// Made on the first NS name: most answers (a negative one's SOA, a
	// signed answer's proofs) have none, and a map per response was a
	// tenth of the objects an uncached query allocated.
	var nsTargets map[string]bool
	target := func(name string) {
		if nsTargets == nil {
			nsTargets = make(map[string]bool, 4)
		}
		nsTargets[strings.ToLower(name)] = true
	}
	for _, rr := range resp.Ns {
		if !inZone(rr, zone) {
			continue
		}
		h := rr.Header()
		switch h.Rrtype {
		case dns.TypeNS:
			if dnssec.IsSubDomain(h.Name, end) {
				out.Ns = append(out.Ns, rr)
				target(rr.(*dns.NS).Ns)
			}
		case dns.TypeSOA:
			if dnssec.IsSubDomain(h.Name, end) {
				out.Ns = append(out.Ns, rr)
			}
		case dns.TypeDS, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeRRSIG:
			out.Ns = append(out.Ns, rr)
		}
	}
	if qtype == dns.TypeNS {
		for _, rr := range out.Answer {
			if ns, ok := rr.(*dns.NS); ok {
				target(ns.Ns)
			}
		}
	}
	return nsTargets
}

// scrubAdditional copies to out the glue of resp for nsTargets, and the
// OPT record.
func scrubAdditional(resp, out *dns.Msg, nsTargets map[string]bool, zone string) {
	for _, rr := range resp.Extra {
		h := rr.Header()
		switch h.Rrtype {
		case dns.TypeOPT:
			out.Extra = append(out.Extra, rr)
		case dns.TypeA, dns.TypeAAAA:
			if nsTargets != nil && inZone(rr, zone) && nsTargets[strings.ToLower(h.Name)] {
				out.Extra = append(out.Extra, rr)
			}
		}
	}
}

// matchesType reports whether rr answers a question of type qtype.
func matchesType(rr dns.RR, qtype uint16) bool {
	t := rr.Header().Rrtype
	if qtype == dns.TypeANY {
		return t != dns.TypeOPT && t != dns.TypeRRSIG
	}
	return t == qtype
}

// dnameTarget substitutes the DNAME's owner suffix of name by its target
// (RFC 6672 §2.2). It fails when the result would be too long.
func dnameTarget(name string, d *dns.DNAME) (string, bool) {
	prefix := name[:len(name)-len(d.Hdr.Name)]
	target := prefix + d.Target
	if d.Target == "." {
		target = prefix
	}
	if len(target) > 255 || !dns.IsFqdn(target) {
		return "", false
	}
	if _, ok := dns.IsDomainName(target); !ok {
		return "", false
	}
	return target, true
}

func synthCNAME(owner, target string, ttl uint32) *dns.CNAME {
	return &dns.CNAME{
		Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
		Target: target,
	}
}

// outOfZoneGlue returns the addresses resp's additional section gives for
// name servers that scrubbed (scrub's result for resp) kept in its
// authority section but that lie outside zone: the glue scrub drops, for
// Config.OutOfZoneGlue.
func outOfZoneGlue(resp, scrubbed *dns.Msg, zone string) []dns.RR {
	targets := map[string]bool{}
	for _, rr := range scrubbed.Ns {
		if ns, ok := rr.(*dns.NS); ok && !dnssec.IsSubDomain(zone, ns.Ns) {
			targets[strings.ToLower(ns.Ns)] = true
		}
	}
	var out []dns.RR
	for _, rr := range resp.Extra {
		h := rr.Header()
		if (h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA) && h.Class == dns.ClassINET && targets[strings.ToLower(h.Name)] {
			out = append(out, rr)
		}
	}
	return out
}
