package dnssec

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// rootAnchorText holds the root zone's KSK DS records, KSK-2017 (20326) and
// KSK-2024 (38696), as IANA publishes them in
// https://data.iana.org/root-anchors/root-anchors.xml (format: RFC 9718).
// The digests were checked against that file's KeyDigest entries and the
// copies carried by Unbound's unbound-anchor and other validators.
const rootAnchorText = `
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`

// Anchor is the trust anchor set for one zone: DS records, DNSKEY records
// or both. A DNSKEY anchor is trusted as is; a DS anchor authenticates the
// DNSKEY it digests, exactly as a parent's DS does.
type Anchor struct {
	Zone   string // canonical (lowercase, fully qualified)
	DS     []*dns.DS
	DNSKEY []*dns.DNSKEY
}

// Anchors holds configured trust anchors by zone. It is read-only after
// construction (Add is for building it), so one value may be shared by
// every query.
type Anchors struct {
	byZone map[string]*Anchor
}

// NewAnchors returns an empty anchor set.
func NewAnchors() *Anchors { return &Anchors{byZone: make(map[string]*Anchor)} }

// RootAnchors returns the embedded root anchors (KSK-2017 and KSK-2024 as
// DS records). It does not track RFC 5011 rollovers: a build carries the
// anchors that were current when it was made.
func RootAnchors() *Anchors {
	a, err := ParseAnchors(strings.NewReader(rootAnchorText))
	if err != nil {
		// The text is a constant checked by TestRootAnchors.
		panic("dnssec: embedded root anchors: " + err.Error())
	}
	return a
}

// ParseAnchors reads zone-file text holding DS and/or DNSKEY records with
// any owners and returns them as anchors. Other record types are an error,
// so that a typo does not silently drop an anchor. Relative names are
// relative to the root.
func ParseAnchors(r io.Reader) (*Anchors, error) {
	a := NewAnchors()
	zp := dns.NewZoneParser(r, ".", "anchors")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := a.Add(rr); err != nil {
			return nil, err
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dnssec: parse anchors: %w", err)
	}
	return a, nil
}

// Add adds one DS or DNSKEY record as an anchor.
func (a *Anchors) Add(rr dns.RR) error {
	zone := dns.CanonicalName(rr.Header().Name)
	e := a.byZone[zone]
	if e == nil {
		e = &Anchor{Zone: zone}
	}
	switch x := rr.(type) {
	case *dns.DS:
		e.DS = append(e.DS, x)
	case *dns.DNSKEY:
		e.DNSKEY = append(e.DNSKEY, x)
	default:
		return fmt.Errorf("dnssec: anchor of type %s: want DS or DNSKEY", dns.TypeToString[rr.Header().Rrtype])
	}
	a.byZone[zone] = e
	return nil
}

// With returns a copy of a in which an replaces the anchor of its zone
// (nil a: a set of an alone). a is not changed.
func (a *Anchors) With(an *Anchor) *Anchors {
	out := NewAnchors()
	if a != nil {
		for z, e := range a.byZone {
			out.byZone[z] = e
		}
	}
	out.byZone[dns.CanonicalName(an.Zone)] = an
	return out
}

// Len reports how many zones have anchors.
func (a *Anchors) Len() int {
	if a == nil {
		return 0
	}
	return len(a.byZone)
}

// Lookup returns the anchor configured for exactly zone, or nil.
func (a *Anchors) Lookup(zone string) *Anchor {
	if a == nil {
		return nil
	}
	return a.byZone[dns.CanonicalName(zone)]
}

// Closest returns the anchor of the deepest zone at or above name (the
// name itself included), or nil when no anchor covers it: then the name is
// outside every island of trust and its answers are Insecure.
func (a *Anchors) Closest(name string) *Anchor {
	if a == nil {
		return nil
	}
	name = dns.CanonicalName(name)
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if e := a.byZone[name[off:]]; e != nil {
			return e
		}
	}
	return a.byZone["."]
}

// NTA is a negative trust anchor (RFC 7646): validation is off for Name and
// everything below it until Expires. A zero Expires never expires.
type NTA struct {
	Name    string
	Expires time.Time
}

// UnderNTA reports whether name is at or below an NTA in ntas that is in
// force at t. The resolver answers such names as Insecure.
func UnderNTA(ntas []NTA, name string, t time.Time) bool {
	for _, n := range ntas {
		if !n.Expires.IsZero() && !t.Before(n.Expires) {
			continue
		}
		if IsSubDomain(dns.Fqdn(n.Name), dns.Fqdn(name)) {
			return true
		}
	}
	return false
}
