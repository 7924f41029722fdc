package resolvertest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/miekg/dns"
)

// ErrOutside is returned by Exchange for a destination outside
// 127.0.0.0/8: the simulated internet never lets a query leave the host.
var ErrOutside = errors.New("destination outside 127.0.0.0/8")

// loopback is the only prefix Exchange accepts as a destination.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

// Network is a simulated internet: zones, the servers that serve them,
// faults, and a record of the queries sent. It is safe for concurrent use.
type Network struct {
	zones   []*zone
	servers map[netip.Addr]*server
	hints   []dns.RR
	// anchor and unsigned are set by Signed: the root DS and the zone
	// texts before signing, by origin.
	anchor   []dns.RR
	unsigned map[string]string

	// mu guards the fields below.
	mu      sync.Mutex
	faults  map[netip.Addr]Fault
	counts  map[netip.Addr]int
	log     []Query
	outside []netip.AddrPort
}

// Query is one query a server received, as Log reports it.
type Query struct {
	Server  netip.AddrPort
	Network string // "udp" or "tcp"
	Name    string // as sent, case kept
	Type    uint16
	EDNS    bool // the query carried an OPT record
}

// String formats q for test failure messages.
func (q Query) String() string {
	return fmt.Sprintf("%s %s %s %s", q.Server, q.Network, q.Name, dns.TypeToString[q.Type])
}

// New builds a network from zone files, each string one whole master file
// whose first record is the SOA. It fails on a parse error, two zones with
// one origin, a zone none of whose name servers has an address, or a
// server address outside 127.53.0.0/16.
func New(zoneTexts ...string) (*Network, error) {
	n := &Network{
		servers: map[netip.Addr]*server{},
		faults:  map[netip.Addr]Fault{},
		counts:  map[netip.Addr]int{},
	}
	seen := map[string]bool{}
	for _, text := range zoneTexts {
		z, err := parseZone(text)
		if err != nil {
			return nil, err
		}
		if seen[z.origin] {
			return nil, fmt.Errorf("resolvertest: zone %s given twice", z.origin)
		}
		seen[z.origin] = true
		n.zones = append(n.zones, z)
	}
	m, err := manifest(n.zones)
	if err != nil {
		return nil, err
	}
	for addr, zs := range m {
		s := &server{zones: map[string]*zone{}}
		for _, z := range zs {
			s.zones[z.origin] = z
		}
		n.servers[addr] = s
	}
	n.hints = rootHints(n.zones)
	return n, nil
}

// Default builds the network of the embedded zones (zones/*.zone); the
// comment at the top of each file says what its zone is for.
func Default() (*Network, error) {
	files, err := ZoneFiles()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	texts := make([]string, 0, len(names))
	for _, name := range names {
		texts = append(texts, files[name])
	}
	n, err := New(texts...)
	if err != nil {
		return nil, fmt.Errorf("resolvertest: embedded zones: %w", err)
	}
	return n, nil
}

// rootHints collects the root zone's apex NS RRset and the addresses of
// its targets (the root zone's glue first, then any zone's data).
func rootHints(zones []*zone) []dns.RR {
	var root *zone
	for _, z := range zones {
		if z.origin == "." {
			root = z
		}
	}
	if root == nil {
		return nil
	}
	ns := root.nodes["."].rrset(dns.TypeNS)
	out := make([]dns.RR, 0, 3*len(ns))
	for _, rr := range ns {
		out = append(out, dns.Copy(rr))
	}
	for _, rr := range ns {
		target := dns.CanonicalName(rr.(*dns.NS).Ns)
		for _, z := range append([]*zone{root}, zones...) {
			n := z.nodes[target]
			if n == nil || (n.rrset(dns.TypeA) == nil && n.rrset(dns.TypeAAAA) == nil) {
				continue
			}
			for _, a := range append(append([]dns.RR(nil), n.rrset(dns.TypeA)...), n.rrset(dns.TypeAAAA)...) {
				out = append(out, dns.Copy(a))
			}
			break
		}
	}
	return out
}

// RootHints returns the root servers' NS records and their addresses, as
// the resolver's Config.RootHints takes them. Nil when no root zone was
// given. The records are copies.
func (n *Network) RootHints() []dns.RR {
	out := make([]dns.RR, 0, len(n.hints))
	for _, rr := range n.hints {
		out = append(out, dns.Copy(rr))
	}
	return out
}

// RootHintsText returns RootHints as master-file text, usable as a
// --root-hints file.
func (n *Network) RootHintsText() string {
	var b strings.Builder
	b.WriteString("; root hints of the resolvertest simulated internet\n")
	for _, rr := range n.hints {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Servers returns the manifest: each server address and the origins of
// the zones it serves, sorted. A test that runs a real authoritative
// server writes one configuration per address from it.
func (n *Network) Servers() map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, len(n.servers))
	for addr, s := range n.servers {
		for origin := range s.zones {
			out[addr] = append(out[addr], origin)
		}
		sort.Strings(out[addr])
	}
	return out
}

// Zones returns the origins of all zones, sorted.
func (n *Network) Zones() []string {
	out := make([]string, 0, len(n.zones))
	for _, z := range n.zones {
		out = append(out, z.origin)
	}
	sort.Strings(out)
	return out
}

// ZoneText returns the master file a zone was built from.
func (n *Network) ZoneText(origin string) (string, bool) {
	origin = dns.CanonicalName(origin)
	for _, z := range n.zones {
		if z.origin == origin {
			return z.text, true
		}
	}
	return "", false
}

// Exchange sends q to the simulated server at server.Addr() and returns
// its reply, as resolver.Exchanger does over a real network; the port is
// ignored. q is packed and the reply unpacked, so both cross a wire
// format boundary exactly as they would on a socket, and the caller's
// message is never changed.
//
// network is "udp" or "tcp" (a trailing 4 or 6 is accepted). Over UDP a
// reply larger than the query allows (512 octets without EDNS, else the
// smaller of the advertised size and 1232) comes back truncated with TC
// set and empty sections; over TCP it never does.
//
// Exchange does not retry, does not fall back to TCP and does not check
// that the reply matches q. A destination outside 127.0.0.0/8 fails with
// ErrOutside and is recorded (Outside); an address that serves nothing
// fails at once like a closed port (syscall.ECONNREFUSED) unless a fault
// is set on it.
func (n *Network) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	proto, err := protocol(network)
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, errors.New("resolvertest: exchange: nil query")
	}
	addr := server.Addr().Unmap()
	if !addr.Is4() || !loopback.Contains(addr) {
		n.mu.Lock()
		n.outside = append(n.outside, server)
		n.mu.Unlock()
		return nil, fmt.Errorf("resolvertest: exchange with %s: %w", server, ErrOutside)
	}
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("resolvertest: pack query: %w", err)
	}
	out, err := n.respond(ctx, proto, netip.AddrPortFrom(addr, server.Port()), wire)
	if err != nil {
		return nil, err
	}
	if out == nil {
		// The server chose not to answer (a response sent as a query):
		// on a network this is a timeout.
		<-ctx.Done()
		return nil, fmt.Errorf("resolvertest: %s %s: no reply: %w", proto, server, ctx.Err())
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		return nil, fmt.Errorf("resolvertest: unpack reply: %w", err)
	}
	return r, nil
}

// protocol normalises an Exchanger network name.
func protocol(network string) (string, error) {
	switch strings.TrimRight(network, "46") {
	case "udp":
		return "udp", nil
	case "tcp":
		return "tcp", nil
	}
	return "", fmt.Errorf("resolvertest: unknown network %q", network)
}

// errConnRefused is what a query to an address that serves nothing gets.
func errConnRefused(proto string, server netip.AddrPort) error {
	return fmt.Errorf("resolvertest: %s %s: nothing listening: %w", proto, server, syscall.ECONNREFUSED)
}

// record logs one received query.
func (n *Network) record(proto string, server netip.AddrPort, q *dns.Msg) {
	qq := Query{Server: server, Network: proto, EDNS: q.IsEdns0() != nil}
	if len(q.Question) > 0 {
		qq.Name, qq.Type = q.Question[0].Name, q.Question[0].Qtype
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.counts[server.Addr()]++
	n.log = append(n.log, qq)
}

// Queries returns how many queries addr has received (over both
// Exchange and Serve) since the network was made or ResetLog was called.
func (n *Network) Queries(addr netip.Addr) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.counts[addr.Unmap()]
}

// Log returns a copy of the queries received, in arrival order.
func (n *Network) Log() []Query {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Query(nil), n.log...)
}

// Outside returns the destinations outside 127.0.0.0/8 that Exchange
// refused. A correct resolver test expects none.
func (n *Network) Outside() []netip.AddrPort {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]netip.AddrPort(nil), n.outside...)
}

// ResetLog forgets the queries counted and logged and the destinations
// refused. Faults stay.
func (n *Network) ResetLog() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.counts = map[netip.Addr]int{}
	n.log = nil
	n.outside = nil
}

// CheckedExchanger is a Network's Exchange that also fails the test on
// any destination outside 127.0.0.0/8. Make one with Network.Exchanger.
type CheckedExchanger struct {
	n *Network
	t TB
}

// Exchanger returns n's Exchange wrapped to call t.Errorf on every
// destination outside 127.0.0.0/8 (the query is refused either way).
func (n *Network) Exchanger(t TB) *CheckedExchanger {
	return &CheckedExchanger{n: n, t: t}
}

// Exchange is Network.Exchange, failing the test for a destination outside
// 127.0.0.0/8.
func (c *CheckedExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	if a := server.Addr().Unmap(); !a.Is4() || !loopback.Contains(a) {
		c.t.Errorf("resolvertest: query sent to %s, outside 127.0.0.0/8", server)
	}
	return c.n.Exchange(ctx, network, server, q)
}

// TB is the part of testing.TB the network's helpers use: *testing.T and
// *testing.B satisfy it. Taking it instead of testing.TB keeps package
// testing out of binaries that link the network (hush demo does).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
	Cleanup(f func())
}
