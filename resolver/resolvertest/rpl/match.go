package rpl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Mismatch compares a message against entry e by e's MATCH elements and
// returns "" when they all hold, else why not. network is the transport the
// message came over ("udp", "tcp" or "" when unknown). Besides Deckard's
// elements it knows ttl (section comparisons then include TTLs) and
// tcp/udp; nsid and unknown elements are ignored (the parser has recorded
// the unknown ones).
func Mismatch(e *Entry, m *dns.Msg, network string) string {
	ttl := e.Has("ttl")
	for _, el := range e.Match {
		els := []string{el}
		switch el {
		case "all":
			// rcode before flags: a failure then names the more
			// telling difference.
			els = []string{"opcode", "qtype", "qname", "rcode", "flags", "answer", "authority", "additional"}
		case "question":
			els = []string{"qtype", "qname"}
		}
		for _, x := range els {
			if why := mismatch1(e, m, x, network, ttl); why != "" {
				return why
			}
		}
	}
	return ""
}

func mismatch1(e *Entry, m *dns.Msg, el, network string, ttl bool) string {
	switch el {
	case "opcode":
		if m.Opcode != e.Opcode {
			return fmt.Sprintf("opcode: got %s, want %s", dns.OpcodeToString[m.Opcode], dns.OpcodeToString[e.Opcode])
		}
	case "qtype", "qname", "qcase":
		// Deckard: two empty questions match, one empty one does not.
		if len(e.Question) == 0 && len(m.Question) == 0 {
			return ""
		}
		if len(e.Question) == 0 || len(m.Question) == 0 {
			return fmt.Sprintf("%s: got %d questions, want %d", el, len(m.Question), len(e.Question))
		}
		got, want := m.Question[0], e.Question[0]
		ok := false
		switch el {
		case "qtype":
			ok = got.Qtype == want.Qtype
		case "qname":
			ok = strings.EqualFold(got.Name, want.Name)
		case "qcase":
			ok = got.Name == want.Name
		}
		if !ok {
			return fmt.Sprintf("%s: got %s %s, want %s %s", el, got.Name, dns.Type(got.Qtype), want.Name, dns.Type(want.Qtype))
		}
	case "subdomain":
		if len(e.Question) == 0 {
			return ""
		}
		got := "."
		if len(m.Question) > 0 {
			got = m.Question[0].Name
		}
		if !dns.IsSubDomain(e.Question[0].Name, got) {
			return fmt.Sprintf("subdomain: got %s, want under %s", got, e.Question[0].Name)
		}
	case "flags":
		if got := flagsOf(m); got != e.Flags {
			return fmt.Sprintf("flags: got %s, want %s", got, e.Flags)
		}
	case "rcode":
		if got := m.Rcode; got != e.Rcode {
			return fmt.Sprintf("rcode: got %s, want %s", rcodeString(got), rcodeString(e.Rcode))
		}
	case "answer":
		return sectionMismatch("answer", m.Answer, e.Answer, ttl)
	case "authority":
		return sectionMismatch("authority", m.Ns, e.Ns, ttl)
	case "additional":
		return sectionMismatch("additional", withoutOPT(m.Extra), withoutOPT(e.Extra), ttl)
	case "answertypes", "answerrrsigs":
		got, want := typeSet(m.Answer, el == "answertypes"), typeSet(e.Answer, el == "answertypes")
		if got != want {
			return fmt.Sprintf("%s: got %s, want %s", el, got, want)
		}
	case "tcp", "udp":
		if network != "" && network != el {
			return fmt.Sprintf("transport: got %s, want %s", network, el)
		}
	case "edns":
		wantOn, wantVer, wantSize := ednsOf(e)
		o := m.IsEdns0()
		switch {
		case o == nil && wantOn:
			return "edns: got none"
		case o != nil && !wantOn:
			return "edns: got EDNS, want none"
		case o != nil && (o.Version() != wantVer || o.UDPSize() != wantSize):
			return fmt.Sprintf("edns: got version %d payload %d, want %d %d", o.Version(), o.UDPSize(), wantVer, wantSize)
		}
	}
	return ""
}

// ednsOf is the EDNS an entry states: version 0 and payload 4096 unless
// an EDNS line says otherwise ("EDNS version payload"); payload 0 means
// no EDNS at all.
func ednsOf(e *Entry) (on bool, version uint8, payload uint16) {
	version, payload = 0, 4096
	w := e.EDNS
	if len(w) > 0 {
		if v, err := strconv.ParseUint(w[0], 10, 8); err == nil {
			version, w = uint8(v), w[1:]
		}
	}
	if len(w) > 0 {
		if v, err := strconv.ParseUint(w[0], 10, 16); err == nil {
			payload = uint16(v)
		}
	}
	return payload != 0, version, payload
}

// typeSet lists the types in a section, RRSIGs by the type they cover,
// sorted; plain leaves RRSIGs out.
func typeSet(rrs []dns.RR, plain bool) string {
	seen := map[string]bool{}
	for _, rr := range rrs {
		t := dns.Type(rr.Header().Rrtype).String()
		if sig, ok := rr.(*dns.RRSIG); ok {
			if plain {
				continue
			}
			t = "RRSIG(" + dns.Type(sig.TypeCovered).String() + ")"
		}
		seen[t] = true
	}
	return strings.Join(slices.Sorted(maps.Keys(seen)), " ")
}

func rcodeString(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func flagsOf(m *dns.Msg) Flags {
	return Flags{QR: m.Response, AA: m.Authoritative, TC: m.Truncated, RD: m.RecursionDesired,
		RA: m.RecursionAvailable, AD: m.AuthenticatedData, CD: m.CheckingDisabled}
}

// String lists the set flags, e.g. "QR RD RA".
func (f Flags) String() string {
	var b []string
	for _, x := range []struct {
		on   bool
		name string
	}{{f.QR, "QR"}, {f.AA, "AA"}, {f.TC, "TC"}, {f.RD, "RD"}, {f.RA, "RA"}, {f.AD, "AD"}, {f.CD, "CD"}} {
		if x.on {
			b = append(b, x.name)
		}
	}
	if len(b) == 0 {
		return "(none)"
	}
	return strings.Join(b, " ")
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// sectionMismatch compares two sections as multisets: owner names without
// regard to case, TTLs only when ttl is set, order never.
func sectionMismatch(name string, got, want []dns.RR, ttl bool) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%s: got %d records, want %d\ngot:\n%s\nwant:\n%s", name, len(got), len(want), rrList(got), rrList(want))
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || !sameRR(g, w) || ttl && g.Header().Ttl != w.Header().Ttl {
				continue
			}
			used[i], found = true, true
			break
		}
		if !found {
			return fmt.Sprintf("%s: missing %s\ngot:\n%s", name, w, rrList(got))
		}
	}
	return ""
}

// sameRR reports whether two records are the same apart from TTL and the
// case of names, as Deckard compares them: dns.IsDuplicate, or the same
// wire form, which catches presentation forms that differ only in case
// (an NSEC3 next hashed owner in base32hex, hex digests).
func sameRR(a, b dns.RR) bool {
	if dns.IsDuplicate(a, b) {
		return true
	}
	if a.Header().Rrtype != b.Header().Rrtype || !strings.EqualFold(a.Header().Name, b.Header().Name) {
		return false
	}
	wire := func(rr dns.RR) []byte {
		rr = dns.Copy(rr)
		rr.Header().Name, rr.Header().Ttl = strings.ToLower(rr.Header().Name), 0
		buf := make([]byte, dns.Len(rr)+1)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	wa, wb := wire(a), wire(b)
	return wa != nil && bytes.Equal(wa, wb)
}

func rrList(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString("\t")
		b.WriteString(rr.String())
		b.WriteString("\n")
	}
	return b.String()
}

// Reply builds the answer a simulated server gives to q from template e:
// header and sections from the entry, then ADJUST copy_id (ID and the
// query's spelling of the name), copy_query (the whole question) and, for
// RAW entries, raw_id. It returns an error for a RAW block that does not
// unpack, as a real exchanger would fail on such a datagram.
func Reply(e *Entry, q *dns.Msg) (*dns.Msg, error) {
	if e.Raw != nil {
		b := append([]byte(nil), e.Raw...)
		if e.HasAdjust("raw_id") && len(b) >= 2 {
			binary.BigEndian.PutUint16(b, q.Id)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			return nil, fmt.Errorf("rpl: raw reply: %w", err)
		}
		return r, nil
	}
	r := Message(e)
	if e.HasAdjust("copy_id") {
		r.Id = q.Id
		if len(r.Question) > 0 && len(q.Question) > 0 {
			r.Question[0].Name = q.Question[0].Name
		}
	}
	if e.HasAdjust("copy_query") {
		r.Question = append([]dns.Question(nil), q.Question...)
	}
	// Deckard mirrors the query's EDNS (version and flags, DO included)
	// rather than the entry's; an extended rcode needs OPT regardless.
	r.Extra = withoutOPT(r.Extra)
	if qo := q.IsEdns0(); qo != nil || e.Rcode > 0xF {
		r.SetEdns0(replyPayload, qo != nil && qo.Do())
		if qo != nil {
			r.IsEdns0().SetVersion(qo.Version())
		}
	}
	return r, nil
}

// replyPayload is the EDNS payload size of simulated servers' replies
// (dnspython's default, which Deckard uses).
const replyPayload = 1232

// Message turns an entry into a message: opcode, rcode, flags, question,
// copies of the records and, as in Deckard, an OPT record (version 0,
// payload 4096, DO from REPLY, unless an EDNS line says otherwise). The ID
// is zero.
func Message(e *Entry) *dns.Msg {
	m := &dns.Msg{}
	m.Opcode, m.Rcode = e.Opcode, e.Rcode
	f := e.Flags
	m.Response, m.Authoritative, m.Truncated, m.RecursionDesired = f.QR, f.AA, f.TC, f.RD
	m.RecursionAvailable, m.AuthenticatedData, m.CheckingDisabled = f.RA, f.AD, f.CD
	m.Question = append([]dns.Question(nil), e.Question...)
	m.Answer = copyRRs(e.Answer)
	m.Ns = copyRRs(e.Ns)
	m.Extra = copyRRs(e.Extra)
	if on, ver, size := ednsOf(e); (on || e.Rcode > 0xF) && m.IsEdns0() == nil {
		if size < 512 {
			size = 512
		}
		m.SetEdns0(size, e.DO)
		m.IsEdns0().SetVersion(ver)
	}
	return m
}

func copyRRs(rrs []dns.RR) []dns.RR {
	if len(rrs) == 0 {
		return nil
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}
