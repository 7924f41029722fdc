package resolver

import (
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// namedRoot is IANA's root hints file (https://www.internic.net/domain/named.root).
//
//go:embed named.root
var namedRoot string

// DefaultRootHints returns the root servers embedded in the binary.
func DefaultRootHints() []dns.RR {
	rrs, err := ParseRootHints(strings.NewReader(namedRoot))
	if err != nil {
		panic("resolver: embedded root hints: " + err.Error())
	}
	return rrs
}

// ParseRootHints reads a root hints file in zone-file format: NS records for
// the root and A/AAAA records for the servers they name. Other records are
// ignored. It fails when no root NS has an address.
func ParseRootHints(r io.Reader) ([]dns.RR, error) {
	zp := dns.NewZoneParser(r, ".", "root.hints")
	var ns, addrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch rr := rr.(type) {
		case *dns.NS:
			if rr.Hdr.Name == "." {
				ns = append(ns, rr)
			}
		case *dns.A, *dns.AAAA:
			addrs = append(addrs, rr)
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("root hints: %w", err)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("root hints: no NS records for the root")
	}
	names := make(map[string]bool, len(ns))
	for _, rr := range ns {
		names[strings.ToLower(rr.(*dns.NS).Ns)] = true
	}
	out := ns
	for _, rr := range addrs {
		if names[strings.ToLower(rr.Header().Name)] {
			out = append(out, rr)
		}
	}
	if len(out) == len(ns) {
		return nil, fmt.Errorf("root hints: no addresses for the root name servers")
	}
	return out, nil
}
