package rpl

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Scenario is one parsed .rpl file.
type Scenario struct {
	// Name is the name Parse was given (usually the file name).
	Name string
	// Config holds the key/value pairs of the config part in file order,
	// values raw apart from comments and enclosing double quotes. Section
	// headers (Unbound's "server:", "stub-zone:"…) are not pairs: they
	// set the Section and Group of the pairs that follow.
	Config []KV
	// Testbound is set for Unbound's dialect (testbound): a config with
	// section headers. Its mock servers answer whatever the query's ID
	// and match a resolver's upstream queries at the step after the
	// QUERY that caused them.
	Testbound bool
	// Title is the text after SCENARIO_BEGIN.
	Title string
	// Ranges are the RANGE blocks in file order.
	Ranges []*Range
	// Steps are the STEPs in file order.
	Steps []*Step
	// Unknown lists keywords and lines the parser did not understand,
	// each prefixed with its line number; they are skipped, not fatal.
	Unknown []string
	// Warnings lists records and values that did not parse, each prefixed
	// with its line number. Entries keep the records that did parse.
	Warnings []string
}

// KV is one config pair, "key: value". A line may hold several pairs
// (Unbound's "forward-zone: name: "." forward-addr: 192.0.2.1").
type KV struct {
	Key, Value string
	Line       int
	// Section is the Unbound config section the pair is in ("server",
	// "stub-zone", "forward-zone"…), "" in Deckard's flat config.
	Section string
	// Group numbers the section headers: the pairs of one stub-zone
	// clause share it, the next clause has another.
	Group int
}

// Range scripts the answers of simulated servers for steps Start..End
// (inclusive).
type Range struct {
	Start, End int
	// Addresses are the servers the range answers for; empty means any.
	Addresses []netip.Addr
	Entries   []*Entry
	Line      int
}

// Step is one STEP of the scenario.
type Step struct {
	ID int
	// Type is QUERY, CHECK_ANSWER, TIME_PASSES, REPLY, CHECK_OUT_QUERY…
	Type string
	// Args are the words after the type, e.g. ["ELAPSE", "10"].
	Args []string
	// Elapse is the time a TIME_PASSES step moves the clock: ELAPSE
	// with (possibly decimal) seconds, or EVAL with an arithmetic
	// expression of integers as testbound writes it (${30*24*3600}).
	Elapse time.Duration
	// Unsupported says why Play cannot run the step (an EVAL of a
	// variable, say); "" when it can.
	Unsupported string
	// Entry is the step's message, nil if it has none.
	Entry *Entry
	Line  int
}

// Entry is one ENTRY_BEGIN…ENTRY_END block: a query to send, an answer to
// expect, or a template for a simulated server's reply.
type Entry struct {
	// Match lists the MATCH elements, lower case (qname, qtype, all…).
	Match []string
	// Adjust lists the ADJUST elements, lower case (copy_id, copy_query…).
	Adjust []string
	// Reply lists the raw REPLY (or FLAGS) words.
	Reply []string
	// Opcode and Rcode come from REPLY (defaults QUERY and NOERROR);
	// Rcode may be an extended rcode such as BADVERS.
	Opcode, Rcode int
	// Flags are the header flags from REPLY.
	Flags Flags
	// DO is the EDNS DNSSEC OK bit from REPLY.
	DO bool
	// EDNS holds the words of EDNS lines, if any.
	EDNS []string
	// Mandatory marks an entry the scenario requires to be used.
	Mandatory bool
	Question  []dns.Question
	Answer    []dns.RR
	Ns        []dns.RR
	Extra     []dns.RR
	// Raw is the decoded RAW block (or testbound's HEX_ANSWER_BEGIN
	// block), nil if there is none.
	Raw []byte
	// EDNSData is the decoded HEX_EDNSDATA_BEGIN block (testbound's raw
	// EDNS options), nil if there is none.
	EDNSData []byte
	Line     int
}

// Flags are the DNS header flags a REPLY line can set.
type Flags struct {
	QR, AA, TC, RD, RA, AD, CD bool
}

// Has reports whether the entry lists MATCH element m.
func (e *Entry) Has(m string) bool {
	for _, x := range e.Match {
		if x == m {
			return true
		}
	}
	return false
}

// HasAdjust reports whether the entry lists ADJUST element a.
func (e *Entry) HasAdjust(a string) bool {
	for _, x := range e.Adjust {
		if x == a {
			return true
		}
	}
	return false
}

// Groups returns the pairs of each clause of config section sec
// ("stub-zone", "forward-zone"), one slice per clause, in file order.
func (s *Scenario) Groups(sec string) [][]KV {
	var out [][]KV
	last := -1
	for _, kv := range s.Config {
		if kv.Section != sec {
			continue
		}
		if kv.Group != last {
			out = append(out, nil)
			last = kv.Group
		}
		out[len(out)-1] = append(out[len(out)-1], kv)
	}
	return out
}

// Value returns the first value of key k among the pairs kvs.
func Value(kvs []KV, k string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return "", false
}

// Values returns every value of key k among the pairs kvs.
func Values(kvs []KV, k string) []string {
	var vs []string
	for _, kv := range kvs {
		if kv.Key == k {
			vs = append(vs, kv.Value)
		}
	}
	return vs
}

// ConfigValue returns the first value of config key k.
func (s *Scenario) ConfigValue(k string) (string, bool) {
	for _, kv := range s.Config {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return "", false
}

// ConfigValues returns every value of config key k, in file order.
func (s *Scenario) ConfigValues(k string) []string {
	var vs []string
	for _, kv := range s.Config {
		if kv.Key == k {
			vs = append(vs, kv.Value)
		}
	}
	return vs
}

// ParseFile parses the scenario in the file at path.
func ParseFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rpl: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// maxLine bounds one line of a scenario; RAW blocks are the longest.
const maxLine = 1 << 20

// Parse reads a scenario. It is lenient: unknown keywords and records that
// do not parse are recorded in Unknown and Warnings, not returned as
// errors. It fails on unreadable input, a missing CONFIG_END, and on
// RANGE and STEP lines whose numbers do not parse.
func Parse(r io.Reader, name string) (*Scenario, error) {
	p := &parser{s: &Scenario{Name: name}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	for sc.Scan() {
		p.line++
		if err := p.handle(sc.Text()); err != nil {
			return nil, fmt.Errorf("rpl: %s:%d: %w", name, p.line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rpl: %s: %w", name, err)
	}
	if !p.configDone {
		return nil, fmt.Errorf("rpl: %s: no CONFIG_END", name)
	}
	if p.entry != nil {
		p.unknown("unterminated ENTRY_BEGIN")
		p.closeEntry()
	}
	return p.s, nil
}

type parser struct {
	s          *Scenario
	line       int
	configDone bool
	rng        *Range // open RANGE, if any
	step       *Step  // last STEP, if no RANGE is open
	entry      *Entry // open ENTRY, if any
	section    string // current SECTION of the open entry
	rawNext    bool   // the next line is RAW hex
	pending    string // RR text waiting for its closing parenthesis
	origin     string
	ttl        uint32
	hex        *[]byte // open HEX_ANSWER or HEX_EDNSDATA block, if any
	hexText    string  // its hex digits so far
	cfgSection string  // Unbound config section of the next pairs
	cfgGroup   int     // section headers seen
}

func (p *parser) unknown(s string) {
	p.s.Unknown = append(p.s.Unknown, fmt.Sprintf("%d: %s", p.line, s))
}

func (p *parser) warn(format string, a ...any) {
	p.s.Warnings = append(p.s.Warnings, fmt.Sprintf("%d: ", p.line)+fmt.Sprintf(format, a...))
}

func (p *parser) handle(line string) error {
	if !p.configDone {
		return p.config(line)
	}
	text := strings.TrimSpace(stripComment(line, false))
	if p.pending != "" {
		p.pending += " " + text
		if parenDepth(p.pending) <= 0 {
			rr := p.pending
			p.pending = ""
			p.record(rr)
		}
		return nil
	}
	if text == "" {
		return nil
	}
	if p.hex != nil {
		if text == "HEX_ANSWER_END" || text == "HEX_EDNSDATA_END" {
			b, err := hex.DecodeString(p.hexText)
			if err != nil {
				p.warn("%s: %v", text, err)
			} else {
				*p.hex = b
			}
			p.hex, p.hexText = nil, ""
			return nil
		}
		p.hexText += strings.Join(strings.Fields(text), "")
		return nil
	}
	if p.rawNext {
		p.rawNext = false
		b, err := hex.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			p.warn("RAW: %v", err)
		} else if p.entry != nil {
			p.entry.Raw = b
		}
		return nil
	}
	f := strings.Fields(text)
	kw := f[0]
	switch kw {
	case "SCENARIO_BEGIN":
		p.s.Title = strings.TrimSpace(strings.TrimPrefix(text, kw))
		return nil
	case "SCENARIO_END":
		return nil
	case "CONFIG_END":
		p.unknown("second CONFIG_END")
		return nil
	case "RANGE_BEGIN":
		return p.rangeBegin(f)
	case "RANGE_END":
		p.closeEntry()
		p.rng = nil
		return nil
	case "ADDRESS":
		if p.rng == nil || len(f) < 2 {
			p.unknown(text)
			return nil
		}
		p.address(f[1])
		return nil
	case "STEP":
		return p.stepBegin(f)
	case "ENTRY_BEGIN":
		p.closeEntry()
		p.entry = &Entry{Line: p.line}
		p.section, p.origin, p.ttl = "", ".", 3600
		return nil
	case "ENTRY_END":
		if p.entry == nil {
			p.unknown(text)
		}
		p.closeEntry()
		return nil
	}
	if p.entry == nil {
		p.unknown(text)
		return nil
	}
	return p.entryLine(text, f)
}

// config handles a line of the config part: "key: value" pairs, with ';'
// and '#' comments.
func (p *parser) config(line string) error {
	text := strings.TrimSpace(stripComment(line, true))
	if text == "" {
		return nil
	}
	if text == "CONFIG_END" {
		p.configDone = true
		return nil
	}
	var key string
	var vals []string
	haveKey := false
	flush := func() {
		if !haveKey {
			return
		}
		v := strings.Join(vals, " ")
		if len(vals) == 0 && configSections[key] {
			p.cfgSection = key
			p.cfgGroup++
			p.s.Testbound = true
			return
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		p.s.Config = append(p.s.Config, KV{Key: key, Value: strings.TrimSpace(v), Line: p.line, Section: p.cfgSection, Group: p.cfgGroup})
	}
	for _, t := range configTokens(text) {
		if k, ok := configKey(t); ok {
			flush()
			key, vals, haveKey = k, nil, true
			continue
		}
		if !haveKey {
			p.unknown(text)
			return nil
		}
		vals = append(vals, t)
	}
	if !haveKey {
		p.unknown(text)
		return nil
	}
	flush()
	return nil
}

// configSections are the clause headers of Unbound's config format.
var configSections = map[string]bool{
	"server": true, "stub-zone": true, "forward-zone": true, "auth-zone": true, "view": true,
	"rpz": true, "remote-control": true, "python": true, "dynlib": true, "dnstap": true,
	"cachedb": true, "ipset": true, "dnscrypt": true,
}

// configKey reports whether token t is a key, "name:", and returns the
// name. Values with colons (IPv6 addresses) never match: a key is a
// letter, then letters, digits, '-' and '_', then one colon.
func configKey(t string) (string, bool) {
	k, ok := strings.CutSuffix(t, ":")
	if !ok || k == "" || !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return "", false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return k, true
}

// configTokens splits a config line at white space outside double
// quotes; a quoted token keeps its quotes.
func configTokens(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, esc, in := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ' ' || c == '\t'):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			continue
		}
		cur.WriteByte(c)
		in = true
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func (p *parser) rangeBegin(f []string) error {
	p.closeEntry()
	if len(f) < 3 {
		return fmt.Errorf("RANGE_BEGIN needs two step numbers")
	}
	a, err1 := strconv.Atoi(f[1])
	b, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("RANGE_BEGIN %s %s: bad step number", f[1], f[2])
	}
	p.rng = &Range{Start: a, End: b, Line: p.line}
	p.step = nil
	p.s.Ranges = append(p.s.Ranges, p.rng)
	// Some files list the addresses on the RANGE_BEGIN line itself.
	for _, x := range f[3:] {
		p.address(x)
	}
	return nil
}

func (p *parser) address(x string) {
	a, err := netip.ParseAddr(x)
	if err != nil {
		p.warn("ADDRESS %q: %v", x, err)
		return
	}
	p.rng.Addresses = append(p.rng.Addresses, a.Unmap())
}

func (p *parser) stepBegin(f []string) error {
	p.closeEntry()
	if p.rng != nil {
		p.unknown("STEP inside an unclosed RANGE")
		p.rng = nil
	}
	if len(f) < 3 {
		return fmt.Errorf("STEP needs a number and a type")
	}
	id, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("STEP %s: bad number", f[1])
	}
	st := &Step{ID: id, Type: f[2], Args: f[3:], Line: p.line}
	if st.Type == "TIME_PASSES" {
		if err := timePasses(st); err != nil {
			return err
		}
	}
	p.step = st
	p.s.Steps = append(p.s.Steps, st)
	return nil
}

// timePasses reads a TIME_PASSES step's arguments: ELAPSE and seconds,
// decimal allowed (testbound's "ELAPSE 0.05"), or EVAL and an integer
// expression such as ${30*24*3600}. An EVAL of testbound variables
// (${$probe}) makes the step unsupported rather than the file unreadable.
func timePasses(st *Step) error {
	if len(st.Args) != 2 || st.Args[0] != "ELAPSE" && st.Args[0] != "EVAL" {
		return fmt.Errorf("TIME_PASSES wants ELAPSE seconds or EVAL ${expression}")
	}
	if st.Args[0] == "EVAL" {
		expr := strings.TrimSuffix(strings.TrimPrefix(st.Args[1], "${"), "}")
		secs, ok := evalInt(expr)
		if !ok || secs < 0 {
			st.Unsupported = "TIME_PASSES EVAL " + st.Args[1] + ": only integer arithmetic is supported"
			return nil
		}
		st.Elapse = time.Duration(secs) * time.Second
		return nil
	}
	secs, err := strconv.ParseFloat(st.Args[1], 64)
	if err != nil || secs < 0 || secs > 1<<40 {
		return fmt.Errorf("TIME_PASSES ELAPSE %s: bad seconds", st.Args[1])
	}
	st.Elapse = time.Duration(secs * float64(time.Second))
	return nil
}

// evalInt evaluates integers joined by +, - and * (with the usual
// precedence), the arithmetic testbound's EVAL steps use.
func evalInt(expr string) (int64, bool) {
	var sum int64
	for _, term := range splitKeep(expr, "+-") {
		sign := int64(1)
		if term[0] == '-' {
			sign, term = -1, term[1:]
		} else if term[0] == '+' {
			term = term[1:]
		}
		prod := int64(1)
		for _, f := range strings.Split(term, "*") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				return 0, false
			}
			prod *= n
		}
		sum += sign * prod
	}
	return sum, true
}

// splitKeep splits s before each byte in seps, keeping the separator at
// the start of the next part.
func splitKeep(s, seps string) []string {
	var out []string
	start := 0
	for i := 1; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// closeEntry attaches the open entry to its RANGE or STEP.
func (p *parser) closeEntry() {
	e := p.entry
	if e == nil {
		return
	}
	if p.pending != "" {
		p.warn("unbalanced parenthesis in %q", p.pending)
		p.pending = ""
	}
	p.entry, p.rawNext = nil, false
	switch {
	case p.rng != nil:
		p.rng.Entries = append(p.rng.Entries, e)
	case p.step != nil && p.step.Entry == nil:
		p.step.Entry = e
	default:
		p.s.Unknown = append(p.s.Unknown, fmt.Sprintf("%d: ENTRY outside a RANGE or STEP", e.Line))
	}
}

func (p *parser) entryLine(text string, f []string) error {
	e := p.entry
	switch f[0] {
	case "MATCH":
		for _, m := range f[1:] {
			m = strings.ToLower(m)
			if !knownMatch(m) {
				p.unknown("MATCH " + m)
			}
			e.Match = append(e.Match, m)
		}
	case "ADJUST":
		for _, a := range f[1:] {
			a = strings.ToLower(a)
			if !knownAdjust(a) {
				p.unknown("ADJUST " + a)
			}
			e.Adjust = append(e.Adjust, a)
		}
	case "REPLY", "FLAGS":
		// Deckard reads FLAGS as another name for REPLY.
		p.reply(f[1:])
	case "SECTION":
		if len(f) < 2 {
			p.unknown(text)
			return nil
		}
		switch s := strings.ToUpper(f[1]); s {
		case "QUESTION", "ANSWER", "AUTHORITY", "ADDITIONAL":
			p.section = s
		default:
			p.unknown(text)
			p.section = ""
		}
	case "RAW":
		p.rawNext = true
	case "HEX_ANSWER_BEGIN":
		// testbound: the whole message in hex, over several lines.
		p.hex, p.hexText = &e.Raw, ""
	case "HEX_EDNSDATA_BEGIN":
		p.hex, p.hexText = &e.EDNSData, ""
	case "MANDATORY":
		e.Mandatory = true
	case "EDNS":
		e.EDNS = append(e.EDNS, f[1:]...)
	case "TSIG":
		// Deckard signs with it; nothing here checks signatures.
	case "$ORIGIN":
		if len(f) == 2 {
			p.origin = dns.Fqdn(f[1])
		}
	case "$TTL":
		if len(f) == 2 {
			if t, err := strconv.ParseUint(f[1], 10, 32); err == nil {
				p.ttl = uint32(t)
			}
		}
	default:
		if p.section == "" {
			p.unknown(text)
			return nil
		}
		if p.section == "QUESTION" {
			p.question(f)
			return nil
		}
		if parenDepth(text) > 0 {
			p.pending = text
			return nil
		}
		p.record(text)
	}
	return nil
}

func knownMatch(m string) bool {
	switch m {
	case "opcode", "qtype", "qname", "qcase", "subdomain", "flags", "rcode", "question",
		"answer", "authority", "additional", "answertypes", "answerrrsigs", "edns", "nsid",
		"all", "ttl", "tcp", "udp":
		return true
	}
	return false
}

func knownAdjust(a string) bool {
	switch a {
	case "copy_id", "copy_query", "raw_id", "do_not_answer":
		return true
	}
	return false
}

func (p *parser) reply(words []string) {
	e := p.entry
	e.Reply = append(e.Reply, words...)
	for _, w := range words {
		u := strings.ToUpper(w)
		switch u {
		case "QR":
			e.Flags.QR = true
		case "AA":
			e.Flags.AA = true
		case "TC":
			e.Flags.TC = true
		case "RD":
			e.Flags.RD = true
		case "RA":
			e.Flags.RA = true
		case "AD":
			e.Flags.AD = true
		case "CD":
			e.Flags.CD = true
		case "DO":
			e.DO = true
		default:
			if rc, ok := dns.StringToRcode[u]; ok {
				e.Rcode = rc
			} else if op, ok := dns.StringToOpcode[u]; ok {
				e.Opcode = op
			} else {
				p.unknown("REPLY " + w)
			}
		}
	}
}

// question parses "<name> [class] <type>".
func (p *parser) question(f []string) {
	q := dns.Question{Name: p.absolute(f[0]), Qclass: dns.ClassINET}
	rest := f[1:]
	if len(rest) == 2 {
		c, ok := parseClass(rest[0])
		if !ok {
			p.warn("question class %q", rest[0])
			return
		}
		q.Qclass, rest = c, rest[1:]
	}
	if len(rest) != 1 {
		p.warn("question %q", strings.Join(f, " "))
		return
	}
	t, ok := parseType(rest[0])
	if !ok {
		p.warn("question type %q", rest[0])
		return
	}
	q.Qtype = t
	p.entry.Question = append(p.entry.Question, q)
}

// absolute makes a name absolute: Deckard parses names relative to the
// root unless $ORIGIN says otherwise.
func (p *parser) absolute(n string) string {
	if n == "@" {
		return p.origin
	}
	if dns.IsFqdn(n) {
		return n
	}
	if p.origin == "." {
		return n + "."
	}
	return n + "." + p.origin
}

func (p *parser) record(text string) {
	zp := dns.NewZoneParser(strings.NewReader(text), p.origin, p.s.Name)
	zp.SetDefaultTTL(p.ttl)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil || !ok {
		p.warn("record %q: %v", text, err)
		return
	}
	if err := normalize(rr); err != nil {
		p.warn("record %q: %v", text, err)
		return
	}
	e := p.entry
	switch p.section {
	case "ANSWER":
		e.Answer = append(e.Answer, rr)
	case "AUTHORITY":
		e.Ns = append(e.Ns, rr)
	case "ADDITIONAL":
		e.Extra = append(e.Extra, rr)
	}
}

// normalize mends what Deckard's dnspython accepts but miekg/dns cannot
// pack: type bitmaps out of order and base64 with surplus padding. It
// fails for a record that still does not pack.
func normalize(rr dns.RR) error {
	switch r := rr.(type) {
	case *dns.NSEC:
		r.TypeBitMap = sortTypes(r.TypeBitMap)
	case *dns.NSEC3:
		r.TypeBitMap = sortTypes(r.TypeBitMap)
	case *dns.CSYNC:
		r.TypeBitMap = sortTypes(r.TypeBitMap)
	case *dns.DNSKEY:
		r.PublicKey = fixBase64(r.PublicKey)
	case *dns.RRSIG:
		r.Signature = fixBase64(r.Signature)
	}
	buf := make([]byte, dns.Len(rr)+1)
	if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
		return fmt.Errorf("does not pack: %w", err)
	}
	return nil
}

func sortTypes(ts []uint16) []uint16 {
	slices.Sort(ts)
	return slices.Compact(ts)
}

// fixBase64 re-pads base64 text as padding rules want ("UNUSABLE==" is
// "UNUSABLE"); text that does not decode is returned unchanged.
func fixBase64(s string) string {
	raw := strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil {
		return s
	}
	return base64.StdEncoding.EncodeToString(b)
}

func parseClass(s string) (uint16, bool) {
	u := strings.ToUpper(s)
	if c, ok := dns.StringToClass[u]; ok {
		return c, true
	}
	if n, ok := strings.CutPrefix(u, "CLASS"); ok {
		v, err := strconv.ParseUint(n, 10, 16)
		return uint16(v), err == nil
	}
	return 0, false
}

func parseType(s string) (uint16, bool) {
	u := strings.ToUpper(s)
	if t, ok := dns.StringToType[u]; ok {
		return t, true
	}
	if n, ok := strings.CutPrefix(u, "TYPE"); ok {
		v, err := strconv.ParseUint(n, 10, 16)
		return uint16(v), err == nil
	}
	return 0, false
}

// stripComment cuts a line at the first ';' (and '#' when hash is set)
// outside double quotes.
func stripComment(s string, hash bool) string {
	quoted, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ';' || hash && c == '#'):
			return s[:i]
		}
	}
	return s
}

// parenDepth counts unclosed parentheses outside quotes.
func parenDepth(s string) int {
	d, quoted, esc := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == '(':
			d++
		case !quoted && c == ')':
			d--
		}
	}
	return d
}
