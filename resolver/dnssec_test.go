package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/resolver/resolvertest"
	"github.com/miekg/dns"
)

func newSignedResolver(t *testing.T) (*resolvertest.Network, *resolver.Resolver) {
	t.Helper()
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatalf("resolvertest.Signed: %v", err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		if err := anchors.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
	})
	return n, r
}

func askDO(t *testing.T, r *resolver.Resolver, name string, qtype uint16, do, cd bool) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.CheckingDisabled = cd
	q.SetEdns0(1232, do)
	return r.ServeDNS(context.Background(), q)
}

// TestValidation plays the signed simulated internet's table of expected
// outcomes: Secure answers carry AD, Insecure ones do not, Bogus ones are
// SERVFAIL with the EDE that names the fault.
func TestValidation(t *testing.T) {
	_, r := newSignedResolver(t)
	for _, e := range resolvertest.SignedExpectations() {
		t.Run(e.Name+"/"+dns.TypeToString[e.Type], func(t *testing.T) {
			m, err := askDO(t, r, e.Name, e.Type, true, false)
			if e.Security == resolvertest.Bogus {
				var re *resolver.Error
				if !errors.As(err, &re) {
					t.Fatalf("got %v (%v), want Bogus: SERVFAIL with EDE %d (%s)", m, err, e.EDE, e.Why)
				}
				// A signature by a key the zone does not publish is called
				// DNSSEC Bogus by some validators and DNSKEY Missing by
				// others (Unbound); both are right.
				alt := e.Name == "www.wrongkey.broken." && re.EDE == dns.ExtendedErrorCodeDNSKEYMissing
				if e.EDE != 0 && re.EDE != e.EDE && !alt {
					t.Errorf("EDE: got %d, want %d (%s)", re.EDE, e.EDE, e.Why)
				}
				// CD=1: the data anyway, without AD.
				m, err = askDO(t, r, e.Name, e.Type, true, true)
				if err != nil || m.AuthenticatedData {
					t.Errorf("with CD: got %v (%v), want the data without AD", m, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ServeDNS: %v (%s)", err, e.Why)
			}
			if m.Rcode != e.Rcode {
				t.Errorf("rcode: got %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[e.Rcode])
			}
			if want := e.Security == resolvertest.Secure; m.AuthenticatedData != want {
				t.Errorf("AD: got %v, want %v (%s)", m.AuthenticatedData, want, e.Why)
			}
			checkInfoEDE(t, m, e)
		})
	}
}

func TestValidationClientBits(t *testing.T) {
	_, r := newSignedResolver(t)
	// Without DO: no AD, no RRSIGs.
	q := new(dns.Msg)
	q.SetQuestion("www.alg13.sec.", dns.TypeA)
	m, err := r.ServeDNS(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if m.AuthenticatedData {
		t.Errorf("AD set for a client that sent neither DO nor AD")
	}
	for _, rr := range append(m.Answer, m.Ns...) {
		if typ := rr.Header().Rrtype; typ == dns.TypeRRSIG || typ == dns.TypeNSEC || typ == dns.TypeNSEC3 {
			t.Errorf("DNSSEC record for a client without DO: %v", rr)
		}
	}
	// AD=1 without DO: AD, still no RRSIGs (RFC 6840 §5.7).
	q.AuthenticatedData = true
	m, err = r.ServeDNS(context.Background(), q)
	if err != nil || !m.AuthenticatedData {
		t.Errorf("AD query: got %v (%v), want AD", m, err)
	}
	// DO=1: RRSIGs with the answer, NSEC proofs with a denial.
	m, err = askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false)
	if err != nil || !hasType(m.Answer, dns.TypeRRSIG) {
		t.Errorf("DO query: got %v (%v), want RRSIGs", m, err)
	}
	m, err = askDO(t, r, "nx.alg13.sec.", dns.TypeA, true, false)
	if err != nil || !hasType(m.Ns, dns.TypeNSEC) || !m.AuthenticatedData {
		t.Errorf("DO NXDOMAIN: got %v (%v), want NSEC and AD", m, err)
	}
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// TestValidationWrongAnchor: with the real root's anchor over the
// simulated internet's own root, nothing validates.
func TestValidationWrongAnchor(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, n, func(c *resolver.Config) { c.DNSSEC = true })
	_, err = askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false)
	var re *resolver.Error
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a Bogus SERVFAIL", err)
	}
}

// TestNegativeTrustAnchor: an NTA makes a bogus zone Insecure.
func TestNegativeTrustAnchor(t *testing.T) {
	n, err := resolvertest.Signed(resolvertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	anchors := dnssec.NewAnchors()
	for _, rr := range n.TrustAnchor() {
		anchors.Add(rr)
	}
	r := newResolver(t, n, func(c *resolver.Config) {
		c.DNSSEC = true
		c.TrustAnchors = anchors
		c.NegativeAnchors = []dnssec.NTA{{Name: "expired.broken.", Expires: time.Now().Add(time.Hour)}}
		c.AllowUpstream = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	m, err := askDO(t, r, "www.expired.broken.", dns.TypeA, true, false)
	if err != nil || m.AuthenticatedData {
		t.Errorf("got %v (%v), want an answer without AD", m, err)
	}
}

// TestNXDomainCut: below a validated NXDOMAIN nothing exists (RFC 8020),
// so hush answers NXDOMAIN for it without asking anyone.
func TestNXDomainCut(t *testing.T) {
	n, r := newSignedResolver(t)
	m, err := askDO(t, r, "nx.alg13.sec.", dns.TypeA, true, false)
	if err != nil || m.Rcode != dns.RcodeNameError || !m.AuthenticatedData {
		t.Fatalf("got %v (%v), want a validated NXDOMAIN", m, err)
	}
	before := len(n.Log())
	m, err = askDO(t, r, "a.b.nx.alg13.sec.", dns.TypeTXT, true, false)
	if err != nil || m.Rcode != dns.RcodeNameError || !m.AuthenticatedData {
		t.Errorf("below: got %v (%v), want NXDOMAIN with AD", m, err)
	}
	if sent := len(n.Log()) - before; sent != 0 {
		t.Errorf("below a known NXDOMAIN: %d upstream queries, want 0", sent)
	}
	// An insecure NXDOMAIN does not cut (some servers lie about ENTs).
	if _, err := askDO(t, r, "nx.insecure.sec.", dns.TypeA, true, false); err != nil {
		t.Fatal(err)
	}
	before = len(n.Log())
	askDO(t, r, "a.nx.insecure.sec.", dns.TypeA, true, false)
	if sent := len(n.Log()) - before; sent == 0 {
		t.Errorf("below an insecure NXDOMAIN: no upstream query, want the name asked")
	}
}

// TestAggressiveNSEC: validated NSEC records answer later questions they
// cover without a query (RFC 8198), and the answers still validate.
func TestAggressiveNSEC(t *testing.T) {
	n, r := newSignedResolver(t)
	for _, tc := range []struct {
		first, then string
		qtype       uint16
		rcode       int
	}{
		{"nx.alg13.sec.", "nxa.alg13.sec.", dns.TypeA, dns.RcodeNameError},
		{"www.alg13.sec.", "www.alg13.sec.", dns.TypeMX, dns.RcodeSuccess},
	} {
		if _, err := askDO(t, r, tc.first, tc.qtype, true, false); err != nil {
			t.Fatal(err)
		}
		if tc.first == tc.then {
			tc.qtype = dns.TypeSRV // another type the name lacks
		}
		before := len(n.Log())
		m, err := askDO(t, r, tc.then, tc.qtype, true, false)
		if err != nil || m.Rcode != tc.rcode || !m.AuthenticatedData || len(m.Answer) != 0 {
			t.Errorf("%s: got %v (%v), want %s with AD", tc.then, m, err, dns.RcodeToString[tc.rcode])
			continue
		}
		if !hasType(m.Ns, dns.TypeNSEC) || !hasType(m.Ns, dns.TypeSOA) {
			t.Errorf("%s: authority %v, want the SOA and the NSEC proof", tc.then, m.Ns)
		}
		if sent := len(n.Log()) - before; sent != 0 {
			t.Errorf("%s: %d upstream queries, want 0 (synthesised from NSEC)", tc.then, sent)
		}
	}
	// A name that exists is never denied: the wildcard and the names
	// around it are asked.
	m, err := askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false)
	if err != nil || len(m.Answer) == 0 {
		t.Errorf("www.alg13.sec A after the denials: got %v (%v), want the address", m, err)
	}
}

// forger rewrites answers for one name on the way back, as an on-path
// attacker would: new data, and a signature that names another signer.
type forger struct {
	ex     resolver.Exchanger
	name   string
	signer string
}

func (f *forger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	r, err := f.ex.Exchange(ctx, network, server, q)
	if err != nil || len(q.Question) != 1 || !strings.EqualFold(q.Question[0].Name, f.name) {
		return r, err
	}
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			rr.A = []byte{6, 6, 6, 6}
		case *dns.RRSIG:
			rr.SignerName = f.signer
		}
	}
	return r, nil
}

// TestForgedSigner: a signature claiming a signer that is not a zone cut
// (a name that does not exist, or the owner itself) is Bogus, never a
// way to make forged data Insecure.
func TestForgedSigner(t *testing.T) {
	for _, signer := range []string{"nonexistent.alg13.sec.", "www.alg13.sec.", "sec.", "alg8.sec."} {
		t.Run(signer, func(t *testing.T) {
			n, err := resolvertest.Signed(resolvertest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			anchors := dnssec.NewAnchors()
			for _, rr := range n.TrustAnchor() {
				anchors.Add(rr)
			}
			r := newResolver(t, n, func(c *resolver.Config) {
				c.DNSSEC = true
				c.TrustAnchors = anchors
				c.Exchanger = &forger{ex: n.Exchanger(t), name: "www.alg13.sec.", signer: signer}
			})
			m, err := askDO(t, r, "www.alg13.sec.", dns.TypeA, true, false)
			if err == nil {
				t.Errorf("got %v, want SERVFAIL (bogus)", m)
			}
		})
	}
}

// TestDNSKEYAnswers: a client asking for a zone's keys gets them judged by
// the chain of trust like any answer.
func TestDNSKEYAnswers(t *testing.T) {
	_, r := newSignedResolver(t)
	m, err := askDO(t, r, "alg13.sec.", dns.TypeDNSKEY, true, false)
	if err != nil || !m.AuthenticatedData || len(m.Answer) == 0 {
		t.Errorf("secure zone's DNSKEY: got %v (%v), want keys with AD", m, err)
	}
	for _, zone := range []string{"dsmismatch.broken.", "expired.broken."} {
		if m, err := askDO(t, r, zone, dns.TypeDNSKEY, true, false); err == nil {
			t.Errorf("%s DNSKEY: got %v, want SERVFAIL", zone, m)
		}
	}
}

// TestReferralDS checks that the DS RRset, or the proof that there is
// none, which a signed referral carries is validated and used: the chain
// of trust down to a secure or an insecure child needs no DS query of its
// own (Unbound and Knot Resolver alike; Deckard's val_secds scripts no
// answer to one).
func TestReferralDS(t *testing.T) {
	tests := []struct {
		name string
		want bool // AD
	}{
		{"www.alg13.sec.", true},        // DS in the referral
		{"www.nsec3.sec.", true},        // DS in the referral, NSEC3 zone
		{"www.insecure.sec.", false},    // NSEC proof of no DS
		{"www.unsigned.optout.", false}, // opt-out NSEC3 span
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, r := newSignedResolver(t)
			n.ResetLog()
			m, err := askDO(t, r, tt.name, dns.TypeA, true, false)
			if err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if m.AuthenticatedData != tt.want {
				t.Errorf("AD: got %v, want %v", m.AuthenticatedData, tt.want)
			}
			for _, q := range n.Log() {
				if q.Type == dns.TypeDS {
					t.Errorf("DS query sent: %v", q)
				}
			}
		})
	}
}

// TestRRSIGQueryNotSecure checks that an answer of RRSIG records, which
// nothing signs, never carries AD (Unbound alike; Deckard's val_rrsig).
func TestRRSIGQueryNotSecure(t *testing.T) {
	_, r := newSignedResolver(t)
	m, err := askDO(t, r, "www.alg13.sec.", dns.TypeRRSIG, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !hasType(m.Answer, dns.TypeRRSIG) || m.AuthenticatedData {
		t.Errorf("got %v, want RRSIGs without AD", m)
	}
}

// TestAggressiveDSDenial checks that a DS question is answered from the
// parent zone's cached NSEC records (RFC 8198), where DS denials live: the
// NSEC at the insecure.sec. delegation, learned from an NXDOMAIN for
// insecure0.sec. (which it covers), denies insecure.sec. DS without a
// query (Deckard's nsec_aggr_cache).
func TestAggressiveDSDenial(t *testing.T) {
	n, r := newSignedResolver(t)
	if m, err := askDO(t, r, "insecure0.sec.", dns.TypeA, true, false); err != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("insecure0.sec.: got %v (%v), want NXDOMAIN", m, err)
	}
	n.ResetLog()
	m, err := askDO(t, r, "insecure.sec.", dns.TypeDS, true, false)
	if err != nil || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || !m.AuthenticatedData {
		t.Fatalf("insecure.sec. DS: got %v (%v), want a Secure NODATA", m, err)
	}
	if log := n.Log(); len(log) > 0 {
		t.Errorf("sent %v, want no query", log)
	}
}

// TestBogusServerPassedOver: an answer that fails validation sends the
// query to the zone's other servers before it is judged Bogus (Unbound's
// validator blacklist, Knot Resolver's DNSSEC_ERROR selection), so one
// broken or forging server of a zone does not break the zone. Here a root
// server strips signatures, which spoils its DNSKEY answer (the root's
// own keys), its DS answers and its referrals.
func TestBogusServerPassedOver(t *testing.T) {
	a, b := netip.MustParseAddr("127.53.100.1"), netip.MustParseAddr("127.53.100.2")
	tests := []struct {
		name   string
		broken []netip.Addr
		bogus  bool
	}{
		{name: "first root server", broken: []netip.Addr{a}},
		{name: "second root server", broken: []netip.Addr{b}},
		{name: "both root servers", broken: []netip.Addr{a, b}, bogus: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, r := newSignedResolver(t)
			for _, addr := range tc.broken {
				n.SetFault(addr, resolvertest.Fault{StripRRSIG: true})
			}
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{"sec.", dns.TypeDS}, {"www.alg13.sec.", dns.TypeA}, {".", dns.TypeSOA}} {
				m, err := askDO(t, r, q.name, q.qtype, true, false)
				if tc.bogus {
					var re *resolver.Error
					if !errors.As(err, &re) || re.EDE == 0 {
						t.Errorf("%s %s: got %v (%v), want a Bogus SERVFAIL with an EDE", q.name, dns.TypeToString[q.qtype], m, err)
					}
					continue
				}
				if err != nil || m.Rcode != dns.RcodeSuccess || !m.AuthenticatedData || len(m.Answer) == 0 {
					t.Errorf("%s %s: got %v (%v), want a Secure answer", q.name, dns.TypeToString[q.qtype], m, err)
				}
			}
		})
	}
}

// TestAggressiveWildcard: once a Secure wildcard answer has shown the
// wildcard and the denial records around it, other names the same
// denial covers are answered from the cache (RFC 8198 §5.3), with the
// wildcard's signature and the proof, under NSEC and NSEC3 alike; a name
// that exists is still asked for.
func TestAggressiveWildcard(t *testing.T) {
	for _, zone := range []string{"wild.sec.", "nsec3.sec.", "nsec3salt.sec."} {
		t.Run(zone, func(t *testing.T) {
			n, r := newSignedResolver(t)
			first, err := askDO(t, r, "a1."+zone, dns.TypeA, true, false)
			if err != nil || !first.AuthenticatedData {
				t.Fatalf("a1.%s: got %v (%v), want a Secure wildcard answer", zone, first, err)
			}
			// Another name the same proof covers: under NSEC any name
			// after a1; under NSEC3 one whose hash falls in the same span.
			name := "b2." + zone
			for i := 0; ; i++ {
				var proof *dns.NSEC3
				for _, rr := range first.Ns {
					if n3, ok := rr.(*dns.NSEC3); ok && n3.Cover("a1."+zone) {
						proof = n3
					}
				}
				if proof == nil || proof.Cover(name) {
					break
				}
				if i == 10000 {
					t.Fatalf("no name found in the span of %v", proof)
				}
				name = fmt.Sprintf("b%d.%s", i, zone)
			}
			n.ResetLog()
			m, err := askDO(t, r, name, dns.TypeA, true, false)
			if err != nil || m.Rcode != dns.RcodeSuccess || !m.AuthenticatedData {
				t.Fatalf("%s: got %v (%v), want a Secure answer", name, m, err)
			}
			var a *dns.A
			for _, rr := range m.Answer {
				if rr.Header().Rrtype == dns.TypeA {
					a = rr.(*dns.A)
				}
			}
			if a == nil || a.Hdr.Name != name || a.A.String() != "192.0.2.80" || !hasType(m.Answer, dns.TypeRRSIG) {
				t.Errorf("%s: answer %v, want %s A 192.0.2.80 and its RRSIG", name, m.Answer, name)
			}
			if !hasType(m.Ns, dns.TypeNSEC) && !hasType(m.Ns, dns.TypeNSEC3) {
				t.Errorf("%s: authority %v, want the denial proof", name, m.Ns)
			}
			if log := n.Log(); len(log) > 0 {
				t.Errorf("%s: sent %v, want no query", name, log)
			}
			m, err = askDO(t, r, "host."+zone, dns.TypeA, true, false)
			if err != nil || len(m.Answer) == 0 || m.Answer[0].(*dns.A).A.String() != "192.0.2.81" {
				t.Errorf("host.%s: got %v (%v), want its own address", zone, m, err)
			}
		})
	}
}
