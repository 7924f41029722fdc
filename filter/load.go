package filter

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// Builder collects rules for a Policy. It is not safe for concurrent use.
type Builder struct {
	t       table
	data    map[dataKey][]dns.RR
	ptrs    map[string]bool // PTR owners already synthesised
	records int
	skipped int
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{data: make(map[dataKey][]dns.RR), ptrs: make(map[string]bool)}
}

// Build returns the Policy of the rules added so far. The Builder must not
// be used afterwards.
func (b *Builder) Build(opts Options) *Policy {
	b.t.compact()
	p := &Policy{t: b.t, data: b.data, opts: opts}
	p.stats = Stats{Names: len(b.t.entries), Records: b.records, Skipped: b.skipped, Bytes: b.t.bytes()}
	b.t, b.data = table{}, nil
	return p
}

// set records a rule for name (lower case, no trailing dot), keeping the
// stronger action when the name already has one.
func (b *Builder) set(name []byte, wild bool, a Action) (int, error) {
	idx, err := b.t.insert(name)
	if err != nil {
		return 0, err
	}
	e := &b.t.entries[idx]
	slot := &e.exact
	if wild {
		slot = &e.wild
	}
	if a.rank() > slot.rank() {
		*slot = a
	}
	return idx, nil
}

// canonical lowercases a domain name in place and strips its trailing dot,
// returning nil when it is not a plain host name (letters, digits, '-',
// '_', labels of 1 to 63 octets, at most 253 octets): blocklists are full
// of junk, and nothing else can be queried as a name anyway.
func canonical(name []byte) []byte {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > maxName {
		return nil
	}
	label := 0
	for i, c := range name {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case 'A' <= c && c <= 'Z':
			name[i] = c + 'a' - 'A'
		case c == '.':
			if label == 0 {
				return nil
			}
			label = -1
		default:
			return nil
		}
		label++
		if label > 63 {
			return nil
		}
	}
	return name
}

// hostsSkip are the names every hosts file carries for the machine
// itself; a blocklist in hosts format must not block them.
var hostsSkip = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true,
	"broadcasthost": true, "ip6-localhost": true, "ip6-loopback": true,
	"ip6-localnet": true, "ip6-mcastprefix": true, "ip6-allnodes": true,
	"ip6-allrouters": true, "ip6-allhosts": true, "0.0.0.0": true,
}

// AddBlocklist reads a blocklist and blocks every name in it and every
// name below it (as 1.1.1.3, NextDNS and AdGuard Home do). A line is one
// of
//
//	0.0.0.0 ads.example.com tracker.example.net   (hosts file; the address is ignored)
//	ads.example.com                                (one domain per line)
//	*.ads.example.com                              (the names below only)
//	||ads.example.com^                             (AdBlock; $important allowed)
//	@@||good.example.com^                          (AdBlock exception: passthru)
//
// Blank lines and comments (#, ! and [Adblock ...] headers) are ignored;
// any other line, such as an AdBlock rule with other modifiers or a URL
// pattern, is counted in Stats.Skipped. It returns the number of rules
// added.
func (b *Builder) AddBlocklist(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		added, err := b.blocklistLine(sc.Bytes())
		if err != nil {
			return n, err
		}
		n += added
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("filter: reading blocklist: %w", err)
	}
	return n, nil
}

func (b *Builder) blocklistLine(line []byte) (int, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' || line[0] == '!' || line[0] == '[' {
		return 0, nil
	}
	if bytes.HasPrefix(line, []byte("||")) || bytes.HasPrefix(line, []byte("@@||")) {
		return b.adblockLine(line)
	}
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = bytes.TrimSpace(line[:i])
	}
	first, rest := field(line)
	switch {
	case len(rest) == 0:
		return b.blockName(first)
	case isAddr(first):
		n := 0
		for f, rest := field(rest); len(f) > 0; f, rest = field(rest) {
			if c := canonical(f); c != nil && hostsSkip[string(c)] {
				continue
			}
			added, err := b.blockName(f)
			if err != nil {
				return n, err
			}
			n += added
		}
		return n, nil
	}
	b.skipped++
	return 0, nil
}

// field splits the first space-separated field off s, without the
// allocation of bytes.Fields (a million lines, a million slices).
func field(s []byte) (f, rest []byte) {
	s = bytes.TrimLeft(s, " \t")
	i := bytes.IndexAny(s, " \t")
	if i < 0 {
		return s, nil
	}
	return s[:i], bytes.TrimLeft(s[i:], " \t")
}

// isAddr reports whether f looks like an IPv4 or IPv6 address: the
// first field of a hosts-file line. It does not parse it (the address is
// ignored, and parsing a million of them costs a second).
func isAddr(f []byte) bool {
	sep := false
	for _, c := range f {
		switch {
		case c == '.' || c == ':':
			sep = true
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == '%':
		default:
			return false
		}
	}
	return sep
}

// blockName blocks a name and the names below it, or only the names below
// it when written *.name.
func (b *Builder) blockName(f []byte) (int, error) {
	wildOnly := bytes.HasPrefix(f, []byte("*."))
	if wildOnly {
		f = f[2:]
	}
	name := canonical(f)
	if name == nil {
		b.skipped++
		return 0, nil
	}
	if _, err := b.set(name, true, Block); err != nil {
		return 0, err
	}
	if !wildOnly {
		if _, err := b.set(name, false, Block); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

func (b *Builder) adblockLine(line []byte) (int, error) {
	action := Block
	if bytes.HasPrefix(line, []byte("@@")) {
		action, line = Passthru, line[2:]
	}
	line = line[2:] // "||"
	end := bytes.IndexByte(line, '^')
	if end < 0 {
		b.skipped++
		return 0, nil
	}
	rest := line[end+1:]
	if len(rest) > 0 && string(rest) != "|" && string(rest) != "$important" {
		// Other modifiers ($third-party, $client=...) restrict the rule
		// in ways a DNS resolver cannot see; AdGuard skips them too.
		b.skipped++
		return 0, nil
	}
	name := canonical(line[:end])
	if name == nil {
		b.skipped++
		return 0, nil
	}
	if _, err := b.set(name, false, action); err != nil {
		return 0, err
	}
	if _, err := b.set(name, true, action); err != nil {
		return 0, err
	}
	return 1, nil
}

// RPZ trigger labels of the kinds hush does not implement (RPZ draft §4):
// their rules are counted in Stats.Skipped.
var rpzUnsupported = []string{".rpz-ip", ".rpz-nsdname", ".rpz-nsip", ".rpz-client-ip"}

// AddRPZ reads a Response Policy Zone in zone-file format and adds its
// QNAME triggers. The zone's apex is the owner of its SOA record, which
// must come first (names without an $ORIGIN are relative to the root).
// Under the apex, owner "name" triggers on the name itself and "*.name" on
// the names below it, and the records say what to do:
//
//	CNAME .               NXDOMAIN
//	CNAME *.              NODATA
//	CNAME rpz-passthru.   resolve as usual
//	CNAME rpz-drop.       NXDOMAIN (hush has no silent drop)
//	CNAME rpz-tcp-only.   resolve as usual
//	anything else         local data: these records are the answer
//
// IP, NSDNAME, NSIP and client-IP triggers are skipped and counted.
func (b *Builder) AddRPZ(r io.Reader, file string) (int, error) {
	zp := dns.NewZoneParser(r, ".", file)
	zp.SetIncludeAllowed(false)
	apex := ""
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		if apex == "" {
			if h.Rrtype != dns.TypeSOA {
				return n, fmt.Errorf("filter: %s: RPZ zone does not start with its SOA record", file)
			}
			apex = strings.ToLower(h.Name)
			continue
		}
		owner := strings.ToLower(h.Name)
		if owner == apex {
			continue // the zone's own SOA and NS records
		}
		if !dns.IsSubDomain(apex, owner) {
			return n, fmt.Errorf("filter: %s: %s is outside the RPZ zone %s", file, h.Name, apex)
		}
		trigger := strings.TrimSuffix(owner, "."+apex)
		if apex == "." {
			trigger = strings.TrimSuffix(owner, ".")
		}
		if unsupportedTrigger(trigger) {
			b.skipped++
			continue
		}
		wild := strings.HasPrefix(trigger, "*.")
		if wild {
			trigger = trigger[2:]
		}
		name := canonical([]byte(trigger))
		if name == nil {
			b.skipped++
			continue
		}
		action := Local
		if c, ok := rr.(*dns.CNAME); ok {
			switch strings.ToLower(c.Target) {
			case ".":
				action = NXDomain
			case "*.":
				action = NoData
			case "rpz-passthru.", "rpz-tcp-only.":
				action = Passthru
			case "rpz-drop.":
				action = NXDomain
			}
		}
		idx, err := b.set(name, wild, action)
		if err != nil {
			return n, err
		}
		if action == Local {
			b.addData(idx, wild, rr)
		}
		n++
	}
	if err := zp.Err(); err != nil {
		return n, fmt.Errorf("filter: RPZ: %w", err)
	}
	if apex == "" {
		return n, fmt.Errorf("filter: %s: RPZ zone has no SOA record", file)
	}
	return n, nil
}

func unsupportedTrigger(t string) bool {
	for _, s := range rpzUnsupported {
		if strings.HasSuffix(t, s) || t == s[1:] {
			return true
		}
	}
	return false
}

func (b *Builder) addData(idx int, wild bool, rr dns.RR) {
	k := dataKey{idx: int32(idx), wild: wild}
	b.data[k] = append(b.data[k], rr)
	b.records++
}

// AddLocalData adds one record in zone-file presentation format
// ("printer.home.arpa. 300 IN A 192.168.1.9"), answered authoritatively
// for its owner (or, for an owner "*.name", every name below name). A
// name with local data gets no other answer: a type it has no record of
// is answered NOERROR with no records, as Unbound's local-data does.
func (b *Builder) AddLocalData(s string) error {
	rr, err := dns.NewRR(s)
	if err != nil {
		return fmt.Errorf("filter: local data %q: %w", s, err)
	}
	if rr == nil {
		return fmt.Errorf("filter: local data %q: no record", s)
	}
	h := rr.Header()
	if strings.TrimSpace(rr.String()) == strings.TrimSpace(h.String()) {
		return fmt.Errorf("filter: local data %q: no data", s)
	}
	if h.Class != dns.ClassINET {
		return fmt.Errorf("filter: local data %q: class must be IN", s)
	}
	owner := strings.ToLower(h.Name)
	wild := strings.HasPrefix(owner, "*.")
	if wild {
		owner = owner[2:]
	}
	name := canonical([]byte(owner))
	if name == nil {
		return fmt.Errorf("filter: local data %q: %q is not a host name", s, h.Name)
	}
	idx, err := b.set(name, wild, Local)
	if err != nil {
		return err
	}
	b.addData(idx, wild, rr)
	return nil
}

// AddHosts reads a hosts file ("ADDRESS NAME [ALIAS...]", # comments) and
// answers its names' A and AAAA questions from it, authoritatively, with
// TTL DefaultTTL, and the PTR questions of its addresses with the first
// name given for the address (as dnsmasq does). Unspecified addresses
// (0.0.0.0, ::) get no PTR record; link-local zones are dropped. It returns
// the number of names added.
func (b *Builder) AddHosts(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			if len(fields) == 1 {
				b.skipped++
			}
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			b.skipped++
			continue
		}
		addr = addr.WithZone("").Unmap()
		for i, f := range fields[1:] {
			added, err := b.hostsName(addr, f, i == 0)
			if err != nil {
				return n, err
			}
			if added {
				n++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("filter: reading hosts file: %w", err)
	}
	return n, nil
}

func (b *Builder) hostsName(addr netip.Addr, f string, first bool) (bool, error) {
	name := canonical([]byte(f))
	if name == nil {
		b.skipped++
		return false, nil
	}
	fqdn := string(name) + "."
	hdr := dns.RR_Header{Name: fqdn, Class: dns.ClassINET, Ttl: DefaultTTL}
	var rr dns.RR
	if addr.Is4() {
		hdr.Rrtype = dns.TypeA
		rr = &dns.A{Hdr: hdr, A: addr.AsSlice()}
	} else {
		hdr.Rrtype = dns.TypeAAAA
		rr = &dns.AAAA{Hdr: hdr, AAAA: addr.AsSlice()}
	}
	idx, err := b.set(name, false, Local)
	if err != nil {
		return false, err
	}
	b.addData(idx, false, rr)
	if !first || addr.IsUnspecified() {
		return true, nil
	}
	rev, err := dns.ReverseAddr(addr.String())
	if err != nil {
		return false, fmt.Errorf("filter: hosts address %s: %w", addr, err)
	}
	if b.ptrs[rev] {
		return true, nil
	}
	b.ptrs[rev] = true
	revName := canonical([]byte(rev))
	pidx, err := b.set(revName, false, Local)
	if err != nil {
		return false, err
	}
	b.addData(pidx, false, &dns.PTR{
		Hdr: dns.RR_Header{Name: rev, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: DefaultTTL},
		Ptr: fqdn,
	})
	return true, nil
}

// Config names the sources of a Policy.
type Config struct {
	Blocklists []string // files, AddBlocklist formats
	RPZ        []string // zone files
	Hosts      []string // hosts files
	LocalData  []string // records in presentation format
	Options
}

// Empty reports whether c has no source at all.
func (c Config) Empty() bool {
	return len(c.Blocklists)+len(c.RPZ)+len(c.Hosts)+len(c.LocalData) == 0
}

// Load builds the Policy of c, reading its files. Any unreadable file,
// bad RPZ zone or bad local-data record is an error naming the file or
// record, and no Policy; unparsable blocklist lines are only counted.
// It returns nil, nil for a Config with no source.
func Load(c Config) (*Policy, error) {
	if c.Empty() {
		return nil, nil
	}
	b := NewBuilder()
	// Local data first is not needed for precedence (ranks decide), but
	// its errors are the operator's typos: report them before reading
	// large files.
	for _, s := range c.LocalData {
		if err := b.AddLocalData(s); err != nil {
			return nil, err
		}
	}
	load := func(files []string, add func(io.Reader, string) error) error {
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return fmt.Errorf("filter: %w", err)
			}
			err = add(bufio.NewReaderSize(fh, 256*1024), f)
			fh.Close()
			if err != nil {
				return fmt.Errorf("%w (in %s)", err, f)
			}
		}
		return nil
	}
	if err := load(c.Hosts, func(r io.Reader, _ string) error { _, err := b.AddHosts(r); return err }); err != nil {
		return nil, err
	}
	if err := load(c.RPZ, func(r io.Reader, f string) error { _, err := b.AddRPZ(r, f); return err }); err != nil {
		return nil, err
	}
	if err := load(c.Blocklists, func(r io.Reader, _ string) error { _, err := b.AddBlocklist(r); return err }); err != nil {
		return nil, err
	}
	return b.Build(c.Options), nil
}
