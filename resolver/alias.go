package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// The alias chain: CNAME and DNAME records followed across zones (RFC
// 1034 §3.6.2, RFC 6672), the part of Unbound's iterator that restarts a
// query at the alias target.

// resolve answers (qname, qtype) from the cache or by iteration, following
// CNAME and DNAME chains across zones. The result holds the whole chain in
// its answer section and the rcode of the chain's last name.
func (r *Resolver) resolve(ctx context.Context, qs *qstate, qname string, qtype uint16) (*dns.Msg, cache.Meta, error) {
	var chain, proofs []dns.RR
	var meta cache.Meta
	status := dnssec.Status(0)
	name := qname
	seen := map[string]bool{}
	for links := 0; ; links++ {
		if links > qs.lim.MaxCNAME {
			return nil, meta, &Error{EDE: EDEOther, Err: fmt.Errorf("%w: CNAME chain longer than %d", ErrBudget, qs.lim.MaxCNAME)}
		}
		lname := strings.ToLower(name)
		if seen[lname] {
			return nil, meta, loopError(qname, chain, meta)
		}
		seen[lname] = true

		res, m, err := r.lookup(ctx, qs, name, qtype)
		if err != nil {
			return nil, meta, err
		}
		if links == 0 {
			status = dnssec.Status(m.Security)
		} else {
			status = combine(status, dnssec.Status(m.Security))
		}
		if m.EDE != 0 && (meta.EDE == 0 || dnssec.Status(m.Security) == dnssec.Bogus) {
			meta.EDE = m.EDE
		}
		meta.Security = cache.Security(status)
		meta.Unchecked = meta.Unchecked || m.Unchecked
		// A DNAME that applies again further down the chain is the same
		// RRset: it appears once (RFC 2181 §5).
		for _, rr := range res.Answer {
			if !slices.ContainsFunc(chain, func(c dns.RR) bool { return dns.IsDuplicate(c, rr) }) {
				chain = append(chain, rr)
			}
		}
		end, data := chainEnd(res.Answer, name, qtype)
		if !data && qtype != dns.TypeCNAME && aliasAt(res.Answer, end) {
			// The chain never ends: a CNAME back to itself, here or
			// synthesised from a DNAME that targets its own owner.
			return nil, meta, loopError(qname, chain, meta)
		}
		if data || res.Rcode != dns.RcodeSuccess || strings.EqualFold(end, name) {
			out := new(dns.Msg)
			out.Question = []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}}
			out.Rcode = res.Rcode
			out.Answer = chain
			out.Ns = res.Ns
			for _, rr := range proofs {
				if !slices.ContainsFunc(out.Ns, func(c dns.RR) bool { return dns.IsDuplicate(c, rr) }) {
					out.Ns = append(out.Ns, rr)
				}
			}
			return out, meta, nil
		}
		// A link from a wildcard brings the proof that its name did not
		// exist (RFC 4035 §3.1.3.3): the client gets it with the rest of
		// the chain, as Unbound prepends it.
		if fromWildcard(res.Answer) {
			proofs = append(proofs, denialRecords(res.Ns)...)
		}
		// Links of the chain already seen mean a loop inside one answer.
		for _, rr := range res.Answer {
			if rr.Header().Rrtype == dns.TypeCNAME && !strings.EqualFold(rr.Header().Name, name) {
				if seen[strings.ToLower(rr.Header().Name)] {
					return nil, meta, loopError(qname, chain, meta)
				}
				seen[strings.ToLower(rr.Header().Name)] = true
				links++
			}
		}
		name = end
	}
}

// loopError is the error of a CNAME chain from qname that goes round in a
// circle. It carries the chain as far as it went, which the client gets
// with its SERVFAIL (as from Knot Resolver) to see the loop for itself,
// unless part of it is Bogus.
func loopError(qname string, chain []dns.RR, meta cache.Meta) *Error {
	e := &Error{EDE: EDEOther, Err: fmt.Errorf("%w: CNAME chain", ErrLoop)}
	if dnssec.Status(meta.Security) != dnssec.Bogus && len(chain) > 0 {
		e.chain = &partialChain{name: qname, answer: slices.Clone(chain)}
	}
	return e
}

// aliasAt reports whether answer holds a CNAME owned by name.
func aliasAt(answer []dns.RR, name string) bool {
	for _, rr := range answer {
		if rr.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}

// chainEnd follows the CNAME records of answer from name and reports the
// last name reached and whether records of qtype are there.
func chainEnd(answer []dns.RR, name string, qtype uint16) (string, bool) {
	cur := name
	for hops := 0; hops <= len(answer); hops++ {
		var next string
		for _, rr := range answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, cur) {
				continue
			}
			if matchesType(rr, qtype) {
				return cur, true
			}
			if c, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				next = c.Target
			}
		}
		if next == "" {
			break
		}
		cur = next
	}
	return cur, false
}

// underDNAME reports whether name lies below a DNAME of the answer.
func underDNAME(answer []dns.RR, name string) bool {
	for _, rr := range answer {
		if d, ok := rr.(*dns.DNAME); ok && !strings.EqualFold(d.Hdr.Name, name) && dnssec.IsSubDomain(d.Hdr.Name, name) {
			return true
		}
	}
	return false
}
