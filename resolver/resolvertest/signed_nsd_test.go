package resolvertest

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// doQuery builds a query with EDNS (1232) and DO set.
func doQuery(name string, qtype uint16) *dns.Msg {
	q := query(name, qtype, 1232)
	q.IsEdns0().SetDo()
	return q
}

// signedQuestion is one question to one server of the signed internet.
type signedQuestion struct {
	name, server, qname string
	qtype               uint16
}

// signedQuestions asks every zone of the signed internet the usual
// questions (positive, NODATA, NXDOMAIN, DNSKEY, DS at the parent, the
// referral from the parent) and the special names their cases.
func signedQuestions() []signedQuestion {
	var out []signedQuestion
	specs := signedSpecs()
	addr := map[string]string{".": rootServers()[0][1]}
	for _, s := range specs {
		if s.origin != "." {
			addr[s.origin] = s.addr
		}
	}
	for _, s := range specs {
		o, a := s.origin, addr[s.origin]
		out = append(out,
			signedQuestion{o + " SOA", a, o, dns.TypeSOA},
			signedQuestion{o + " DNSKEY", a, o, dns.TypeDNSKEY},
			signedQuestion{o + " NS", a, o, dns.TypeNS},
			signedQuestion{o + " DS at apex", a, o, dns.TypeDS},
			signedQuestion{o + " NXDOMAIN", a, under("nx", o), dns.TypeA},
			signedQuestion{o + " NXDOMAIN deep", a, under("a.b.nx", o), dns.TypeA},
			signedQuestion{o + " NXDOMAIN zz", a, under("zzz", o), dns.TypeA},
		)
		if o != "." {
			p := parentZone(o, specs)
			out = append(out,
				signedQuestion{o + " www A", a, "www." + o, dns.TypeA},
				signedQuestion{o + " www AAAA", a, "www." + o, dns.TypeAAAA},
				signedQuestion{o + " www NODATA", a, "www." + o, dns.TypeMX},
				signedQuestion{o + " txt", a, "txt." + o, dns.TypeTXT},
				signedQuestion{o + " DS at parent", addr[p], o, dns.TypeDS},
				signedQuestion{o + " referral", addr[p], "www." + o, dns.TypeA},
				signedQuestion{o + " NSEC3PARAM", a, o, dns.TypeNSEC3PARAM},
			)
		}
		if s.extra == wildData {
			out = append(out,
				signedQuestion{o + " wildcard A", a, "x." + o, dns.TypeA},
				signedQuestion{o + " wildcard deep", a, "a.b.x." + o, dns.TypeTXT},
				signedQuestion{o + " wildcard NODATA", a, "x." + o, dns.TypeMX},
				signedQuestion{o + " host", a, "host." + o, dns.TypeA},
				signedQuestion{o + " below host", a, "x.host." + o, dns.TypeA},
				signedQuestion{o + " ENT", a, "ent." + o, dns.TypeA},
				signedQuestion{o + " below ENT", a, "x.ent." + o, dns.TypeA},
				signedQuestion{o + " ENT nodata wildcard", a, "nodata." + o, dns.TypeA},
				signedQuestion{o + " wildcard below ENT nodata", a, "x.nodata." + o, dns.TypeA},
				signedQuestion{o + " wildcard below ENT", a, "x.nodata." + o, dns.TypeTXT},
				signedQuestion{o + " literal wildcard", a, "*." + o, dns.TypeA},
			)
		}
	}
	out = append(out,
		signedQuestion{"DS of unsigned child in NSEC zone", addr["sec."], "insecure.sec.", dns.TypeDS},
		signedQuestion{"referral to unsigned child in NSEC zone", addr["sec."], "www.insecure.sec.", dns.TypeA},
		signedQuestion{"DS of opt-out child", addr["optout."], "unsigned.optout.", dns.TypeDS},
		signedQuestion{"referral to opt-out child", addr["optout."], "www.unsigned.optout.", dns.TypeA},
		signedQuestion{"DS below opt-out child", addr["optout."], "x.unsigned.optout.", dns.TypeDS},
		signedQuestion{"CNAME signed to unsigned", addr["cname.sec."], "to-insecure.cname.sec.", dns.TypeA},
		signedQuestion{"CNAME in zone", addr["cname.sec."], "to-www.cname.sec.", dns.TypeA},
		signedQuestion{"CNAME unsigned to signed", addr["insecure.sec."], "to-secure.insecure.sec.", dns.TypeA},
		signedQuestion{"root server address", addr["hush."], "a.root.hush.", dns.TypeA},
		signedQuestion{"glue at the root", rootServers()[1][1], "a.root.hush.", dns.TypeA},
		signedQuestion{"NSEC3 owner name", addr["nsec3.sec."], "229n9f51hn9rh9lh8ofa56jsi0f74i7q.nsec3.sec.", dns.TypeA},
		signedQuestion{"root DNSKEY on b", rootServers()[1][1], ".", dns.TypeDNSKEY},
		signedQuestion{"DS of a name that is no cut", addr["sec."], "www.sec.", dns.TypeDS},
		signedQuestion{"DS of a name that is no cut, NSEC3", addr["nsec3.sec."], "www.nsec3.sec.", dns.TypeDS},
		signedQuestion{"DS of an ENT, NSEC3", addr["nsec3.sec."], "ent.nsec3.sec.", dns.TypeDS},
		signedQuestion{"DS of a missing name, NSEC3", addr["nsec3salt.sec."], "x.host.nsec3salt.sec.", dns.TypeDS},
		signedQuestion{"NSEC asked for", addr["alg8.sec."], "www.alg8.sec.", dns.TypeNSEC},
		signedQuestion{"RRSIG asked for", addr["alg8.sec."], "www.alg8.sec.", dns.TypeRRSIG},
		signedQuestion{"NSEC3 asked for at a name", addr["nsec3.sec."], "www.nsec3.sec.", dns.TypeNSEC3},
		signedQuestion{"child DNSKEY asked at the parent", addr["sec."], "alg8.sec.", dns.TypeDNSKEY},
		signedQuestion{"glue asked at the parent", addr["sec."], "ns1.alg8.sec.", dns.TypeA},
		signedQuestion{"DS of the opt-out child's child", addr["optout."], "a.b.unsigned.optout.", dns.TypeDS},
		signedQuestion{"NXDOMAIN in the opt-out zone", addr["optout."], "a.b.nx.optout.", dns.TypeA},
		signedQuestion{"CNAME asked for", addr["cname.sec."], "to-www.cname.sec.", dns.TypeCNAME},
		signedQuestion{"wildcard NS asked for", addr["wild.sec."], "x.wild.sec.", dns.TypeNS},
	)
	return out
}

// TestSignedMatchesNSD asks a real NSD serving the signed zones every
// question of signedQuestions with DO set over UDP (1232) and TCP, and
// without DO, and wants the engine's reply. NSD computes
// its NSEC3 proofs from the chain it loaded, so this also checks the
// chains.
func TestSignedMatchesNSD(t *testing.T) {
	n := signedNet(t)
	port := startNSD(t, n)
	for _, a := range signedQuestions() {
		for _, v := range []struct {
			suffix, network string
			do              bool
		}{{"", "udp", true}, {" over TCP", "tcp", true}, {" without DO", "udp", false}} {
			t.Run(a.name+v.suffix, func(t *testing.T) {
				q := query(a.qname, a.qtype, 1232)
				if v.do {
					q.IsEdns0().SetDo()
				}
				c := &dns.Client{Net: v.network, Timeout: 2 * time.Second}
				want, _, err := c.Exchange(q.Copy(), netip.AddrPortFrom(netip.MustParseAddr(a.server), port).String())
				if err != nil {
					t.Fatalf("nsd: %v", err)
				}
				got := exchange(t, n, v.network, a.server, q.Copy())
				if g, w := summary(t, got), summary(t, want); g != w {
					t.Errorf("engine and NSD differ:\nengine:\n%s\nnsd:\n%s", g, w)
				}
			})
		}
	}
}

// under is label(s) l below origin o.
func under(l, o string) string {
	if o == "." {
		return l + "."
	}
	return l + "." + o
}

// signedNet builds the signed network or fails the test.
func signedNet(t testing.TB) *Network {
	t.Helper()
	n, err := Signed(Options{})
	if err != nil {
		t.Fatalf("Signed() error: %v", err)
	}
	return n
}

// TestSignedZonesLDNS has ldns-verify-zone, an independent implementation,
// check the written zones: signatures, validity and the NSEC/NSEC3 chain.
// The good zones must pass and the zones broken inside (not through their
// parent's DS) must fail.
func TestSignedZonesLDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ldns-verify-zone")
	}
	bin, err := exec.LookPath("ldns-verify-zone")
	if err != nil {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("ldns-verify-zone not installed and HUSH_INTEGRATION=require")
		}
		t.Skip("ldns-verify-zone not installed")
	}
	n := signedNet(t)
	dir := t.TempDir()
	if err := n.WriteZoneFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, s := range signedSpecs() {
		t.Run(s.origin, func(t *testing.T) {
			out, err := exec.Command(bin, filepath.Join(dir, ZoneFileName(s.origin))).CombinedOutput()
			want := s.alg != 0
			switch s.flaw {
			case flawExpired, flawNotYet, flawNoSig, flawWrongKey, flawBadSig, flawNoNSEC:
				want = false
			}
			if got := err == nil; got != want {
				t.Errorf("verified: got %v, want %v\n%s", got, want, out)
			}
		})
	}
}

// TestUnsignedZonesSignWithLDNS signs zones written by
// WriteUnsignedZoneFiles with ldns-signzone and the key fixtures, and has
// ldns-verify-zone check the result: the files and keys are fit for real
// signing tools.
func TestUnsignedZonesSignWithLDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ldns-signzone")
	}
	sign, err1 := exec.LookPath("ldns-signzone")
	verify, err2 := exec.LookPath("ldns-verify-zone")
	if err1 != nil || err2 != nil {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("ldns tools not installed and HUSH_INTEGRATION=require")
		}
		t.Skip("ldns tools not installed")
	}
	n := signedNet(t)
	dir := t.TempDir()
	if err := n.WriteUnsignedZoneFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		origin string
		args   []string
	}{
		{"alg8.sec.", nil},
		{"alg13.sec.", []string{"-n"}}, // NSEC3
		{"alg15.sec.", nil},
		{"sec.", nil},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			file := filepath.Join(dir, ZoneFileName(tc.origin))
			base := filepath.Join(dir, "keys", keyBase(tc.origin))
			args := append(append([]string(nil), tc.args...), file, base+".ksk", base+".zsk")
			if out, err := exec.Command(sign, args...).CombinedOutput(); err != nil {
				t.Fatalf("ldns-signzone: %v\n%s", err, out)
			}
			if out, err := exec.Command(verify, file+".signed").CombinedOutput(); err != nil {
				t.Errorf("ldns-verify-zone: %v\n%s", err, out)
			}
		})
	}
}
