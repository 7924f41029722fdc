package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// writeReply prints a reply the way dig 9.18 does, so that people and
// scripts used to dig can read it: header, flags and counts, the OPT
// pseudosection (EDNS, EDE), the sections in zone-file form and a footer.
// It prints only what came back; it does not validate it.
func writeReply(w io.Writer, version string, o queryOptions, q *dns.Msg, res *queryResult, now time.Time) error {
	bw := bufio.NewWriter(w)
	if res.retriedTCP {
		fmt.Fprintln(bw, ";; Truncated, retrying in TCP mode.")
	}
	fmt.Fprintf(bw, "\n; <<>> hush %s <<>> %s %s @%s\n", version, o.name, dns.Type(o.qtype), o.server)
	fmt.Fprintln(bw, ";; Got answer:")
	writeMsg(bw, res.msg, q.RecursionDesired)
	fmt.Fprintf(bw, ";; Query time: %d msec\n", res.rtt.Milliseconds())
	fmt.Fprintf(bw, ";; SERVER: %s (%s)\n", res.server, res.proto)
	fmt.Fprintf(bw, ";; WHEN: %s\n", now.Format("Mon Jan 02 15:04:05 MST 2006"))
	fmt.Fprintf(bw, ";; MSG SIZE  rcvd: %d\n\n", res.size)
	return bw.Flush()
}

// writeMsg prints a message from the header line to the last section.
// rd says whether the query asked for recursion (for dig's warning).
func writeMsg(w io.Writer, m *dns.Msg, rd bool) {
	opcode, ok := dns.OpcodeToString[m.Opcode]
	if !ok {
		opcode = "RESERVED" + strconv.Itoa(m.Opcode)
	}
	rcode, ok := dns.RcodeToString[m.Rcode]
	if !ok {
		rcode = "RESERVED" + strconv.Itoa(m.Rcode)
	}
	fmt.Fprintf(w, ";; ->>HEADER<<- opcode: %s, status: %s, id: %d\n", opcode, rcode, m.Id)
	fmt.Fprintf(w, ";; flags:%s; QUERY: %d, ANSWER: %d, AUTHORITY: %d, ADDITIONAL: %d\n",
		flagString(m), len(m.Question), len(m.Answer), len(m.Ns), len(m.Extra))
	if rd && !m.RecursionAvailable {
		fmt.Fprintln(w, ";; WARNING: recursion requested but not available")
	}
	fmt.Fprintln(w)
	if opt := m.IsEdns0(); opt != nil {
		writeOPT(w, opt)
	}
	if len(m.Question) > 0 {
		fmt.Fprintln(w, ";; QUESTION SECTION:")
		for _, qq := range m.Question {
			name := ";" + qq.Name
			fmt.Fprintf(w, "%s%s%s\t%s\n", name, tabsTo(len(name), 32), dns.Class(qq.Qclass), dns.Type(qq.Qtype))
		}
		fmt.Fprintln(w)
	}
	writeSection(w, "ANSWER", m.Answer)
	writeSection(w, "AUTHORITY", m.Ns)
	writeSection(w, "ADDITIONAL", m.Extra)
}

// flagString lists the header flags set, in dig's order, each with a
// leading space.
func flagString(m *dns.Msg) string {
	var b strings.Builder
	for _, f := range []struct {
		set  bool
		name string
	}{
		{m.Response, "qr"},
		{m.Authoritative, "aa"},
		{m.Truncated, "tc"},
		{m.RecursionDesired, "rd"},
		{m.RecursionAvailable, "ra"},
		{m.Zero, "z"},
		{m.AuthenticatedData, "ad"},
		{m.CheckingDisabled, "cd"},
	} {
		if f.set {
			b.WriteString(" " + f.name)
		}
	}
	return b.String()
}

// writeOPT prints the OPT pseudosection: EDNS version, flags and UDP size,
// then one line per option. Extended DNS Errors (RFC 8914) come out as
// dig 9.18 prints them: "; EDE: 22 (No Reachable Authority): (text)".
func writeOPT(w io.Writer, opt *dns.OPT) {
	fmt.Fprintln(w, ";; OPT PSEUDOSECTION:")
	flags := ""
	if opt.Do() {
		flags = " do"
	}
	mbz := ""
	if z := opt.Z(); z != 0 {
		mbz = fmt.Sprintf(" MBZ: 0x%04x,", z)
	}
	fmt.Fprintf(w, "; EDNS: version: %d, flags:%s;%s udp: %d\n", opt.Version(), flags, mbz, opt.UDPSize())
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_EDE:
			fmt.Fprintf(w, "; EDE: %d", o.InfoCode)
			if name, ok := dns.ExtendedErrorCodeToString[o.InfoCode]; ok {
				fmt.Fprintf(w, " (%s)", name)
			}
			if o.ExtraText != "" {
				fmt.Fprintf(w, ": (%s)", printable(o.ExtraText))
			}
			fmt.Fprintln(w)
		case *dns.EDNS0_COOKIE:
			fmt.Fprintf(w, "; COOKIE: %s\n", o.Cookie)
		case *dns.EDNS0_NSID:
			raw := nsidBytes(o.Nsid)
			fmt.Fprintf(w, "; NSID: % x (\"%s\")\n", raw, printable(string(raw)))
		case *dns.EDNS0_PADDING:
			fmt.Fprintf(w, "; PADDING: %d bytes\n", len(o.Padding))
		default:
			fmt.Fprintf(w, "; OPT=%d: %s\n", o.Option(), printable(o.String()))
		}
	}
}

// nsidBytes decodes the hex form miekg/dns keeps an NSID in.
func nsidBytes(hexNSID string) []byte {
	b, err := hex.DecodeString(hexNSID)
	if err != nil {
		return []byte(hexNSID)
	}
	return b
}

// printable replaces control characters so that text from the network
// cannot move the cursor or rewrite the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '.'
		}
		return r
	}, s)
}

// writeSection prints one section in zone-file form; dig leaves empty
// sections and the OPT record out.
func writeSection(w io.Writer, name string, rrs []dns.RR) {
	header := false
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		if !header {
			fmt.Fprintf(w, ";; %s SECTION:\n", name)
			header = true
		}
		fmt.Fprintln(w, rrString(rr))
	}
	if header {
		fmt.Fprintln(w)
	}
}

// rrString is rr in zone-file form with the owner name padded to column
// 24 with tabs, as dig aligns it.
func rrString(rr dns.RR) string {
	s := rr.String()
	i := strings.IndexByte(s, '\t')
	if i < 0 {
		return s
	}
	return s[:i] + tabsTo(i, 24) + s[i+1:]
}

// tabsTo returns the tabs that move from column col to column stop (tab
// stops every 8 columns), at least one.
func tabsTo(col, stop int) string {
	n := 1
	for c := (col/8 + 1) * 8; c < stop; c += 8 {
		n++
	}
	return strings.Repeat("\t", n)
}

// rdata is an RR's data: its zone-file form without the owner, TTL, class
// and type. miekg/dns separates those four with tabs and escapes tabs in
// names, so the data is what follows the fourth tab.
func rdata(rr dns.RR) string {
	f := strings.SplitN(rr.String(), "\t", 5)
	if len(f) < 5 {
		return ""
	}
	return f[4]
}

// writeShort prints the answer section's data, one record per line, like
// dig +short. It prints nothing for an empty answer, whatever the rcode.
func writeShort(w io.Writer, m *dns.Msg) error {
	bw := bufio.NewWriter(w)
	for _, rr := range m.Answer {
		fmt.Fprintln(bw, rdata(rr))
	}
	return bw.Flush()
}
