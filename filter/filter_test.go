package filter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func build(t *testing.T, blocklist, rpz string, local []string, hosts string) *Policy {
	t.Helper()
	b := NewBuilder()
	for _, s := range local {
		if err := b.AddLocalData(s); err != nil {
			t.Fatal(err)
		}
	}
	if hosts != "" {
		if _, err := b.AddHosts(strings.NewReader(hosts)); err != nil {
			t.Fatal(err)
		}
	}
	if rpz != "" {
		if _, err := b.AddRPZ(strings.NewReader(rpz), "test.rpz"); err != nil {
			t.Fatal(err)
		}
	}
	if blocklist != "" {
		if _, err := b.AddBlocklist(strings.NewReader(blocklist)); err != nil {
			t.Fatal(err)
		}
	}
	return b.Build(Options{})
}

const blocklist = `# hosts format
0.0.0.0 ads.example.com tracker.example.net # trailing comment
127.0.0.1 localhost
::1 ip6-localhost
:: v6.example.org
[Adblock Plus 2.0]
! AdBlock comment
||adblock.example^
||important.example^$important
||thirdparty.example^$third-party
@@||ok.ads.example.com^
plain.example
*.below.example
Mixed.CASE.Example.
bad..name
not a rule at all
/regexp/
`

func TestBlocklistFormats(t *testing.T) {
	p := build(t, blocklist, "", nil, "")
	for _, tc := range []struct {
		name string
		want Action
	}{
		{"ads.example.com.", Block},
		{"ADS.Example.COM", Block},
		{"x.y.ads.example.com.", Block},
		{"example.com.", None},
		{"tracker.example.net.", Block},
		{"v6.example.org.", Block},
		{"localhost.", None},
		{"ip6-localhost.", None},
		{"adblock.example.", Block},
		{"sub.adblock.example.", Block},
		{"important.example.", Block},
		{"thirdparty.example.", None},
		{"ok.ads.example.com.", Passthru},
		{"a.ok.ads.example.com.", Passthru},
		{"plain.example.", Block},
		{"below.example.", None},
		{"x.below.example.", Block},
		{"mixed.case.example.", Block},
		{"notads.example.com.", None},
		// An escaped dot is part of a label (the wire label "x.ok"
		// under ads.example.com): no suffix starts after it.
		{`x\.ok.ads.example.com.`, Block},
		{`x\.ads.example.com.`, None},
		{`x\\.ads.example.com.`, Block},
		{`x\\\.ads.example.com.`, None},
		{`x\046ok.ads.example.com.`, Block},
		{"com.", None},
		{".", None},
		{"", None},
	} {
		if got := p.Match(tc.name).Action; got != tc.want {
			t.Errorf("Match(%q): got %v; want %v", tc.name, got, tc.want)
		}
	}
	// bad..name, "not a rule at all", /regexp/ and $third-party.
	if got, want := p.Stats().Skipped, 4; got != want {
		t.Errorf("Skipped: got %d; want %d", got, want)
	}
}

const rpzZone = `$ORIGIN rpz.example.
$TTL 60
@ SOA ns.rpz.example. hostmaster.rpz.example. 1 3600 600 86400 60
@ NS ns.rpz.example.
nx.test CNAME .
*.nx.test CNAME .
nodata.test CNAME *.
pass.nx.test CNAME rpz-passthru.
drop.test CNAME rpz-drop.
local.test A 192.0.2.1
local.test AAAA 2001:db8::1
*.wild.test A 192.0.2.2
alias.test CNAME target.example.
32.1.2.0.192.rpz-ip CNAME .
ns.bad.rpz-nsdname CNAME .
`

func TestRPZ(t *testing.T) {
	p := build(t, "", rpzZone, nil, "")
	for _, tc := range []struct {
		name string
		want Action
	}{
		{"nx.test.", NXDomain},
		{"a.nx.test.", NXDomain},
		{"pass.nx.test.", Passthru},
		{"x.pass.nx.test.", NXDomain}, // only *.nx.test covers it
		{"nodata.test.", NoData},
		{"x.nodata.test.", None},
		{"drop.test.", NXDomain},
		{"local.test.", Local},
		{"wild.test.", None},
		{"a.b.wild.test.", Local},
		{"test.", None},
		{"rpz.example.", None},
		{"ns.rpz.example.", None},
	} {
		if got := p.Match(tc.name).Action; got != tc.want {
			t.Errorf("Match(%q): got %v; want %v", tc.name, got, tc.want)
		}
	}
	if got, want := p.Stats().Skipped, 2; got != want {
		t.Errorf("Skipped (rpz-ip, rpz-nsdname): got %d; want %d", got, want)
	}
}

func TestRPZErrors(t *testing.T) {
	for _, tc := range []struct{ name, zone, want string }{
		{"no SOA first", "$ORIGIN rpz.\n$TTL 60\nx CNAME .\n", "does not start with its SOA"},
		{"empty", "", "no SOA"},
		{"outside", "$ORIGIN rpz.\n$TTL 60\n@ SOA ns. h. 1 1 1 1 1\nx.other. CNAME .\n", "outside the RPZ zone"},
		{"syntax", "$ORIGIN rpz.\n@ SOA ns. h. 1 1 1 1 1\nx CNAME\n", "RPZ"},
	} {
		_, err := NewBuilder().AddRPZ(strings.NewReader(tc.zone), "z")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func query(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	return q
}

// answerCase is a CoreDNS-style expectation: rcode, records as zone-file
// strings, and the EDE code (-1 for no OPT record at all).
type answerCase struct {
	qname  string
	qtype  uint16
	action Action
	rcode  int
	answer []string
	ede    int
}

func checkAnswer(t *testing.T, p *Policy, tc answerCase) {
	t.Helper()
	r, action := p.Answer(query(tc.qname, tc.qtype))
	if action != tc.action {
		t.Errorf("%s %s: action %v; want %v", tc.qname, dns.TypeToString[tc.qtype], action, tc.action)
	}
	if r == nil {
		if tc.action != None && tc.action != Passthru {
			t.Errorf("%s %s: no answer", tc.qname, dns.TypeToString[tc.qtype])
		}
		return
	}
	if r.Rcode != tc.rcode {
		t.Errorf("%s %s: rcode %s; want %s", tc.qname, dns.TypeToString[tc.qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
	}
	var got []string
	for _, rr := range r.Answer {
		got = append(got, rr.String())
	}
	var want []string
	for _, s := range tc.answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, rr.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s %s: answer\n%s\nwant\n%s", tc.qname, dns.TypeToString[tc.qtype], strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ede := -1
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede = int(e.InfoCode)
			}
		}
	}
	if ede != tc.ede {
		t.Errorf("%s %s: EDE %d; want %d", tc.qname, dns.TypeToString[tc.qtype], ede, tc.ede)
	}
}

func TestAnswerModes(t *testing.T) {
	for _, tc := range []struct {
		opts  Options
		cases []answerCase
	}{
		{Options{}, []answerCase{
			{"ads.example.com.", dns.TypeA, Block, dns.RcodeNameError, nil, 15},
			{"ok.ads.example.com.", dns.TypeA, Passthru, 0, nil, -1},
			{"example.com.", dns.TypeA, None, 0, nil, -1},
		}},
		{Options{Mode: ModeNoData, EDE: EDEFiltered}, []answerCase{
			{"ads.example.com.", dns.TypeA, Block, dns.RcodeSuccess, nil, 17},
		}},
		{Options{Mode: ModeNull, TTL: 60}, []answerCase{
			{"ads.example.com.", dns.TypeA, Block, dns.RcodeSuccess, []string{"ads.example.com. 60 IN A 0.0.0.0"}, 15},
			{"Ads.Example.com.", dns.TypeAAAA, Block, dns.RcodeSuccess, []string{"Ads.Example.com. 60 IN AAAA ::"}, 15},
			{"ads.example.com.", dns.TypeMX, Block, dns.RcodeSuccess, nil, 15},
			// RPZ's own verdicts ignore the mode.
			{"nx.test.", dns.TypeA, NXDomain, dns.RcodeNameError, nil, 15},
			{"nodata.test.", dns.TypeA, NoData, dns.RcodeSuccess, nil, 15},
		}},
	} {
		b := NewBuilder()
		if _, err := b.AddBlocklist(strings.NewReader(blocklist)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AddRPZ(strings.NewReader(rpzZone), "z"); err != nil {
			t.Fatal(err)
		}
		p := b.Build(tc.opts)
		for _, c := range tc.cases {
			checkAnswer(t, p, c)
		}
	}
}

const hostsFile = `# /etc/hosts
127.0.0.1	localhost
192.168.1.9	printer.home.arpa printer
192.168.1.10	nas.home.arpa
192.168.1.11	printer.home.arpa
fe80::1%eth0	router.home.arpa
0.0.0.0	blocked.example
bogus
`

func TestLocalDataAndHosts(t *testing.T) {
	p := build(t, "0.0.0.0 printer.home.arpa\n0.0.0.0 home.arpa\n", rpzZone, []string{
		"tv.home.arpa. 300 IN A 192.168.1.20",
		"tv.home.arpa. 300 IN TXT \"living room\"",
		"*.dev.home.arpa. 60 IN A 192.168.1.30",
		"www.home.arpa. 60 IN CNAME nas.home.arpa.",
	}, hostsFile)
	for _, c := range []answerCase{
		{"tv.home.arpa.", dns.TypeA, Local, 0, []string{"tv.home.arpa. 300 IN A 192.168.1.20"}, -1},
		{"TV.home.arpa.", dns.TypeTXT, Local, 0, []string{"tv.home.arpa. 300 IN TXT \"living room\""}, -1},
		{"tv.home.arpa.", dns.TypeAAAA, Local, 0, nil, -1},
		{"a.dev.home.arpa.", dns.TypeA, Local, 0, []string{"a.dev.home.arpa. 60 IN A 192.168.1.30"}, -1},
		{"www.home.arpa.", dns.TypeA, Local, 0, []string{"www.home.arpa. 60 IN CNAME nas.home.arpa."}, -1},
		// Local data beats the blocklist entry for the same name.
		{"printer.home.arpa.", dns.TypeA, Local, 0, []string{"printer.home.arpa. 300 IN A 192.168.1.9", "printer.home.arpa. 300 IN A 192.168.1.11"}, -1},
		{"printer.", dns.TypeA, Local, 0, []string{"printer. 300 IN A 192.168.1.9"}, -1},
		{"9.1.168.192.in-addr.arpa.", dns.TypePTR, Local, 0, []string{"9.1.168.192.in-addr.arpa. 300 IN PTR printer.home.arpa."}, -1},
		{"11.1.168.192.in-addr.arpa.", dns.TypePTR, Local, 0, []string{"11.1.168.192.in-addr.arpa. 300 IN PTR printer.home.arpa."}, -1},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa.", dns.TypePTR, Local, 0, []string{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa. 300 IN PTR router.home.arpa."}, -1},
		{"router.home.arpa.", dns.TypeAAAA, Local, 0, []string{"router.home.arpa. 300 IN AAAA fe80::1"}, -1},
		{"blocked.example.", dns.TypeA, Local, 0, []string{"blocked.example. 300 IN A 0.0.0.0"}, -1},
		{"0.0.0.0.in-addr.arpa.", dns.TypePTR, None, 0, nil, -1},
		{"other.home.arpa.", dns.TypeA, Block, dns.RcodeNameError, nil, 15},
		{"local.test.", dns.TypeANY, Local, 0, []string{"local.test.rpz.example. 60 IN A 192.0.2.1", "local.test.rpz.example. 60 IN AAAA 2001:db8::1"}, -1},
		{"x.wild.test.", dns.TypeA, Local, 0, []string{"x.wild.test. 60 IN A 192.0.2.2"}, -1},
	} {
		checkAnswer(t, p, c)
	}
	// "bogus" in the hosts file, rpz-ip and rpz-nsdname in the RPZ.
	if got, want := p.Stats().Skipped, 3; got != want {
		t.Errorf("Skipped: got %d; want %d", got, want)
	}
}

func TestLocalDataErrors(t *testing.T) {
	for _, s := range []string{"", "x. 300 IN A", "x. 300 CH TXT \"a\"", "bad_name!. 300 IN A 192.0.2.1"} {
		if err := NewBuilder().AddLocalData(s); err == nil {
			t.Errorf("AddLocalData(%q): got no error", s)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bl, rpz, hosts := write("bl", blocklist), write("rpz", rpzZone), write("hosts", hostsFile)
	p, err := Load(Config{Blocklists: []string{bl}, RPZ: []string{rpz}, Hosts: []string{hosts},
		LocalData: []string{"tv.home.arpa. 300 IN A 192.168.1.20"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Action{"ads.example.com.": Block, "nx.test.": NXDomain, "nas.home.arpa.": Local, "tv.home.arpa.": Local} {
		if got := p.Match(name).Action; got != want {
			t.Errorf("Match(%q): got %v; want %v", name, got, want)
		}
	}
	if p, err := Load(Config{}); p != nil || err != nil {
		t.Errorf("Load(empty): got %v, %v; want nil, nil", p, err)
	}
	for _, c := range []Config{
		{Blocklists: []string{filepath.Join(dir, "missing")}},
		{RPZ: []string{bl}},
		{LocalData: []string{"nonsense"}},
	} {
		if _, err := Load(c); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%+v): got %v; want a one-line error", c, err)
		}
	}
}

func TestNilPolicy(t *testing.T) {
	var p *Policy
	if m := p.Match("example.com."); m.Action != None {
		t.Errorf("nil Match: got %v", m.Action)
	}
	if r, a := p.Answer(query("example.com.", dns.TypeA)); r != nil || a != None {
		t.Errorf("nil Answer: got %v, %v", r, a)
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	p := build(t, blocklist, rpzZone, nil, hostsFile)
	for _, name := range []string{"www.example.com.", "a.b.c.d.e.f.example.org.", "ads.example.com.", "x.wild.test."} {
		if allocs := testing.AllocsPerRun(100, func() { p.Match(name) }); allocs != 0 {
			t.Errorf("Match(%q): %v allocations; want 0", name, allocs)
		}
	}
	q := query("www.example.com.", dns.TypeA)
	if allocs := testing.AllocsPerRun(100, func() { p.Answer(q) }); allocs != 0 {
		t.Errorf("Answer(not blocked): %v allocations; want 0", allocs)
	}
}

// TestMemoryBound checks the documented cost: the names' own bytes plus at
// most 40 bytes per name (an 8-byte entry and at most four 8-byte slots,
// the table being kept between a quarter and a half full).
func TestMemoryBound(t *testing.T) {
	const n = 100_000
	b := NewBuilder()
	if _, err := b.AddBlocklist(strings.NewReader(genList(n))); err != nil {
		t.Fatal(err)
	}
	p := b.Build(Options{})
	st := p.Stats()
	if st.Names != n {
		t.Fatalf("Names: got %d; want %d", st.Names, n)
	}
	if limit := len(p.t.arena) + 40*n; st.Bytes > limit {
		t.Errorf("Bytes: got %d; want at most %d (arena %d + 40 per name)", st.Bytes, limit, len(p.t.arena))
	}
}
