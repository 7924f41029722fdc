package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

// Forwarder is a recursive resolver (or a pool of them) the resolver hands
// whole questions to. Exchange sends q, with RD set, and returns the reply,
// whose ID is q's; it does the retries, failover and transport itself
// (cmd/hush gives an upstream.Pool, which speaks dns://, tls://, https://
// and quic://). An error means no upstream replied; a reply with any rcode
// is a reply. The resolver never imports the package that implements it,
// so that its own dependencies stay free of net/http.
type Forwarder interface {
	Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
}

// ForwardZone sends the names at and under Zone to Forwarder (hush's
// --forward for ".", --forward-zone for the rest).
type ForwardZone struct {
	Zone      string
	Forwarder Forwarder
}

// StubZone iterates the names at and under Zone starting from the given
// authoritative servers instead of the root (hush's --stub-zone, Unbound's
// stub-zone): queries to them have RD clear, and referrals they give
// are followed as usual.
type StubZone struct {
	Zone    string
	Servers []netip.AddrPort
}

// routeKind is how a name is resolved.
type routeKind int

const (
	routeIterate routeKind = iota // from the root (or the deepest cached cut)
	routeForward                  // to a ForwardZone's Forwarder
	routeStub                     // from a StubZone's servers
	routeLegacy                   // to Config.Forwarders through the Exchanger
)

// zoneRoutes holds the forward and stub zones by canonical name.
type zoneRoutes struct {
	fwd  map[string]Forwarder
	stub map[string][]netip.AddrPort
	// ports are the stub servers' ports: they are named by the operator,
	// so they are queried whatever AllowUpstream says, on their port.
	ports map[netip.Addr]uint16
}

func (r *Resolver) setRoutes(cfg Config) error {
	zr := zoneRoutes{fwd: map[string]Forwarder{}, stub: map[string][]netip.AddrPort{}, ports: map[netip.Addr]uint16{}}
	for _, f := range cfg.ForwardZones {
		z, err := canonicalZone(f.Zone)
		if err != nil {
			return fmt.Errorf("resolver: forward zone: %w", err)
		}
		if f.Forwarder == nil {
			return fmt.Errorf("resolver: forward zone %s: no forwarder", z)
		}
		if _, dup := zr.fwd[z]; dup {
			return fmt.Errorf("resolver: forward zone %s given twice", z)
		}
		zr.fwd[z] = f.Forwarder
	}
	for _, s := range cfg.StubZones {
		z, err := canonicalZone(s.Zone)
		if err != nil {
			return fmt.Errorf("resolver: stub zone: %w", err)
		}
		if _, dup := zr.fwd[z]; dup {
			return fmt.Errorf("resolver: %s is both a forward and a stub zone", z)
		}
		if _, dup := zr.stub[z]; dup {
			return fmt.Errorf("resolver: stub zone %s given twice", z)
		}
		if len(s.Servers) == 0 {
			return fmt.Errorf("resolver: stub zone %s: no servers", z)
		}
		for _, a := range s.Servers {
			ad := a.Addr().Unmap()
			if !ad.IsValid() || a.Port() == 0 {
				return fmt.Errorf("resolver: stub zone %s: server %s: want an address and a port", z, a)
			}
			if p, ok := zr.ports[ad]; ok && p != a.Port() {
				return fmt.Errorf("resolver: stub server %s given with two ports", ad)
			}
			zr.ports[ad] = a.Port()
		}
		zr.stub[z] = s.Servers
	}
	r.routes = zr
	return nil
}

func canonicalZone(z string) (string, error) {
	if _, ok := dns.IsDomainName(z); !ok || z == "" {
		return "", fmt.Errorf("%q is not a domain name", z)
	}
	return dns.CanonicalName(dns.Fqdn(z)), nil
}

// route finds how (name, qtype) is resolved: the longest forward or stub
// zone that holds it wins. A DS record lives in the parent zone, so a DS
// question at a zone's apex follows the parent's route.
func (r *Resolver) route(name string, qtype uint16) (string, routeKind) {
	z := dns.CanonicalName(name)
	if qtype == dns.TypeDS && z != "." {
		z = parent(z)
	}
	for {
		if _, ok := r.routes.fwd[z]; ok {
			return z, routeForward
		}
		if _, ok := r.routes.stub[z]; ok {
			return z, routeStub
		}
		if z == "." {
			break
		}
		z = parent(z)
	}
	if r.fwdPorts != nil {
		return ".", routeLegacy
	}
	return ".", routeIterate
}

// forwarded reports whether answers for name come from a forwarder.
func (r *Resolver) forwarded(name string) bool {
	_, k := r.route(name, dns.TypeA)
	return k == routeForward || k == routeLegacy
}

// private reports whether zone is one the operator routes to servers of
// their own: a forward or stub zone other than the root, or a name under
// one. When the public tree proves such a zone is not delegated there,
// it cannot be signed from the trust anchor, and its answers are Insecure
// rather than Bogus: the automatic equivalent of Unbound's domain-insecure
// for private zones (lan., corp., RFC 6303 reverse zones ...). A zone the
// public tree does delegate is validated as any other.
func (r *Resolver) private(zone string) bool {
	z, k := r.route(zone, dns.TypeA)
	return z != "." && (k == routeForward || k == routeStub)
}

// privateRoute reports whether (name, qtype) goes to a forward or stub
// zone other than the root's (a DS question at such a zone's apex goes
// to the parent's route, and is the public tree's to answer).
func (r *Resolver) privateRoute(name string, qtype uint16) bool {
	z, k := r.route(name, qtype)
	return z != "." && (k == routeForward || k == routeStub)
}

// operatorNamed reports whether a is a forwarder or stub server the
// operator configured, queried whatever AllowUpstream says.
func (r *Resolver) operatorNamed(a netip.Addr) bool {
	if _, ok := r.fwdPorts[a]; ok {
		return true
	}
	_, ok := r.routes.ports[a]
	return ok
}

// stubCut is the zone cut of a stub zone: its configured servers.
func (r *Resolver) stubCut(zone string) *zoneCut {
	cut := &zoneCut{zone: zone}
	for _, s := range r.routes.stub[zone] {
		if a := s.Addr().Unmap(); !containsAddr(cut.addrs, a) {
			cut.addrs = append(cut.addrs, a)
		}
	}
	return cut
}

// forwardTo asks the forwarder of forward zone the whole question. The
// forwarder speaks for its zone and nothing else: the reply is scrubbed
// against zone (for "." that is every name, as with Config.Forwarders),
// so that a LAN's or a VPN's resolver cannot plant records, aliases
// above all, for public names; a chain that leaves the zone is followed
// by hush itself, as Unbound does for a forward zone. The rest is
// validated with the keys of each signer, fetched through the forwarders
// too (and an unsigned answer is judged by provenInsecure). A SERVFAIL's
// Extended DNS Error (a validating upstream's 6, 7, 9 ...) reaches the
// client.
func (r *Resolver) forwardTo(ctx context.Context, qs *qstate, zone string, fw Forwarder, name string, qtype uint16) (result, error) {
	if !qs.spendQuery() {
		return result{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: more than %d upstream queries", ErrBudget, qs.lim.MaxQueries)}
	}
	q := new(dns.Msg)
	q.Id = dns.Id()
	q.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	q.RecursionDesired = true
	q.SetEdns0(ednsSize, r.cfg.DNSSEC)
	resp, err := fw.Exchange(ctx, q)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return result{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: forwarders: %w", ErrNoReachable, err)}
		}
		return result{}, &Error{EDE: EDENetworkError, Err: fmt.Errorf("%w: forwarders: %w", ErrNoReachable, err)}
	}
	if !resp.Response || resp.Opcode != dns.OpcodeQuery || !sameQuestion(resp, q) {
		return result{}, &Error{EDE: EDENetworkError, Err: fmt.Errorf("%w: forwarders: %w", ErrNoReachable, ErrMismatch)}
	}
	switch resp.Rcode {
	case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
		code := EDENoReachableAuth
		if c, ok := upstreamEDE(resp); ok {
			code = c
		}
		return result{}, &Error{EDE: code, Err: fmt.Errorf("%w: forwarders answered %s", ErrNoReachable, dns.RcodeToString[resp.Rcode])}
	}
	out := scrub(resp, name, qtype, zone)
	kind := classify(out, zone)
	if kind == kindLame && out.Rcode == dns.RcodeSuccess && out.RecursionAvailable && len(out.Answer) == 0 && len(out.Ns) == 0 {
		// A recursive server's empty NOERROR to a question it recursed
		// for is NODATA, SOA or not (dnsmasq leaves it out for the names
		// it serves itself); an iterator would call it lame.
		kind = kindNoData
	}
	if kind == kindReferral || kind == kindLame || kind == kindFail {
		return result{}, &Error{EDE: EDENoReachableAuth, Err: fmt.Errorf("%w: forwarders gave no answer", ErrNoReachable)}
	}
	m := r.finish(out, kind)
	status, code, err := r.validateAnswer(ctx, qs, m, ".", name, qtype, kind)
	if err != nil {
		return result{}, err
	}
	r.keepAnswerRRsets(out, status, qs.unchecked)
	return result{m, cache.Meta{Rank: cache.RankAnswerNonAuth, Security: cache.Security(status), EDE: code}}, nil
}

// upstreamEDE returns the first Extended DNS Error code in r.
func upstreamEDE(r *dns.Msg) (uint16, bool) {
	opt := r.IsEdns0()
	if opt == nil {
		return 0, false
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			return e.InfoCode, true
		}
	}
	return 0, false
}
