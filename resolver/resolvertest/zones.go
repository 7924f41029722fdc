package resolvertest

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// embedded holds the default internet (see Default and zones/*.zone).
//
//go:embed zones/*.zone
var embedded embed.FS

// ZoneFiles returns the text of the embedded zone files, keyed by file
// name (e.g. "root.zone"). A test that runs a real authoritative server on
// the simulated internet's addresses writes them to disk.
func ZoneFiles() (map[string]string, error) {
	entries, err := fs.ReadDir(embedded, "zones")
	if err != nil {
		return nil, fmt.Errorf("resolvertest: read embedded zones: %w", err)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := embedded.ReadFile("zones/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("resolvertest: read embedded zone %s: %w", e.Name(), err)
		}
		out[e.Name()] = string(b)
	}
	return out, nil
}

// zone is one parsed zone: its data indexed by lowercased owner name.
type zone struct {
	origin string // lowercased, fully qualified
	text   string // the zone file as given
	soa    *dns.SOA
	nodes  map[string]*node
	// exists holds every owner name and each of its ancestors up to the
	// origin: a name in exists but not in nodes is an empty non-terminal.
	exists map[string]bool
	sec    dnssecIndex // what DNSSEC answers need (authsec.go)
}

// node holds the RRsets of one owner name, in zone-file order.
type node struct {
	order []uint16
	sets  map[uint16][]dns.RR
}

func (n *node) rrset(t uint16) []dns.RR {
	if n == nil {
		return nil
	}
	return n.sets[t]
}

func (n *node) add(rr dns.RR) {
	t := rr.Header().Rrtype
	if _, ok := n.sets[t]; !ok {
		n.order = append(n.order, t)
	}
	n.sets[t] = append(n.sets[t], rr)
}

// parseZone parses one master file. The first record must be the SOA; its
// owner is the zone's origin. Records outside the zone, classes other than
// IN and $INCLUDE are errors, as they are for NSD.
func parseZone(text string) (*zone, error) {
	zp := dns.NewZoneParser(strings.NewReader(text), "", "")
	var z *zone
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		if h.Class != dns.ClassINET {
			return nil, fmt.Errorf("resolvertest: zone: %s: class %s not IN", h.Name, dns.ClassToString[h.Class])
		}
		if z == nil {
			soa, ok := rr.(*dns.SOA)
			if !ok {
				return nil, fmt.Errorf("resolvertest: zone: first record is %s, not SOA", dns.TypeToString[h.Rrtype])
			}
			origin := dns.CanonicalName(h.Name)
			z = &zone{origin: origin, text: text, soa: soa, nodes: map[string]*node{}, exists: map[string]bool{origin: true}}
		} else if h.Rrtype == dns.TypeSOA {
			return nil, fmt.Errorf("resolvertest: zone %s: second SOA at %s", z.origin, h.Name)
		}
		name := dns.CanonicalName(h.Name)
		if !dns.IsSubDomain(z.origin, name) {
			return nil, fmt.Errorf("resolvertest: zone %s: %s is out of zone", z.origin, h.Name)
		}
		n := z.nodes[name]
		if n == nil {
			n = &node{sets: map[uint16][]dns.RR{}}
			z.nodes[name] = n
		}
		n.add(rr)
		for a := name; a != z.origin; a = parent(a) {
			z.exists[a] = true
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("resolvertest: zone: %w", err)
	}
	if z == nil {
		return nil, errors.New("resolvertest: zone: no records")
	}
	if len(z.nodes[z.origin].rrset(dns.TypeNS)) == 0 {
		return nil, fmt.Errorf("resolvertest: zone %s: no NS at the apex", z.origin)
	}
	for name, n := range z.nodes {
		if n.sets[dns.TypeCNAME] == nil {
			continue
		}
		for _, t := range n.order {
			if t != dns.TypeCNAME && t != dns.TypeRRSIG && t != dns.TypeNSEC {
				return nil, fmt.Errorf("resolvertest: zone %s: CNAME and other data at %s", z.origin, name)
			}
		}
	}
	z.sec = indexDNSSEC(z)
	return z, nil
}

// parent returns the name one label up ("" above the root).
func parent(name string) string {
	if name == "." || name == "" {
		return ""
	}
	i, end := dns.NextLabel(name, 0)
	if end || i >= len(name) {
		return "."
	}
	return name[i:]
}

// within reports whether name is at or below origin. Both are lowercased.
func within(origin, name string) bool {
	if origin == "." {
		return true
	}
	return name == origin || strings.HasSuffix(name, "."+origin)
}

// addressesOf returns the A and AAAA addresses recorded for name anywhere
// in zones: authoritative data or glue.
func addressesOf(zones []*zone, name string) []netip.Addr {
	var out []netip.Addr
	for _, z := range zones {
		n := z.nodes[name]
		for _, rr := range n.rrset(dns.TypeA) {
			if a, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
				out = append(out, a)
			}
		}
		for _, rr := range n.rrset(dns.TypeAAAA) {
			if a, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA); ok {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// manifest applies the addressing rule: a zone is served on the addresses
// of the names in its apex NS set, wherever those addresses are defined.
// Every such address must lie in 127.53.0.0/16 so that nothing built from
// the zones can send a packet off the machine.
func manifest(zones []*zone) (map[netip.Addr][]*zone, error) {
	out := map[netip.Addr][]*zone{}
	for _, z := range zones {
		served := false
		for _, rr := range z.nodes[z.origin].rrset(dns.TypeNS) {
			target := dns.CanonicalName(rr.(*dns.NS).Ns)
			for _, a := range addressesOf(zones, target) {
				if !serverPrefix.Contains(a) {
					return nil, fmt.Errorf("resolvertest: zone %s: server %s has address %s outside %s", z.origin, target, a, serverPrefix)
				}
				if !slices.Contains(out[a], z) {
					out[a] = append(out[a], z)
				}
				served = true
			}
		}
		if !served {
			return nil, fmt.Errorf("resolvertest: zone %s: no address for any of its name servers", z.origin)
		}
	}
	for _, zs := range out {
		sort.Slice(zs, func(i, j int) bool { return zs[i].origin < zs[j].origin })
	}
	return out, nil
}

// serverPrefix holds every server address of the simulated internet.
var serverPrefix = netip.MustParsePrefix("127.53.0.0/16")
