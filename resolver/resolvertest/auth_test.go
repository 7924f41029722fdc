package resolvertest

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// authCase is one question to one server and the whole expected reply.
type authCase struct {
	name   string
	server string
	qname  string
	qtype  uint16
	rcode  int
	aa     bool
	answer []string
	ns     []string
	extra  []string
}

// Root and TLD servers: referrals with glue only for in-bailiwick names.
var delegationCases = []authCase{
	{
		name: "root refers example.", server: "127.53.0.1", qname: "www.plain.example.", qtype: dns.TypeA,
		ns:    []string{"example. 86400 NS ns1.nic.example.", "example. 86400 NS ns2.nic.example."},
		extra: []string{"ns1.nic.example. 86400 A 127.53.3.1", "ns2.nic.example. 86400 A 127.53.3.2"},
	},
	{
		name: "root refers test.", server: "127.53.0.2", qname: "b.other.test.", qtype: dns.TypeA,
		ns:    []string{"test. 86400 NS ns1.nic.test.", "test. 86400 NS ns2.nic.test."},
		extra: []string{"ns1.nic.test. 86400 A 127.53.2.1", "ns2.nic.test. 86400 A 127.53.2.2"},
	},
	{
		name: "root refers hush.", server: "127.53.0.1", qname: "a.root.hush.", qtype: dns.TypeA,
		ns:    []string{"hush. 86400 NS ns1.nic.hush.", "hush. 86400 NS ns2.nic.hush."},
		extra: []string{"ns1.nic.hush. 86400 A 127.53.1.1", "ns2.nic.hush. 86400 A 127.53.1.2"},
	},
	{
		name: "minimised query for the TLD itself", server: "127.53.0.1", qname: "example.", qtype: dns.TypeNS,
		ns:    []string{"example. 86400 NS ns1.nic.example.", "example. 86400 NS ns2.nic.example."},
		extra: []string{"ns1.nic.example. 86400 A 127.53.3.1", "ns2.nic.example. 86400 A 127.53.3.2"},
	},
	{
		name: "root NS with glue below the hush. cut", server: "127.53.0.1", qname: ".", qtype: dns.TypeNS, aa: true,
		answer: []string{". 86400 NS a.root.hush.", ". 86400 NS b.root.hush."},
		extra:  []string{"a.root.hush. 86400 A 127.53.0.1", "b.root.hush. 86400 A 127.53.0.2"},
	},
	{
		name: "nonexistent TLD", server: "127.53.0.1", qname: "www.invalid.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
		ns: []string{". 300 SOA a.root.hush. hostmaster.nic.hush. 2024010101 1800 900 604800 300"},
	},
	{
		name: "mixed: glue only for the in-bailiwick server", server: "127.53.3.1", qname: "www.mixed.example.", qtype: dns.TypeA,
		ns:    []string{"mixed.example. 3600 NS ns1.mixed.example.", "mixed.example. 3600 NS ns3.hosts.test."},
		extra: []string{"ns1.mixed.example. 3600 A 127.53.26.1"},
	},
	{
		name: "glueless: no glue possible", server: "127.53.3.2", qname: "www.glueless.example.", qtype: dns.TypeA,
		ns: []string{"glueless.example. 3600 NS ns1.hosts.test.", "glueless.example. 3600 NS ns2.hosts.test."},
	},
	{
		name: "doubly glueless: sibling name without glue", server: "127.53.3.1", qname: "www.deep.example.", qtype: dns.TypeA,
		ns: []string{"deep.example. 3600 NS ns.glueless.example."},
	},
	{
		name: "lame delegation's glue", server: "127.53.3.1", qname: "www.lame.example.", qtype: dns.TypeA,
		ns:    []string{"lame.example. 3600 NS ns1.lame.example."},
		extra: []string{"ns1.lame.example. 3600 A 127.53.13.1"},
	},
	{
		name: "DS at a cut answered by the parent", server: "127.53.3.1", qname: "plain.example.", qtype: dns.TypeDS, aa: true,
		ns: []string{"example. 300 SOA ns1.nic.example. hostmaster.nic.example. 2024010101 1800 900 604800 300"},
	},
	{
		name: "in-zone data of the TLD", server: "127.53.2.1", qname: "ns1.nic.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"ns1.nic.test. 86400 A 127.53.2.1"},
	},
	{
		name: "glue is not an answer: referral for a glue name", server: "127.53.2.1", qname: "ns.hosts.test.", qtype: dns.TypeA,
		ns:    []string{"hosts.test. 3600 NS ns.hosts.test."},
		extra: []string{"ns.hosts.test. 3600 A 127.53.18.1"},
	},
	{
		name: "not served: REFUSED", server: "127.53.10.1", qname: "www.other.test.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
	},
	{
		name: "lame server: REFUSED", server: "127.53.13.1", qname: "www.lame.example.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
	},
}

const plainSOA = "plain.example. 300 SOA ns1.plain.example. hostmaster.plain.example. 2024010101 1800 900 604800 300"

// Leaf servers: answers, CNAME, negative answers.
var leafCases = []authCase{
	{
		name: "A", server: "127.53.10.1", qname: "www.plain.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"www.plain.example. 3600 A 192.0.2.1"},
	},
	{
		name: "AAAA", server: "127.53.10.2", qname: "www.plain.example.", qtype: dns.TypeAAAA, aa: true,
		answer: []string{"www.plain.example. 3600 AAAA 2001:db8::1"},
	},
	{
		name: "MX without additional (minimal responses)", server: "127.53.10.1", qname: "plain.example.", qtype: dns.TypeMX, aa: true,
		answer: []string{"plain.example. 3600 MX 10 mail.plain.example."},
	},
	{
		name: "TXT RRset", server: "127.53.10.1", qname: "txt.plain.example.", qtype: dns.TypeTXT, aa: true,
		answer: []string{`txt.plain.example. 300 TXT "hello" "world"`, `txt.plain.example. 300 TXT "second string"`},
	},
	{
		name: "apex NS with addresses", server: "127.53.10.1", qname: "plain.example.", qtype: dns.TypeNS, aa: true,
		answer: []string{"plain.example. 3600 NS ns1.plain.example.", "plain.example. 3600 NS ns2.plain.example."},
		extra:  []string{"ns1.plain.example. 3600 A 127.53.10.1", "ns2.plain.example. 3600 A 127.53.10.2"},
	},
	{
		name: "ANY: every RRset", server: "127.53.10.1", qname: "www.plain.example.", qtype: dns.TypeANY, aa: true,
		answer: []string{"www.plain.example. 3600 A 192.0.2.1", "www.plain.example. 3600 AAAA 2001:db8::1"},
	},
	{
		name: "in-zone CNAME chain followed", server: "127.53.10.1", qname: "alias.plain.example.", qtype: dns.TypeA, aa: true,
		answer: []string{
			"alias.plain.example. 3600 CNAME alias2.plain.example.",
			"alias2.plain.example. 3600 CNAME www.plain.example.",
			"www.plain.example. 3600 A 192.0.2.1",
		},
	},
	{
		name: "CNAME query is not followed", server: "127.53.10.1", qname: "alias.plain.example.", qtype: dns.TypeCNAME, aa: true,
		answer: []string{"alias.plain.example. 3600 CNAME alias2.plain.example."},
	},
	{
		name: "CNAME to a missing name: NXDOMAIN", server: "127.53.10.1", qname: "dangling.plain.example.", qtype: dns.TypeA, aa: true,
		rcode:  dns.RcodeNameError,
		answer: []string{"dangling.plain.example. 3600 CNAME missing.plain.example."},
		ns:     []string{plainSOA},
	},
	{
		name: "in-zone CNAME loop stops", server: "127.53.10.1", qname: "loop1.plain.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"loop1.plain.example. 3600 CNAME loop2.plain.example.", "loop2.plain.example. 3600 CNAME loop1.plain.example."},
	},
	{
		name: "cross-zone CNAME left to the resolver", server: "127.53.11.1", qname: "a.chain.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"a.chain.example. 3600 CNAME b.other.test."},
	},
	{
		name: "second link", server: "127.53.12.1", qname: "b.other.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"b.other.test. 3600 CNAME c.third.example."},
	},
	{
		name: "end of chain", server: "127.53.13.1", qname: "c.third.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"c.third.example. 3600 A 192.0.2.13"},
	},
	{
		name: "cross-zone loop half", server: "127.53.12.1", qname: "loop.other.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"loop.other.test. 3600 CNAME loop.chain.example."},
	},
	{
		name: "empty non-terminal: NODATA", server: "127.53.10.1", qname: "b.c.plain.example.", qtype: dns.TypeA, aa: true,
		ns: []string{plainSOA},
	},
	{
		name: "empty non-terminal two up", server: "127.53.10.1", qname: "c.plain.example.", qtype: dns.TypeNS, aa: true,
		ns: []string{plainSOA},
	},
	{
		name: "below the empty non-terminal", server: "127.53.10.1", qname: "a.b.c.plain.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"a.b.c.plain.example. 3600 A 192.0.2.3"},
	},
	{
		name: "NXDOMAIN", server: "127.53.10.1", qname: "nx.plain.example.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
		ns: []string{plainSOA},
	},
	{
		name: "NODATA", server: "127.53.10.1", qname: "www.plain.example.", qtype: dns.TypeMX, aa: true,
		ns: []string{plainSOA},
	},
	{
		name: "DS at the apex of a zone served without its parent", server: "127.53.10.1", qname: "plain.example.", qtype: dns.TypeDS, aa: true,
		ns: []string{plainSOA},
	},
}

const dnameSOA = "dname.example. 300 SOA ns1.dname.example. hostmaster.dname.example. 2024010101 1800 900 604800 300"
const wildSOA = "wild.example. 300 SOA ns1.wild.example. hostmaster.wild.example. 2024010101 1800 900 604800 300"

// DNAME and wildcards.
var synthCases = []authCase{
	{
		name: "DNAME out of zone", server: "127.53.14.1", qname: "b.sub.dname.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"sub.dname.example. 3600 DNAME other.test.", "b.sub.dname.example. 3600 CNAME b.other.test."},
	},
	{
		name: "DNAME in zone, followed", server: "127.53.14.1", qname: "www.local.dname.example.", qtype: dns.TypeA, aa: true,
		answer: []string{
			"local.dname.example. 3600 DNAME real.dname.example.",
			"www.local.dname.example. 3600 CNAME www.real.dname.example.",
			"www.real.dname.example. 3600 A 192.0.2.14",
		},
	},
	{
		name: "DNAME in zone to a missing name", server: "127.53.14.1", qname: "x.local.dname.example.", qtype: dns.TypeA, aa: true,
		rcode: dns.RcodeNameError,
		answer: []string{
			"local.dname.example. 3600 DNAME real.dname.example.",
			"x.local.dname.example. 3600 CNAME x.real.dname.example.",
		},
		ns: []string{dnameSOA},
	},
	{
		name: "DNAME owner is not rewritten", server: "127.53.14.1", qname: "sub.dname.example.", qtype: dns.TypeTXT, aa: true,
		answer: []string{`sub.dname.example. 3600 TXT "the DNAME owner itself is not rewritten"`},
	},
	{
		name: "DNAME owner NODATA", server: "127.53.14.1", qname: "sub.dname.example.", qtype: dns.TypeA, aa: true,
		ns: []string{dnameSOA},
	},
	{
		name: "wildcard A", server: "127.53.15.1", qname: "anything.wild.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"anything.wild.example. 3600 A 192.0.2.80"},
	},
	{
		name: "wildcard two labels deep", server: "127.53.15.1", qname: "x.y.wild.example.", qtype: dns.TypeTXT, aa: true,
		answer: []string{`x.y.wild.example. 3600 TXT "wildcard"`},
	},
	{
		name: "wildcard NODATA", server: "127.53.15.1", qname: "anything.wild.example.", qtype: dns.TypeMX, aa: true,
		ns: []string{wildSOA},
	},
	{
		name: "existing name beats wildcard", server: "127.53.15.1", qname: "host.wild.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"host.wild.example. 3600 A 192.0.2.81"},
	},
	{
		name: "no synthesis below an existing name", server: "127.53.15.1", qname: "x.host.wild.example.", qtype: dns.TypeA, aa: true,
		rcode: dns.RcodeNameError, ns: []string{wildSOA},
	},
	{
		name: "ENT blocks the wildcard", server: "127.53.15.1", qname: "ent.wild.example.", qtype: dns.TypeA, aa: true,
		ns: []string{wildSOA},
	},
	{
		name: "no synthesis below an ENT", server: "127.53.15.1", qname: "x.ent.wild.example.", qtype: dns.TypeA, aa: true,
		rcode: dns.RcodeNameError, ns: []string{wildSOA},
	},
	{
		name: "wildcard CNAME followed in zone", server: "127.53.15.1", qname: "y.x.alias.wild.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"y.x.alias.wild.example. 3600 CNAME host.wild.example.", "host.wild.example. 3600 A 192.0.2.81"},
	},
	{
		name: "wildcard CNAME out of zone", server: "127.53.15.1", qname: "x.out.wild.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"x.out.wild.example. 3600 CNAME www.plain.example."},
	},
	{
		name: "wildcard with other types only", server: "127.53.15.1", qname: "x.nodata.wild.example.", qtype: dns.TypeA, aa: true,
		ns: []string{wildSOA},
	},
	{
		name: "the wildcard asked for literally", server: "127.53.15.1", qname: "*.wild.example.", qtype: dns.TypeA, aa: true,
		answer: []string{"*.wild.example. 3600 A 192.0.2.80"},
	},
	{
		name: "ENT above a wildcard", server: "127.53.15.1", qname: "alias.wild.example.", qtype: dns.TypeA, aa: true,
		ns: []string{wildSOA},
	},
}

func TestAuthoritative(t *testing.T) {
	n := defaultNet(t)
	for _, group := range []struct {
		name  string
		cases []authCase
	}{{"delegation", delegationCases}, {"leaf", leafCases}, {"synth", synthCases}} {
		for _, tc := range group.cases {
			t.Run(group.name+"/"+tc.name, func(t *testing.T) {
				r := exchange(t, n, "udp", tc.server, query(tc.qname, tc.qtype, 1232))
				checkReply(t, r, tc)
			})
		}
	}
}

func checkReply(t *testing.T, r *dns.Msg, tc authCase) {
	t.Helper()
	if got, want := r.Rcode, tc.rcode; got != want {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[got], dns.RcodeToString[want])
	}
	if got, want := r.Authoritative, tc.aa; got != want {
		t.Errorf("AA = %v, want %v", got, want)
	}
	if r.Truncated {
		t.Errorf("TC set, want clear")
	}
	for _, sec := range []struct {
		name      string
		got, want []string
	}{
		{"answer", rrs(t, r.Answer), rrs(t, tc.answer)},
		{"authority", rrs(t, r.Ns), rrs(t, tc.ns)},
		{"additional", rrs(t, r.Extra), rrs(t, tc.extra)},
	} {
		if !slices.Equal(sec.got, sec.want) {
			t.Errorf("%s:\n got  %s\n want %s", sec.name, strings.Join(sec.got, "\n      "), strings.Join(sec.want, "\n      "))
		}
	}
}

func TestReplyHeader(t *testing.T) {
	n := defaultNet(t)
	q := query("WwW.PlAiN.ExAmPlE.", dns.TypeA, 0)
	q.RecursionDesired = true
	q.Id = 4242
	r := exchange(t, n, "udp", "127.53.10.1", q)
	if got, want := r.Id, q.Id; got != want {
		t.Errorf("ID = %d, want %d", got, want)
	}
	if !r.Response || !r.RecursionDesired || r.RecursionAvailable {
		t.Errorf("QR, RD, RA = %v, %v, %v; want true, true, false", r.Response, r.RecursionDesired, r.RecursionAvailable)
	}
	if got, want := r.Question[0].Name, q.Question[0].Name; got != want {
		t.Errorf("question = %q, want %q (case kept)", got, want)
	}
	if got, want := r.Answer[0].Header().Name, q.Question[0].Name; got != want {
		t.Errorf("answer owner = %q, want %q (case kept, as NSD's compression does)", got, want)
	}
	if r.IsEdns0() != nil {
		t.Errorf("OPT in reply to a query without OPT")
	}

	q = query("www.plain.example.", dns.TypeA, 4096)
	q.Extra[0].(*dns.OPT).SetDo(true)
	r = exchange(t, n, "udp", "127.53.10.1", q)
	opt := r.IsEdns0()
	if opt == nil {
		t.Fatalf("no OPT in reply to a query with OPT")
	}
	if got, want := opt.UDPSize(), uint16(1232); got != want {
		t.Errorf("OPT size = %d, want %d", got, want)
	}
	if !opt.Do() {
		t.Errorf("DO not copied")
	}
}

func TestMalformedQueries(t *testing.T) {
	n := defaultNet(t)
	tests := []struct {
		name  string
		edit  func(q *dns.Msg)
		rcode int
	}{
		{"two questions", func(q *dns.Msg) { q.Question = append(q.Question, q.Question[0]) }, dns.RcodeFormatError},
		{"no question", func(q *dns.Msg) { q.Question = nil }, dns.RcodeFormatError},
		{"records in answer", func(q *dns.Msg) { q.Answer = []dns.RR{mustRR("x. 1 A 192.0.2.1")} }, dns.RcodeFormatError},
		{"opcode STATUS", func(q *dns.Msg) { q.Opcode = dns.OpcodeStatus }, dns.RcodeNotImplemented},
		{"class CH", func(q *dns.Msg) { q.Question[0].Qclass = dns.ClassCHAOS }, dns.RcodeRefused},
		{"AXFR", func(q *dns.Msg) { q.Question[0].Qtype = dns.TypeAXFR }, dns.RcodeRefused},
		{"EDNS version 1", func(q *dns.Msg) { q.SetEdns0(1232, false); q.Extra[0].(*dns.OPT).SetVersion(1) }, dns.RcodeBadVers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := query("www.plain.example.", dns.TypeA, 0)
			tc.edit(q)
			r := exchange(t, n, "tcp", "127.53.10.1", q)
			if got, want := r.Rcode, tc.rcode; got != want {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[got], dns.RcodeToString[want])
			}
			if len(r.Answer)+len(r.Ns) != 0 {
				t.Errorf("answer/authority not empty: %v", r)
			}
		})
	}
}

func TestTruncation(t *testing.T) {
	n := defaultNet(t)
	tests := []struct {
		name    string
		network string
		edns    uint16
		tc      bool
		answers int
	}{
		{"udp with EDNS 1232", "udp", 1232, true, 0},
		{"udp with EDNS 4096 is held to 1232", "udp", 4096, true, 0},
		{"udp without EDNS", "udp", 0, true, 0},
		{"tcp", "tcp", 1232, false, 10},
		{"tcp without EDNS", "tcp", 0, false, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, n, tc.network, "127.53.16.1", query("txt.big.example.", dns.TypeTXT, tc.edns))
			if got, want := r.Truncated, tc.tc; got != want {
				t.Errorf("TC = %v, want %v", got, want)
			}
			if got, want := len(r.Answer), tc.answers; got != want {
				t.Errorf("answers = %d, want %d", got, want)
			}
			if tc.tc && (len(r.Ns) != 0 || len(r.Extra) > 1) {
				t.Errorf("truncated reply has authority/additional: %v", r)
			}
			if got, want := r.IsEdns0() != nil, tc.edns != 0; got != want {
				t.Errorf("OPT present = %v, want %v", got, want)
			}
		})
	}
	r := exchange(t, n, "udp", "127.53.16.1", query("small.big.example.", dns.TypeTXT, 0))
	if r.Truncated || len(r.Answer) != 1 {
		t.Errorf("small TXT over udp: TC %v, %d answers; want false, 1", r.Truncated, len(r.Answer))
	}
}

func TestRootHints(t *testing.T) {
	n := defaultNet(t)
	want := []string{
		". 86400 NS a.root.hush.", ". 86400 NS b.root.hush.",
		"a.root.hush. 86400 A 127.53.0.1", "b.root.hush. 86400 A 127.53.0.2",
	}
	if got, want := rrs(t, n.RootHints()), rrs(t, want); !slices.Equal(got, want) {
		t.Errorf("RootHints() = %v, want %v", got, want)
	}
	var parsed []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(n.RootHintsText()), ".", "hints")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		parsed = append(parsed, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("RootHintsText() does not parse: %v", err)
	}
	if got, want := rrs(t, parsed), rrs(t, want); !slices.Equal(got, want) {
		t.Errorf("RootHintsText() parses to %v, want %v", got, want)
	}
}
