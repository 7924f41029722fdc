package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size hush advertises upstream (DNS Flag Day
// 2020): large enough for most answers, small enough not to fragment.
const ednsSize = 1232

// askZone sends (name, qtype) to the servers of cut until one gives a
// usable, scrubbed response. Servers that fail are marked in cut.tried so
// that the caller's next call moves on. When the known addresses run out it
// looks up the addresses of NS names that came without glue, a few at a
// time (NXNSAttack).
func (r *Resolver) askZone(ctx context.Context, qs *qstate, cut *zoneCut, name string, qtype uint16) (*dns.Msg, netip.Addr, error) {
	var lastErr error
	for {
		for _, a := range r.joinAsked(r.servers.order(cut.addrs, cut.zone, r.now()), name, qtype) {
			if cut.tried[a] || !r.familyOK(a) {
				continue
			}
			if r.fwdPorts == nil && !r.operatorNamed(a) && !upstreamAllowed(a, r.cfg.AllowUpstream) {
				cut.markTried(a)
				lastErr = fmt.Errorf("%w: %s", ErrNotAllowed, a)
				continue
			}
			if zl := r.cfg.ZoneRateLimit; zl != nil && !zl.Allow(cut.zone, r.now()) {
				return nil, a, &Error{EDE: EDEOther, Err: fmt.Errorf("%w for %s", ErrRateLimited, zoneLabel(cut.zone))}
			}
			r.keysForCut(ctx, qs, cut, name, qtype)
			resp, err := r.exchange(ctx, qs, a, name, qtype)
			if err != nil {
				if errors.Is(err, ErrBudget) || ctx.Err() != nil {
					return nil, a, err
				}
				cut.markTried(a)
				lastErr = err
				continue
			}
			if upwardReferral(resp, cut.zone) {
				// The server does not serve the zone: it points back up
				// (or sideways) the tree. Lame, like an empty
				// non-authoritative reply, and worth no answer: the NS it
				// names are not the zone's to speak for.
				r.servers.setLame(a, cut.zone, r.now())
				cut.markTried(a)
				lastErr = fmt.Errorf("lame server for %s", zoneLabel(cut.zone))
				continue
			}
			out := scrub(resp, name, qtype, cut.zone)
			if foreignSOA(resp, out) {
				// A denial in the name of another zone: the server is
				// confused or lying. Not lame for good, but not to be
				// believed for this question; the next server may do.
				cut.markTried(a)
				lastErr = fmt.Errorf("%w: negative answer with another zone's SOA from a server of %s", ErrMismatch, zoneLabel(cut.zone))
				continue
			}
			if !out.Authoritative && answeredOtherType(resp, out, name, cut.zone) {
				// The server answered for the name itself, with records
				// of another type only: it speaks as the name's
				// authority whatever its AA bit says, and what it says
				// is that there is no data of the type asked
				// (iter_unexpectedrrtype). Unbound alike takes such a
				// reply for NODATA, not for lameness.
				out.Authoritative = true
			}
			if r.cfg.OutOfZoneGlue {
				out.Extra = append(out.Extra, outOfZoneGlue(resp, out, cut.zone)...)
			}
			return out, a, nil
		}
		if ctx.Err() != nil {
			return nil, netip.Addr{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: %w", ErrNoReachable, ctx.Err())}
		}
		found, err := r.lookupNSAddrs(ctx, qs, cut)
		if err != nil {
			return nil, netip.Addr{}, err
		}
		if !found {
			break
		}
	}
	err := fmt.Errorf("%w for %s", ErrNoReachable, zoneLabel(cut.zone))
	if lastErr != nil && errors.Is(lastErr, ErrNotAllowed) {
		return nil, netip.Addr{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: %w", err, ErrNotAllowed)}
	}
	return nil, netip.Addr{}, &Error{EDE: EDENoReachableAuth, Err: err}
}

// foreignSOA reports whether resp is a denial (NXDOMAIN, or NOERROR with
// no answer) whose authority section has SOA records, none of which
// scrubbing (giving out) kept: each names a zone outside the bailiwick
// of the servers asked, or one that is no ancestor of the name. The SOA
// of a negative answer says which zone denies (RFC 2308 §3), and only
// the zone asked, or one between it and the name, may.
func foreignSOA(resp, out *dns.Msg) bool {
	if len(out.Answer) > 0 || resp.Rcode != dns.RcodeNameError && resp.Rcode != dns.RcodeSuccess {
		return false
	}
	has := func(rrs []dns.RR) bool {
		return slices.ContainsFunc(rrs, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeSOA })
	}
	return has(resp.Ns) && !has(out.Ns)
}

// answeredOtherType reports whether resp, a NOERROR reply without RA from
// a server of zone, held records owned by name in its answer section, all
// of which scrubbing dropped as not of the type asked (out, the scrubbed
// reply, has no answer).
func answeredOtherType(resp, out *dns.Msg, name, zone string) bool {
	if resp.Rcode != dns.RcodeSuccess || resp.RecursionAvailable || len(out.Answer) > 0 || !dnssec.IsSubDomain(zone, name) {
		return false
	}
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Class == dns.ClassINET && h.Rrtype != dns.TypeRRSIG && strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// zoneLabel names a zone in an error. Errors never reach a log (the
// resolver has none), but they do reach the client as EDE text, so they
// carry at most the zone, which the client's own question implies.
func zoneLabel(zone string) string { return "zone " + zone }

// exchange sends one query to one server and returns a reply that matches
// it: over UDP with EDNS, again over TCP when truncated, again without EDNS
// when the server rejects it. Identical queries to the same server that are
// in flight at once share one exchange.
func (r *Resolver) exchange(ctx context.Context, qs *qstate, addr netip.Addr, name string, qtype uint16) (*dns.Msg, error) {
	key := exKey{addr: addr, name: strings.ToLower(name), qtype: qtype}
	resp, shared, err := r.exflights.do(ctx, key, func() (*dns.Msg, error) {
		return r.exchangeOnce(ctx, qs, addr, name, qtype)
	})
	if shared && (err == context.Canceled || err == context.DeadlineExceeded) && ctx.Err() == nil {
		// The leader's own context ended (exchangeOnce returns its error
		// bare), not the exchange: try for ourselves.
		return r.exchangeOnce(ctx, qs, addr, name, qtype)
	}
	return resp, err
}

type exKey struct {
	addr  netip.Addr
	name  string
	qtype uint16
}

func (r *Resolver) exchangeOnce(ctx context.Context, qs *qstate, addr netip.Addr, name string, qtype uint16) (*dns.Msg, error) {
	server := netip.AddrPortFrom(addr, r.port)
	_, isFwd := r.fwdPorts[addr]
	if p, ok := r.fwdPorts[addr]; ok {
		server = netip.AddrPortFrom(addr, p)
	} else if p, ok := r.routes.ports[addr]; ok {
		server = netip.AddrPortFrom(addr, p)
	}
	edns := !r.servers.noEDNS(addr, r.now())
	network := "udp"
	for attempt := 0; attempt < 3; attempt++ {
		if !qs.spendQuery() {
			return nil, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: more than %d upstream queries", ErrBudget, qs.lim.MaxQueries)}
		}
		q := new(dns.Msg)
		q.Id = dns.Id()
		q.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
		// A forwarder recurses for us; an authoritative server must not
		// be asked to.
		q.RecursionDesired = isFwd
		if edns {
			q.SetEdns0(ednsSize, r.cfg.DNSSEC)
		}
		rto := r.servers.rto(addr, r.now(), qs.lim.QueryTimeout)
		if network == "tcp" {
			rto = qs.lim.QueryTimeout
		}
		actx, cancel := context.WithTimeout(ctx, rto)
		start := time.Now()
		guard := r.guard
		if isFwd {
			// A recursive forwarder is no authority to prove: as it was.
			guard = nil
		}
		resp, err := guard.exchange(actx, r.ex, network, server, q, r.now())
		rtt := time.Since(start)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.servers.timeout(addr, qs.lim.QueryTimeout, r.now())
			return nil, fmt.Errorf("exchange with server: %w", err)
		}
		if resp.Id != q.Id || !resp.Response || resp.Opcode != dns.OpcodeQuery || !sameQuestion(resp, q) {
			return nil, ErrMismatch
		}
		if network == "udp" {
			r.servers.success(addr, rtt, r.now())
		}
		switch {
		case resp.Truncated && network == "udp":
			network = "tcp"
			continue
		case edns && resp.IsEdns0() == nil &&
			(resp.Rcode == dns.RcodeFormatError || resp.Rcode == dns.RcodeNotImplemented):
			// An old server that rejects EDNS (RFC 6891 §7): ask plainly.
			r.servers.setNoEDNS(addr, r.now())
			edns = false
			continue
		case resp.Truncated:
			return nil, fmt.Errorf("exchange: truncated over TCP")
		}
		return resp, nil
	}
	return nil, fmt.Errorf("exchange: no usable reply")
}

// upwardReferral reports whether resp, from a server of zone, is a
// referral to a zone that is not below zone: no answer, no SOA, and NS
// records owned by an ancestor of zone or by a name outside it. Servers
// that do not serve a zone often answer so, listing the root servers
// (Unbound's RESPONSE_TYPE_LAME). The scrubber would drop those NS records
// and leave what looks like an empty authoritative answer, so this is
// judged on the raw response.
func upwardReferral(resp *dns.Msg, zone string) bool {
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) > 0 {
		return false
	}
	up := false
	for _, rr := range resp.Ns {
		switch rr.Header().Rrtype {
		case dns.TypeSOA:
			return false
		case dns.TypeNS:
			if !dnssec.IsSubDomain(zone, rr.Header().Name) {
				up = true
			}
		}
	}
	return up
}
