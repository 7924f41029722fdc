package resolver

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Response classification, as Unbound's iter_resptype: what a scrubbed
// response is (an answer, a denial, a referral, lame or a failure), and
// the cacheable result made of an answer.

type respKind int

const (
	kindAnswer respKind = iota
	kindNoData
	kindNXDomain
	kindReferral
	kindLame
	kindFail
)

// classify tells what a scrubbed response from a server for zone is.
func classify(resp *dns.Msg, zone string) respKind {
	switch resp.Rcode {
	case dns.RcodeNameError:
		return kindNXDomain
	case dns.RcodeSuccess:
	case dns.RcodeYXDomain:
		// A DNAME whose substitution would make too long a name (RFC
		// 6672 §2.2) is an answer, the client's to see; the scrubbed
		// answer holds the DNAME only then.
		if slices.ContainsFunc(resp.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeDNAME }) {
			return kindAnswer
		}
		return kindFail
	default:
		return kindFail
	}
	if slices.ContainsFunc(resp.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeRRSIG }) ||
		len(resp.Answer) > 0 && len(resp.Question) == 1 && resp.Question[0].Qtype == dns.TypeRRSIG {
		return kindAnswer
	}
	// Signatures without the records they sign are no answer.
	var soa, down bool
	for _, rr := range resp.Ns {
		h := rr.Header()
		switch h.Rrtype {
		case dns.TypeSOA:
			soa = true
		case dns.TypeNS:
			if !strings.EqualFold(h.Name, zone) {
				down = true
			}
		}
	}
	switch {
	case soa:
		return kindNoData
	case down:
		return kindReferral
	case resp.Authoritative:
		return kindNoData
	}
	// Neither data, nor a denial, nor a step down: an upward referral or
	// an empty non-authoritative reply. The server is lame for the zone.
	return kindLame
}

// noCutHere reports whether resp, a scrubbed NOERROR reply from a server
// of zone, carries no answer and, in its authority section, nothing but
// NS records of zone itself. A reply with RA and no AA is excepted: a
// recursive server answering from its cache is lame (Unbound's
// RESPONSE_TYPE_REC_LAME).
func noCutHere(resp *dns.Msg, zone string) bool {
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) > 0 || resp.RecursionAvailable && !resp.Authoritative {
		return false
	}
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS || !strings.EqualFold(rr.Header().Name, zone) {
			return false
		}
	}
	return true
}

// finish turns an authoritative answer into the cacheable result: the
// answer chain, and for negative answers the SOA (RFC 2308) and DNSSEC
// records of the authority section. The servers' NS and glue stay out of
// what clients see.
func (r *Resolver) finish(resp *dns.Msg, kind respKind) *dns.Msg {
	out := new(dns.Msg)
	out.Question = resp.Question
	out.Rcode = resp.Rcode
	out.Answer = resp.Answer
	for _, rr := range resp.Ns {
		switch rr := rr.(type) {
		case *dns.NS:
			// A negative answer keeps the zone's NS set the server sent
			// beside its SOA, as Unbound and Knot Resolver pass it on;
			// answers with data drop it (minimal responses).
			if kind == kindNXDomain || kind == kindNoData {
				out.Ns = append(out.Ns, rr)
			}
		case *dns.NSEC, *dns.NSEC3:
			// Wildcard answers carry their proof too.
			out.Ns = append(out.Ns, rr)
		case *dns.RRSIG:
			if rr.TypeCovered != dns.TypeNS {
				out.Ns = append(out.Ns, rr)
			}
		default:
			if kind == kindNXDomain || kind == kindNoData {
				out.Ns = append(out.Ns, rr)
			}
		}
	}
	return out
}

// rrsets groups records by owner, type and class, keeping their order.
func rrsets(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		placed := false
		for i, set := range out {
			s := set[0].Header()
			if s.Rrtype == h.Rrtype && s.Class == h.Class && strings.EqualFold(s.Name, h.Name) {
				out[i] = append(set, rr)
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, []dns.RR{rr})
		}
	}
	return out
}
