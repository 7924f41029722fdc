package resolvertest

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startNSD runs one real NSD per server address of n on a free port.
func startNSD(t *testing.T, n *Network) uint16 {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real NSD processes")
	}
	return n.StartNSD(t, 0)
}

// TestMatchesNSD asks a real NSD, serving the same files on the same
// addresses, every question of the engine's tables and wants the same
// reply. It is what keeps the engine honest.
func TestMatchesNSD(t *testing.T) {
	n := defaultNet(t)
	port := startNSD(t, n)
	type asked struct {
		name, server, network, qname string
		qtype                        uint16
		edns                         uint16
	}
	var all []asked
	for _, group := range [][]authCase{delegationCases, leafCases, synthCases} {
		for _, tc := range group {
			if tc.qtype == dns.TypeANY {
				continue // NSD 4.6 answers one RRset (RFC 8482); see auth.go
			}
			all = append(all, asked{tc.name, tc.server, "udp", tc.qname, tc.qtype, 1232})
		}
	}
	all = append(all,
		asked{"big over udp", "127.53.16.1", "udp", "txt.big.example.", dns.TypeTXT, 1232},
		asked{"big over udp without EDNS", "127.53.16.1", "udp", "txt.big.example.", dns.TypeTXT, 0},
		asked{"big over tcp", "127.53.16.1", "tcp", "txt.big.example.", dns.TypeTXT, 1232},
		asked{"case kept", "127.53.10.1", "udp", "WwW.PlAiN.eXaMpLe.", dns.TypeA, 1232},
		asked{"not authoritative without EDNS", "127.53.10.1", "udp", "www.other.test.", dns.TypeA, 0},
		asked{"TLD NS for minimisation", "127.53.2.1", "udp", "other.test.", dns.TypeNS, 1232},
		asked{"glueless zone apex", "127.53.17.2", "udp", "glueless.example.", dns.TypeNS, 1232},
		asked{"cycle zone", "127.53.21.1", "udp", "www.cycle2.test.", dns.TypeA, 1232},
		asked{"wildcard CNAME asked as CNAME", "127.53.15.1", "udp", "x.alias.wild.example.", dns.TypeCNAME, 1232},
		asked{"wildcard TXT only", "127.53.15.1", "udp", "x.nodata.wild.example.", dns.TypeTXT, 1232},
		asked{"DS of a TLD at the root", "127.53.0.2", "udp", "hush.", dns.TypeDS, 1232},
		asked{"NODATA below an ENT", "127.53.10.1", "udp", "a.b.c.plain.example.", dns.TypeAAAA, 0},
		asked{"DNAME asked for", "127.53.14.1", "udp", "sub.dname.example.", dns.TypeDNAME, 1232},
		asked{"DNAME type below the owner", "127.53.14.1", "tcp", "x.sub.dname.example.", dns.TypeDNAME, 0},
		asked{"glue name at the parent", "127.53.3.2", "udp", "ns1.plain.example.", dns.TypeA, 1232},
		asked{"cut name at the parent", "127.53.3.2", "tcp", "plain.example.", dns.TypeSOA, 1232},
		asked{"small EDNS size", "127.53.0.1", "udp", "www.plain.example.", dns.TypeA, 512},
	)
	for addr, origins := range n.Servers() {
		for _, o := range origins {
			all = append(all, asked{"SOA of " + o, addr.String(), "udp", o, dns.TypeSOA, 1232})
		}
	}
	for _, a := range all {
		t.Run(a.name, func(t *testing.T) {
			q := query(a.qname, a.qtype, a.edns)
			c := &dns.Client{Net: a.network, Timeout: 2 * time.Second, UDPSize: 65535}
			want, _, err := c.Exchange(q.Copy(), netip.AddrPortFrom(netip.MustParseAddr(a.server), port).String())
			if err != nil {
				t.Fatalf("nsd: %v", err)
			}
			got := exchange(t, n, a.network, a.server, q.Copy())
			if g, w := summary(t, got), summary(t, want); g != w {
				t.Errorf("engine and NSD differ:\nengine:\n%s\nnsd:\n%s", g, w)
			}
		})
	}
}

// summary renders what the comparison looks at: rcode, AA, TC, sections
// (sorted, lowercased), and whether OPT is present with which EDE codes.
func summary(t *testing.T, m *dns.Msg) string {
	var b strings.Builder
	b.WriteString(dns.RcodeToString[m.Rcode])
	if m.Authoritative {
		b.WriteString(" aa")
	}
	if m.Truncated {
		b.WriteString(" tc")
	}
	if opt := m.IsEdns0(); opt != nil {
		b.WriteString(" opt")
		var codes []string
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				codes = append(codes, dns.ExtendedErrorCodeToString[e.InfoCode])
			}
		}
		slices.Sort(codes)
		if len(codes) > 0 {
			b.WriteString(" ede=" + strings.Join(codes, ","))
		}
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		b.WriteString("\n--")
		for _, s := range rrs(t, sec) {
			b.WriteString("\n" + s)
		}
	}
	return b.String()
}
