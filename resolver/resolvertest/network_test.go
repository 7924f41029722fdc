package resolvertest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

func TestExchangeRefusesOutsideLoopback(t *testing.T) {
	n := defaultNet(t)
	for _, dst := range []string{"192.0.2.1:53", "8.8.8.8:53", "[::1]:53", "[2001:db8::1]:53", "0.0.0.0:53"} {
		t.Run(dst, func(t *testing.T) {
			_, err := n.Exchange(context.Background(), "udp", netip.MustParseAddrPort(dst), query("www.plain.example.", dns.TypeA, 0))
			if !errors.Is(err, ErrOutside) {
				t.Errorf("error = %v, want ErrOutside", err)
			}
		})
	}
	if got, want := len(n.Outside()), 5; got != want {
		t.Errorf("Outside() has %d entries, want %d", got, want)
	}
	if got := n.Log(); len(got) != 0 {
		t.Errorf("Log() = %v, want nothing received", got)
	}
}

func TestExchangeMappedAddress(t *testing.T) {
	n := defaultNet(t)
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.53.10.1"), 53)
	r, err := n.Exchange(context.Background(), "udp6", mapped, query("www.plain.example.", dns.TypeA, 0))
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("Exchange(%s) = %v, %v; want an answer", mapped, r, err)
	}
	if got, want := n.Queries(netip.MustParseAddr("127.53.10.1")), 1; got != want {
		t.Errorf("Queries = %d, want %d", got, want)
	}
}

func TestExchangeNothingListening(t *testing.T) {
	n := defaultNet(t)
	for _, dst := range []string{"127.53.24.2", "127.0.0.1", "127.53.99.99"} {
		_, err := n.Exchange(context.Background(), "udp", at(dst), query("www.half.example.", dns.TypeA, 0))
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Exchange(%s) error = %v, want ECONNREFUSED", dst, err)
		}
	}
	if got, want := n.Queries(netip.MustParseAddr("127.53.24.2")), 1; got != want {
		t.Errorf("Queries(dead) = %d, want %d (tries are counted)", got, want)
	}
}

func TestExchangeBadInput(t *testing.T) {
	n := defaultNet(t)
	if _, err := n.Exchange(context.Background(), "sctp", at("127.53.10.1"), query("www.plain.example.", dns.TypeA, 0)); err == nil {
		t.Errorf("unknown network: no error")
	}
	q := query("www.plain.example.", dns.TypeA, 0)
	q.Question[0].Name = "not-fully-qualified"
	if _, err := n.Exchange(context.Background(), "udp", at("127.53.10.1"), q); err == nil {
		t.Errorf("unpackable query: no error")
	}
}

func TestExchangeDoesNotChangeQuery(t *testing.T) {
	n := defaultNet(t)
	n.SetFault(netip.MustParseAddr("127.53.10.1"), Fault{WrongID: true, WrongQuestion: true})
	q := query("www.plain.example.", dns.TypeA, 1232)
	before := q.String()
	r := exchange(t, n, "udp", "127.53.10.1", q)
	if got := q.String(); got != before {
		t.Errorf("query changed:\n%s\nwas\n%s", got, before)
	}
	r.Answer = nil // the reply is the caller's to change
	r2 := exchange(t, n, "udp", "127.53.10.2", q)
	if len(r2.Answer) != 1 {
		t.Errorf("zone data changed through a reply")
	}
}

func TestLog(t *testing.T) {
	n := defaultNet(t)
	exchange(t, n, "udp", "127.53.0.1", query("www.plain.example.", dns.TypeA, 1232))
	exchange(t, n, "tcp", "127.53.3.1", query("PLAIN.example.", dns.TypeNS, 0))
	want := []Query{
		{Server: at("127.53.0.1"), Network: "udp", Name: "www.plain.example.", Type: dns.TypeA, EDNS: true},
		{Server: at("127.53.3.1"), Network: "tcp", Name: "PLAIN.example.", Type: dns.TypeNS},
	}
	if got := n.Log(); !slices.Equal(got, want) {
		t.Errorf("Log() = %v, want %v", got, want)
	}
	if got, want := n.Queries(netip.MustParseAddr("127.53.3.1")), 1; got != want {
		t.Errorf("Queries = %d, want %d", got, want)
	}
	n.ResetLog()
	if got := n.Log(); len(got) != 0 {
		t.Errorf("after ResetLog Log() = %v, want empty", got)
	}
	if got := n.Queries(netip.MustParseAddr("127.53.3.1")); got != 0 {
		t.Errorf("after ResetLog Queries = %d, want 0", got)
	}
}

// recordingTB captures Errorf calls.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckedExchanger(t *testing.T) {
	n := defaultNet(t)
	rec := &recordingTB{TB: t}
	x := n.Exchanger(rec)
	if _, err := x.Exchange(context.Background(), "udp", at("127.53.10.1"), query("www.plain.example.", dns.TypeA, 0)); err != nil {
		t.Fatalf("Exchange to a server: %v", err)
	}
	if len(rec.errs) != 0 {
		t.Errorf("Errorf called for a loopback destination: %v", rec.errs)
	}
	if _, err := x.Exchange(context.Background(), "udp", at("192.0.2.53"), query("www.plain.example.", dns.TypeA, 0)); !errors.Is(err, ErrOutside) {
		t.Errorf("error = %v, want ErrOutside", err)
	}
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "192.0.2.53") {
		t.Errorf("Errorf calls = %v, want one naming 192.0.2.53", rec.errs)
	}
}

func TestNewRejectsBadZones(t *testing.T) {
	soa := "$ORIGIN z.\n@ 3600 IN SOA ns.z. h.z. 1 1 1 1 1\n"
	tests := []struct {
		name  string
		zones []string
	}{
		{"no SOA first", []string{"$ORIGIN z.\n@ 3600 IN NS ns.z.\n"}},
		{"out of zone data", []string{soa + "@ 3600 IN NS ns.z.\nns.z. 3600 IN A 127.53.1.1\nwww.other. 3600 IN A 192.0.2.1\n"}},
		{"no apex NS", []string{soa + "www 3600 IN A 192.0.2.1\n"}},
		{"server outside 127.53/16", []string{soa + "@ 3600 IN NS ns.z.\nns 3600 IN A 192.0.2.1\n"}},
		{"server without address", []string{soa + "@ 3600 IN NS ns.elsewhere.\n"}},
		{"twice", []string{soa + "@ 3600 IN NS ns\nns 3600 IN A 127.53.1.1\n", soa + "@ 3600 IN NS ns\nns 3600 IN A 127.53.1.1\n"}},
		{"CNAME and other data", []string{soa + "@ 3600 IN NS ns\nns 3600 IN A 127.53.1.1\nx 3600 IN CNAME ns\nx 3600 IN TXT \"no\"\n"}},
		{"syntax", []string{soa + "@ 3600 IN NS\n"}},
		{"class CH", []string{"$ORIGIN z.\n@ 3600 CH SOA ns.z. h.z. 1 1 1 1 1\n"}},
		{"empty", []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.zones...); err == nil {
				t.Errorf("New() error = nil, want an error")
			}
		})
	}
}

func TestNewCustomZones(t *testing.T) {
	n, err := New(
		"$ORIGIN .\n$TTL 3600\n@ IN SOA a.root. h. 1 1 1 1 60\n@ IN NS a.root.\nroot. IN NS a.root.\na.root. IN A 127.53.200.1\n",
		"$ORIGIN root.\n$TTL 3600\n@ IN SOA a h 1 1 1 1 60\n@ IN NS a\na IN A 127.53.200.1\nb IN A 127.53.200.1\n",
	)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr][]string{netip.MustParseAddr("127.53.200.1"): {".", "root."}}
	got := n.Servers()
	if len(got) != 1 || !slices.Equal(got[netip.MustParseAddr("127.53.200.1")], want[netip.MustParseAddr("127.53.200.1")]) {
		t.Errorf("Servers() = %v, want %v", got, want)
	}
	// One server with parent and child: it answers from the child.
	r := exchange(t, n, "udp", "127.53.200.1", query("b.root.", dns.TypeA, 0))
	if !r.Authoritative || len(r.Answer) != 1 {
		t.Errorf("answer from the child zone: AA %v, %d answers", r.Authoritative, len(r.Answer))
	}
	if text, ok := n.ZoneText("ROOT."); !ok || !strings.Contains(text, "b IN A") {
		t.Errorf("ZoneText(root.) = %q, %v", text, ok)
	}
}

func TestDefaultManifest(t *testing.T) {
	n := defaultNet(t)
	got := n.Servers()
	want := map[string][]string{
		"127.53.0.1": {"."}, "127.53.0.2": {"."},
		"127.53.1.1": {"hush."}, "127.53.1.2": {"hush."},
		"127.53.2.1": {"test."}, "127.53.2.2": {"test."},
		"127.53.3.1": {"example."}, "127.53.3.2": {"example."},
		"127.53.10.1": {"plain.example."}, "127.53.10.2": {"plain.example."},
		"127.53.11.1": {"chain.example."},
		"127.53.12.1": {"other.test."},
		"127.53.13.1": {"third.example."},
		"127.53.14.1": {"dname.example."},
		"127.53.15.1": {"wild.example."},
		"127.53.16.1": {"big.example."},
		"127.53.17.1": {"glueless.example."}, "127.53.17.2": {"glueless.example."},
		"127.53.18.1": {"hosts.test."},
		"127.53.19.1": {"deep.example."},
		"127.53.20.1": {"deeper.example."},
		"127.53.21.1": {"cycle2.test."},
		"127.53.22.1": {"cycle1.example."},
		"127.53.24.1": {"half.example."},
		"127.53.25.1": {"partlame.example."},
		"127.53.26.1": {"mixed.example."}, "127.53.26.2": {"mixed.example."},
	}
	if len(got) != len(want) {
		t.Errorf("Servers() has %d addresses, want %d: %v", len(got), len(want), got)
	}
	for a, zones := range want {
		if g := got[netip.MustParseAddr(a)]; !slices.Equal(g, zones) {
			t.Errorf("Servers()[%s] = %v, want %v", a, g, zones)
		}
	}
	if got, want := len(n.Zones()), 20; got != want {
		t.Errorf("Zones() has %d, want %d", got, want)
	}
	files, err := ZoneFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, origin := range n.Zones() {
		if _, ok := files[ZoneFileName(origin)]; !ok {
			t.Errorf("no embedded file %s for zone %s", ZoneFileName(origin), origin)
		}
	}
}
