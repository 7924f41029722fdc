package filter

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Mode is how a blocked name is answered.
type Mode uint8

// The modes. NXDOMAIN is the default: it is what Unbound's always_nxdomain
// and most home routers send, and unlike 0.0.0.0 it never sends a client
// connecting to its own host.
const (
	ModeNXDomain Mode = iota
	// ModeNoData answers NOERROR with no records.
	ModeNoData
	// ModeNull answers 0.0.0.0 to A and :: to AAAA, as 1.1.1.2 and
	// 1.1.1.3 do, and NOERROR with no records to other types.
	ModeNull
)

// ParseMode parses "nxdomain", "nodata" or "null".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "nxdomain", "":
		return ModeNXDomain, nil
	case "nodata":
		return ModeNoData, nil
	case "null", "0.0.0.0":
		return ModeNull, nil
	}
	return 0, fmt.Errorf("filter: block mode %q: want nxdomain, nodata or null", s)
}

func (m Mode) String() string {
	switch m {
	case ModeNoData:
		return "nodata"
	case ModeNull:
		return "null"
	}
	return "nxdomain"
}

// The Extended DNS Errors (RFC 8914 §4.16, §4.18) a blocked answer carries.
const (
	// EDEBlocked says the operator blocked the name (the default).
	EDEBlocked uint16 = dns.ExtendedErrorCodeBlocked
	// EDEFiltered says the name was blocked at the client's request,
	// as a filtering service the client chose (1.1.1.3) says.
	EDEFiltered uint16 = dns.ExtendedErrorCodeFiltered
)

// ParseEDE parses "blocked" (15) or "filtered" (17).
func ParseEDE(s string) (uint16, error) {
	switch strings.ToLower(s) {
	case "blocked", "15", "":
		return EDEBlocked, nil
	case "filtered", "17":
		return EDEFiltered, nil
	}
	return 0, fmt.Errorf("filter: blocked-answer EDE %q: want blocked or filtered", s)
}

// Options say how blocked names are answered.
type Options struct {
	// Mode answers Block rules (blocklists, RPZ rules other than
	// NXDOMAIN, NODATA and local data use their own answer).
	Mode Mode
	// EDE is sent with every blocked answer: EDEBlocked (zero means
	// that) or EDEFiltered.
	EDE uint16
	// TTL of the null addresses of ModeNull (zero means DefaultTTL).
	TTL uint32
}

// DefaultTTL is the TTL of synthesised answers: the null addresses of
// ModeNull and hosts-file records.
const DefaultTTL = 300

// Stats describe a Policy. They count rules, never matches.
type Stats struct {
	Names   int // distinct names with a rule
	Records int // local data records, hosts-file and PTR ones included
	Skipped int // blocklist lines and RPZ records not understood
	Bytes   int // memory held by the name table
}

// Policy is a built, immutable set of rules. A nil *Policy matches
// nothing. It is safe for concurrent use.
type Policy struct {
	t     table
	data  map[dataKey][]dns.RR // local data, by entry and exact/wild
	opts  Options
	stats Stats
}

type dataKey struct {
	idx  int32
	wild bool
}

// Match is the rule that applies to a name.
type Match struct {
	Action Action
	idx    int32
	wild   bool
}

// Stats returns the sizes of p.
func (p *Policy) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	return p.stats
}

// Match returns the rule for name (a domain name, with or without its
// trailing dot, any case): the rule for the name itself, else the
// wildcard rule of its closest enclosing name that has one (so an exact
// rule beats a wildcard, and a longer wildcard a shorter one, as RPZ
// says). It returns a Match with Action None when nothing matches, and
// allocates nothing.
func (p *Policy) Match(name string) Match {
	if p == nil || len(p.t.entries) == 0 {
		return Match{}
	}
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > maxName {
		return Match{}
	}
	var m Match
	h := uint64(fnvOffset)
	for i := len(name) - 1; i >= 0; i-- {
		h = (h ^ uint64(lowerTab[name[i]])) * fnvPrime
		if i > 0 && (name[i-1] != '.' || escaped(name, i-1)) {
			continue
		}
		idx := p.t.find(name[i:], fmix(h))
		if idx < 0 {
			continue
		}
		e := p.t.entries[idx]
		switch {
		case i == 0 && e.exact != None:
			m = Match{Action: e.exact, idx: int32(idx)}
		case i > 0 && e.wild != None:
			m = Match{Action: e.wild, idx: int32(idx), wild: true}
		}
	}
	return m
}

// escaped reports whether name[j] is escaped: preceded by an odd number
// of backslashes. miekg/dns writes a dot inside a label as "\.", and a
// suffix starting after it is not an enclosing name: "x\.ok.ads.example"
// is the label "x.ok" under ads.example, not a name under ok.ads.example
// (whose passthru rule would let it past a block of ads.example).
func escaped(name string, j int) bool {
	k := j
	for k > 0 && name[k-1] == '\\' {
		k--
	}
	return (j-k)%2 == 1
}

// Answer returns the answer for q when a rule other than Passthru matches
// its question, else nil: resolve it as usual. The answer carries the
// rcode, the AA flag (local data), the records and, for blocked names, an
// OPT record holding only the Extended DNS Error, as transport.Handler's
// contract expects; the transport completes the header.
func (p *Policy) Answer(q *dns.Msg) (*dns.Msg, Action) {
	if p == nil || len(q.Question) != 1 {
		return nil, None
	}
	qs := q.Question[0]
	if qs.Qclass != dns.ClassINET {
		return nil, None
	}
	m := p.Match(qs.Name)
	switch m.Action {
	case None, Passthru:
		return nil, m.Action
	case Local:
		return p.local(q, m), Local
	}
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer, r.Ns, r.Extra = nil, nil, nil
	switch {
	case m.Action == NXDomain, m.Action == Block && p.opts.Mode == ModeNXDomain:
		r.Rcode = dns.RcodeNameError
	case m.Action == Block && p.opts.Mode == ModeNull:
		hdr := dns.RR_Header{Name: qs.Name, Rrtype: qs.Qtype, Class: dns.ClassINET, Ttl: p.ttl()}
		switch qs.Qtype {
		case dns.TypeA:
			r.Answer = []dns.RR{&dns.A{Hdr: hdr, A: []byte{0, 0, 0, 0}}}
		case dns.TypeAAAA:
			r.Answer = []dns.RR{&dns.AAAA{Hdr: hdr, AAAA: make([]byte, 16)}}
		}
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: p.ede()}}
	r.Extra = []dns.RR{opt}
	return r, m.Action
}

func (p *Policy) ttl() uint32 {
	if p.opts.TTL == 0 {
		return DefaultTTL
	}
	return p.opts.TTL
}

func (p *Policy) ede() uint16 {
	if p.opts.EDE == 0 {
		return EDEBlocked
	}
	return p.opts.EDE
}

// local answers from local data: the records of the question's type (all
// of them for ANY), else a CNAME (not followed: the client's resolver
// library or the name's owner does that), else NOERROR with no records.
// Wildcard records take the query's name as owner.
func (p *Policy) local(q *dns.Msg, m Match) *dns.Msg {
	qs := q.Question[0]
	rrs := p.data[dataKey{idx: m.idx, wild: m.wild}]
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer, r.Ns, r.Extra = nil, nil, nil
	r.Authoritative = true
	var cname dns.RR
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		if t == qs.Qtype || qs.Qtype == dns.TypeANY {
			r.Answer = append(r.Answer, owned(rr, qs.Name, m.wild))
		} else if t == dns.TypeCNAME {
			cname = rr
		}
	}
	if len(r.Answer) == 0 && cname != nil {
		r.Answer = []dns.RR{owned(cname, qs.Name, m.wild)}
	}
	return r
}

// owned returns rr, or for a wildcard rule a copy owned by name. Exact
// records are shared: the transport never modifies a handler's records.
func owned(rr dns.RR, name string, wild bool) dns.RR {
	if !wild {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Name = name
	return c
}
