package main

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

// ldnsSigned lists the zones of the signed simulated internet that
// TestIntegrationDNSSEC has ldns-signzone sign, from the zones as they
// were before signing and the kit's committed keys (so the DS records the
// parents already hold stay valid), with the arguments that give each the
// denial method and signature window the package documentation of
// resolvertest describes. now is the signing time.
func ldnsSigned(now time.Time) map[string][]string {
	day := 24 * time.Hour
	window := func(from, to time.Duration) []string {
		return []string{"-i", strconv.FormatInt(now.Add(from).Unix(), 10), "-e", strconv.FormatInt(now.Add(to).Unix(), 10)}
	}
	valid := window(-time.Hour, 30*day)
	nsec3 := append([]string{"-n", "-t", "0"}, valid...)
	return map[string][]string{
		".":                  valid,
		"hush.":              valid,
		"sec.":               valid,
		"broken.":            valid,
		"optout.":            append([]string{"-p"}, nsec3...),
		"alg8.sec.":          valid,
		"alg10.sec.":         valid,
		"alg13.sec.":         valid,
		"alg14.sec.":         valid,
		"alg15.sec.":         valid,
		"alg16.sec.":         valid,
		"alg5.sec.":          valid,
		"alg7.sec.":          nsec3,
		"nsec3.sec.":         nsec3,
		"kid.nsec3.sec.":     valid,
		"nsec3salt.sec.":     append([]string{"-n", "-t", "10", "-s", "aabbccdd"}, valid...),
		"wild.sec.":          valid,
		"cname.sec.":         valid,
		"signed.optout.":     valid,
		"good.broken.":       valid,
		"expired.broken.":    window(-60*day, -30*day),
		"notyet.broken.":     window(30*day, 60*day),
		"dsmismatch.broken.": valid, // the flaw is the rogue DS in broken.
		"digest.broken.":     valid, // the flaw is the digest type of the DS in broken.
		"dsa.broken.":        valid, // algorithm 3, which ldns still signs with
	}
}

// kitSigned lists the zones served as resolvertest signed them: their
// flaws are inside the signed data (a missing, corrupted or rogue RRSIG,
// no NSEC chain at all), which no signing tool produces. unsignedZones are
// served as written before signing.
var (
	kitSigned     = []string{"nosig.broken.", "wrongkey.broken.", "badsig.broken.", "nonsec.broken.", "wildnoproof.broken."}
	unsignedZones = []string{"insecure.sec.", "unsigned.optout."}
)

// TestIntegrationDNSSEC validates, through `hush serve` over real sockets,
// the signed simulated internet signed by ldns-signzone and served by
// real NSD processes, against resolvertest.SignedExpectations and, when
// it can run (as root, so that NSD listens on port 53), a validating
// Unbound pointed at the same servers with the same trust anchor.
func TestIntegrationDNSSEC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NSD processes")
	}
	signzone := requireTool(t, "ldns-signzone")
	requireTool(t, "nsd")
	now := time.Now()
	n, err := resolvertest.Signed(resolvertest.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zones := ldnsZoneFiles(t, n, signzone, now, dir)

	var port uint16
	if os.Geteuid() == 0 && port53FreeFor(n) {
		port = 53
	}
	port = n.StartNSDFromDir(t, port, zones)
	hints, anchor := filepath.Join(dir, "root.hints"), filepath.Join(dir, "anchor.ds")
	for file, text := range map[string]string{hints: n.RootHintsText(), anchor: n.TrustAnchorText()} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hush := startHush(t, hints, port, "--dnssec", "validate", "--trust-anchor", anchor)
	var unbound string
	if port == 53 {
		unbound = startUnbound(t, dir, hints, anchor)
	} else {
		t.Log("NSD is not on port 53 (not root, or the port is taken), so there is no Unbound to compare with")
	}

	for _, e := range resolvertest.SignedExpectations() {
		t.Run(e.Name+"/"+dns.TypeToString[e.Type], func(t *testing.T) {
			got := askServer(t, "hush", hush, e.Name, e.Type, true)
			checkExpectation(t, e, got)
			if unbound == "" {
				return
			}
			// Unbound 1.17.1 (Debian 12) agrees on every entry, Ed448,
			// RSASHA1 and 10 NSEC3 iterations included; one built without
			// Ed448 or with SHA-1 disabled would not.
			ub := askServer(t, "unbound", unbound, e.Name, e.Type, true)
			t.Logf("hush %s, unbound %s", verdict(got), verdict(ub))
			if got.Rcode != ub.Rcode || got.AuthenticatedData != ub.AuthenticatedData {
				t.Errorf("hush and Unbound differ: hush %s, unbound %s", verdict(got), verdict(ub))
			}
			if g, w := compareForm(got), compareForm(ub); g != w {
				t.Errorf("hush and Unbound answers differ:\nhush:\n%s\nunbound:\n%s", g, w)
			}
		})
	}
}

// ldnsZoneFiles writes into dir/zones, named by ZoneFileName, the zone
// files NSD serves: what ldns-signzone makes of the zones in ldnsSigned,
// the kit's own signing of kitSigned and the unsignedZones as they are,
// and returns that directory. Every zone of n must be in one of the lists.
func ldnsZoneFiles(t *testing.T, n *resolvertest.Network, signzone string, now time.Time, dir string) string {
	t.Helper()
	zones, unsigned, kit := filepath.Join(dir, "zones"), filepath.Join(dir, "unsigned"), filepath.Join(dir, "kit")
	for _, d := range []string{zones, unsigned, kit} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.WriteUnsignedZoneFiles(unsigned); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteZoneFiles(kit); err != nil {
		t.Fatal(err)
	}
	// NSD serves zones: what ldns-signzone wrote, the kitSigned zones
	// copied from kit and the unsigned ones from unsigned.
	signed := ldnsSigned(now)
	for _, origins := range n.Servers() {
		for _, origin := range origins {
			from := ""
			switch {
			case signed[origin] != nil:
				continue
			case slices.Contains(kitSigned, origin):
				from = kit
			case slices.Contains(unsignedZones, origin):
				from = unsigned
			default:
				t.Fatalf("zone %s of the signed internet is in none of ldnsSigned, kitSigned, unsignedZones", origin)
			}
			file := resolvertest.ZoneFileName(origin)
			b, err := os.ReadFile(filepath.Join(from, file))
			if err == nil {
				err = os.WriteFile(filepath.Join(zones, file), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for origin, args := range signed {
		file := resolvertest.ZoneFileName(origin)
		base := filepath.Join(unsigned, "keys", strings.TrimSuffix(file, ".zone"))
		args = append(slices.Clone(args), "-f", filepath.Join(zones, file), filepath.Join(unsigned, file), base+".ksk", base+".zsk")
		if out, err := exec.Command(signzone, args...).CombinedOutput(); err != nil {
			t.Fatalf("ldns-signzone %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return zones
}

// checkExpectation fails t when hush's answer r is not what e says a
// validating resolver answers.
func checkExpectation(t *testing.T, e resolvertest.Expectation, r *dns.Msg) {
	t.Helper()
	ede := edeCode(r)
	switch e.Security {
	case resolvertest.Bogus:
		if r.Rcode != dns.RcodeServerFailure {
			t.Fatalf("hush: got %s, want Bogus (SERVFAIL, EDE %d): %s\n%v", verdict(r), e.EDE, e.Why, r)
		}
		want := []int{int(e.EDE)}
		if e.Name == "www.wrongkey.broken." {
			// Which EDE a key-tag mismatch earns varies (see Why).
			want = []int{int(dns.ExtendedErrorCodeDNSBogus), int(dns.ExtendedErrorCodeDNSKEYMissing), int(dns.ExtendedErrorCodeRRSIGsMissing)}
		}
		if e.EDE != 0 && !slices.Contains(want, ede) {
			t.Errorf("hush EDE: got %d, want one of %v: %s", ede, want, e.Why)
		}
	default:
		wantAD := e.Security == resolvertest.Secure
		if r.Rcode != e.Rcode || r.AuthenticatedData != wantAD {
			t.Fatalf("hush: got %s, want rcode %s ad=%v (%s): %s\n%v", verdict(r), dns.RcodeToString[e.Rcode], wantAD, e.Security, e.Why, r)
		}
		// Insecure for want of a supported algorithm or digest says why.
		if e.EDE != 0 && ede != int(e.EDE) {
			t.Errorf("hush EDE: got %d, want %d: %s", ede, e.EDE, e.Why)
		}
	}
}

// verdict is a short form of an answer's validation outcome: the rcode,
// the AD bit and the EDE. hush and Unbound must agree on the first two;
// their EDEs differ by design (Unbound 1.17 says 9, "DNSKEY missing", for
// most Bogus answers, 6 or none elsewhere) and are only shown.
func verdict(r *dns.Msg) string {
	s := dns.RcodeToString[r.Rcode] + " ad=" + strconv.FormatBool(r.AuthenticatedData)
	if ede := edeCode(r); ede >= 0 {
		s += " ede=" + strconv.Itoa(ede)
	}
	return s
}

// edeCode is the first Extended DNS Error code in r, or -1.
func edeCode(r *dns.Msg) int {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return int(e.InfoCode)
			}
		}
	}
	return -1
}

// port53FreeFor reports whether port 53 can be bound, UDP and TCP, on
// every server address of n (another simulated internet, a fakenet run
// say, may hold some of 127.53.0.0/16).
func port53FreeFor(n *resolvertest.Network) bool {
	for addr := range n.Servers() {
		hostport := netip.AddrPortFrom(addr, 53).String()
		pc, err := net.ListenPacket("udp", hostport)
		if err != nil {
			return false
		}
		pc.Close()
		ln, err := net.Listen("tcp", hostport)
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
