package resolvertest

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// chainWalker is a minimal validator built on the engine's replies, so
// that the table in doc.go is checked the way a resolver will meet it:
// trust anchor → root DNSKEY → DS → DNSKEY … → the answer and its proofs.
type chainWalker struct {
	t     *testing.T
	n     *Network
	addr  map[string]string
	specs []signSpec
}

// supportedAlg and supportedDigest are what the walker, like hush, can
// validate.
var (
	supportedAlg    = []uint8{dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519, dns.ED448}
	supportedDigest = []uint8{dns.SHA1, dns.SHA256, dns.SHA384}
)

func (w *chainWalker) ask(origin, qname string, qtype uint16) *dns.Msg {
	w.t.Helper()
	return exchange(w.t, w.n, "tcp", w.addr[origin], doQuery(qname, qtype))
}

// rrsetAndSigs splits sec into the RRset of (name, t) and its RRSIGs.
func rrsetAndSigs(sec []dns.RR, name string, t uint16) (set []dns.RR, sigs []*dns.RRSIG) {
	for _, rr := range sec {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == t {
			sigs = append(sigs, s)
		} else if rr.Header().Rrtype == t {
			set = append(set, rr)
		}
	}
	return set, sigs
}

// check validates set with sigs and keys: "" when one signature holds,
// else the reason, most specific first.
func check(set []dns.RR, sigs []*dns.RRSIG, keys []dns.RR) string {
	if len(sigs) == 0 {
		return "bogus: RRSIGs missing"
	}
	reason := "bogus: no key"
	for _, s := range sigs {
		switch err := verifySig(s, keys, set); {
		case errors.Is(err, errNoKey):
		case err != nil:
			reason = "bogus: signature"
		case !s.ValidityPeriod(signedAt) && signedAt.Unix() > int64(s.Expiration):
			reason = "bogus: expired"
		case !s.ValidityPeriod(signedAt):
			reason = "bogus: not yet valid"
		default:
			return ""
		}
	}
	return reason
}

// keys returns the validated DNSKEY set of origin, or why there is none:
// "insecure…" or "bogus…".
func (w *chainWalker) keys(origin string) ([]dns.RR, string) {
	r := w.ask(origin, origin, dns.TypeDNSKEY)
	dnskeys, sigs := rrsetAndSigs(r.Answer, origin, dns.TypeDNSKEY)
	var ds []dns.RR
	if origin == "." {
		ds = w.n.TrustAnchor()
	} else {
		p := parentZone(origin, w.specs)
		pkeys, status := w.keys(p)
		if status != "" {
			return nil, status
		}
		pr := w.ask(p, origin, dns.TypeDS)
		var dsSigs []*dns.RRSIG
		ds, dsSigs = rrsetAndSigs(pr.Answer, origin, dns.TypeDS)
		if len(ds) == 0 {
			if !hasDenial(pr.Ns, pkeys) {
				return nil, "bogus: NSEC missing"
			}
			return nil, "insecure: no DS"
		}
		if why := check(ds, dsSigs, pkeys); why != "" {
			return nil, why
		}
	}
	var usable []*dns.DS
	algOK, digestOK := false, false
	for _, rr := range ds {
		d := rr.(*dns.DS)
		a, g := slices.Contains(supportedAlg, d.Algorithm), slices.Contains(supportedDigest, d.DigestType)
		algOK, digestOK = algOK || a, digestOK || g
		if a && g {
			usable = append(usable, d)
		}
	}
	switch {
	case !algOK:
		return nil, "insecure: unsupported algorithm"
	case !digestOK:
		return nil, "insecure: unsupported digest"
	}
	var anchored []dns.RR
	for _, rr := range dnskeys {
		k := rr.(*dns.DNSKEY)
		for _, d := range usable {
			if got := k.ToDS(d.DigestType); got != nil && got.KeyTag == d.KeyTag && strings.EqualFold(got.Digest, d.Digest) {
				anchored = append(anchored, k)
			}
		}
	}
	if len(anchored) == 0 {
		return nil, "bogus: DNSKEY missing"
	}
	if why := check(dnskeys, sigs, anchored); why != "" {
		return nil, why
	}
	return dnskeys, ""
}

// hasDenial reports whether auth holds an NSEC or NSEC3 whose signature
// holds with keys.
func hasDenial(auth []dns.RR, keys []dns.RR) bool {
	for _, rr := range auth {
		t := rr.Header().Rrtype
		if t != dns.TypeNSEC && t != dns.TypeNSEC3 {
			continue
		}
		set, sigs := rrsetAndSigs(auth, rr.Header().Name, t)
		if check(set, sigs, keys) == "" {
			return true
		}
	}
	return false
}

// status is what validating origin's www A, its NXDOMAIN (or, where a
// wildcard answers, its wildcard answer) and its NODATA comes to: "secure",
// "insecure…" or "bogus…".
func (w *chainWalker) status(origin string) string {
	keys, why := w.keys(origin)
	if why != "" {
		return why
	}
	www := "www." + origin
	r := w.ask(origin, www, dns.TypeA)
	set, sigs := rrsetAndSigs(r.Answer, www, dns.TypeA)
	if why := check(set, sigs, keys); why != "" {
		return why
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"nx." + origin, dns.TypeA}, {www, dns.TypeMX}} {
		r := w.ask(origin, q.name, q.qtype)
		if !hasDenial(r.Ns, keys) {
			return "bogus: NSEC missing"
		}
	}
	return "secure"
}

// TestSignedChainOfTrust walks every zone of the signed internet from the
// trust anchor and wants the outcome doc.go promises.
func TestSignedChainOfTrust(t *testing.T) {
	n := signedNetAt(t)
	w := &chainWalker{t: t, n: n, addr: map[string]string{".": rootServers()[0][1]}, specs: signedSpecs()}
	for _, s := range w.specs {
		if s.origin != "." {
			w.addr[s.origin] = s.addr
		}
	}
	want := map[string]string{
		"insecure.sec.":       "insecure: no DS",
		"unsigned.optout.":    "insecure: no DS",
		"expired.broken.":     "bogus: expired",
		"notyet.broken.":      "bogus: not yet valid",
		"dsmismatch.broken.":  "bogus: DNSKEY missing",
		"nosig.broken.":       "bogus: RRSIGs missing",
		"wrongkey.broken.":    "bogus: no key",
		"badsig.broken.":      "bogus: signature",
		"nonsec.broken.":      "bogus: NSEC missing",
		"wildnoproof.broken.": "bogus: NSEC missing",
		"dsa.broken.":         "insecure: unsupported algorithm",
		"digest.broken.":      "insecure: unsupported digest",
	}
	for _, s := range w.specs {
		t.Run(s.origin, func(t *testing.T) {
			w.t = t
			wantStatus, ok := want[s.origin]
			if !ok {
				wantStatus = "secure"
			}
			var got string
			if s.origin == "." {
				_, why := w.keys(".")
				got = cmp.Or(why, "secure")
			} else {
				got = w.status(s.origin)
			}
			if got != wantStatus {
				t.Errorf("got %q, want %q", got, wantStatus)
			}
		})
	}
	// The wildcard zones' synthesised answers need their proof.
	for _, o := range []string{"wild.sec.", "nsec3.sec.", "nsec3salt.sec.", "wildnoproof.broken."} {
		t.Run("wildcard "+o, func(t *testing.T) {
			w.t = t
			keys, why := w.keys(o)
			if why != "" {
				t.Fatalf("keys: %s", why)
			}
			r := w.ask(o, "x."+o, dns.TypeA)
			set, sigs := rrsetAndSigs(r.Answer, "x."+o, dns.TypeA)
			if why := check(set, sigs, keys); why != "" {
				t.Errorf("wildcard answer: %s", why)
			}
			if got, want := hasDenial(r.Ns, keys), o != "wildnoproof.broken."; got != want {
				t.Errorf("proof of no exact match: got %v, want %v", got, want)
			}
		})
	}
}

// TestSignedExpectations asks every question of SignedExpectations of the
// zone that holds it and wants the rcode it promises, and, for the
// Secure ones, answer and authority signed with valid signatures.
func TestSignedExpectations(t *testing.T) {
	n := signedNetAt(t)
	specs := signedSpecs()
	addr := map[string]string{".": rootServers()[0][1]}
	for _, s := range specs {
		if s.origin != "." {
			addr[s.origin] = s.addr
		}
	}
	for _, e := range SignedExpectations() {
		t.Run(e.Name+" "+dns.TypeToString[e.Type], func(t *testing.T) {
			origin := "."
			for _, s := range specs {
				if dns.IsSubDomain(s.origin, e.Name) && dns.CountLabel(s.origin) > dns.CountLabel(origin) {
					origin = s.origin
				}
			}
			r := exchange(t, n, "tcp", addr[origin], doQuery(e.Name, e.Type))
			if r.Rcode != e.Rcode || !r.Authoritative {
				t.Errorf("rcode %s aa=%v, want %s aa", dns.RcodeToString[r.Rcode], r.Authoritative, dns.RcodeToString[e.Rcode])
			}
			if e.Security != Secure {
				return
			}
			signed := 0
			for _, rr := range append(append([]dns.RR(nil), r.Answer...), r.Ns...) {
				if rr.Header().Rrtype == dns.TypeRRSIG {
					signed++
				}
			}
			if signed == 0 {
				t.Errorf("Secure answer without RRSIGs")
			}
			checkReplySigs(t, n, r)
		})
	}
}
