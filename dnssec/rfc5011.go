package dnssec

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// RFC 5011 automated updates of trust anchors. A router left alone for
// years must follow the root's key rollovers: a new KSK that appears in
// the root's DNSKEY set, signed by a key already trusted, is trusted once
// it has stayed there for the add hold-down (30 days), so that an attacker
// who stole the old key for a while cannot plant one of his own; a key
// published with the REVOKE bit and signed by itself is never trusted
// again.

// KeyState is a tracked key's state (RFC 5011 §4).
type KeyState uint8

const (
	// AddPend: seen in a validated key set, waiting out the add hold-down.
	AddPend KeyState = iota + 1
	// Valid: trusted.
	Valid
	// Missing: trusted, but absent from the last validated key set.
	Missing
	// Revoked: published revoked and self-signed; never trusted again.
	// Forgotten after the remove hold-down.
	Revoked
)

var stateNames = map[KeyState]string{AddPend: "ADDPEND", Valid: "VALID", Missing: "MISSING", Revoked: "REVOKED"}

func (s KeyState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("KeyState(%d)", uint8(s))
}

// Hold-down times (RFC 5011 §2.4.1, §4): a new key is trusted after
// AddHoldDown; a revoked key is forgotten after RemoveHoldDown.
const (
	AddHoldDown    = 30 * 24 * time.Hour
	RemoveHoldDown = 30 * 24 * time.Hour
)

// TrackedKey is one key of a Tracker. Key never has the REVOKE bit: a
// revoked key is stored as it was before it was revoked.
type TrackedKey struct {
	Key   *dns.DNSKEY
	State KeyState
	// FirstSeen is when the key first appeared; Changed when its state
	// last changed (wall clock).
	FirstSeen, Changed time.Time
}

// Tracker follows the trust anchors of one zone through RFC 5011
// rollovers. It starts from the configured anchor (DS or DNSKEY records),
// which it uses only until the zone's key set has been seen once: from
// then on the tracked keys alone are trusted, so that a revoked key
// cannot come back from the configuration. It is safe for concurrent use.
//
// A Tracker does not fetch or validate anything: its caller hands it key
// sets already validated by the anchor the Tracker gave (Update), and
// stores its state (MarshalText) where it survives a restart.
type Tracker struct {
	mu        sync.Mutex // guards the fields below
	zone      string
	bootstrap *Anchor
	keys      []*TrackedKey
	updated   time.Time // last Update that saw a key set
}

// NewTracker returns a Tracker for the zone of bootstrap, with no keys
// tracked yet.
func NewTracker(bootstrap *Anchor) *Tracker {
	return &Tracker{zone: dns.CanonicalName(bootstrap.Zone), bootstrap: bootstrap}
}

// Zone returns the tracked zone.
func (t *Tracker) Zone() string { return t.zone }

// Keys returns a copy of the tracked keys.
func (t *Tracker) Keys() []TrackedKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TrackedKey, 0, len(t.keys))
	for _, k := range t.keys {
		out = append(out, *k)
	}
	return out
}

// Anchor returns what to trust now: the Valid and Missing keys as DNSKEY
// anchors, or the bootstrap anchor while no key set has been seen.
func (t *Tracker) Anchor() *Anchor {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.keys) == 0 {
		return t.bootstrap
	}
	a := &Anchor{Zone: t.zone}
	for _, k := range t.keys {
		if k.State == Valid || k.State == Missing {
			a.DNSKEY = append(a.DNSKEY, k.Key)
		}
	}
	return a
}

// keyID identifies a key whatever its REVOKE bit.
func keyID(k *dns.DNSKEY) string {
	return fmt.Sprintf("%d %d %d %s", k.Flags&^dns.REVOKE, k.Protocol, k.Algorithm, strings.TrimSpace(k.PublicKey))
}

func (t *Tracker) findLocked(k *dns.DNSKEY) *TrackedKey {
	id := keyID(k)
	for _, tk := range t.keys {
		if keyID(tk.Key) == id {
			return tk
		}
	}
	return nil
}

// Update takes rrs, the zone's DNSKEY RRset with its RRSIGs as an answer
// carried them, which the caller has validated as Secure with Anchor()
// at now (wall clock). It moves the keys' states on and reports whether
// anything changed (and should be saved). Only keys with the SEP flag
// take part, as RFC 5011 §6 has it for trust-anchor keys.
func (t *Tracker) Update(rrs []dns.RR, now time.Time) bool {
	var set []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range rrs {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			if dns.CanonicalName(x.Hdr.Name) == t.zone {
				set = append(set, x)
			}
		case *dns.RRSIG:
			if x.TypeCovered == dns.TypeDNSKEY {
				sigs = append(sigs, x)
			}
		}
	}
	if len(set) == 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	bootstrapping := len(t.keys) == 0
	changed := false
	set1 := func(tk *TrackedKey, s KeyState) {
		if tk.State != s {
			tk.State, tk.Changed, changed = s, now, true
		}
	}
	seen := map[string]bool{}
	for _, rr := range set {
		k := rr.(*dns.DNSKEY)
		if k.Flags&dns.SEP == 0 || k.Flags&dns.ZONE == 0 {
			continue
		}
		seen[keyID(k)] = true
		tk := t.findLocked(k)
		if k.Flags&dns.REVOKE != 0 {
			// RFC 5011 §2.1: only the key itself can revoke itself. An
			// unknown key's revocation is nothing to us.
			if tk != nil && revokedSelfSigned(set, sigs, k, t.zone, now) {
				set1(tk, Revoked)
			}
			continue
		}
		if tk == nil {
			tk = &TrackedKey{Key: dns.Copy(k).(*dns.DNSKEY), State: AddPend, FirstSeen: now, Changed: now}
			if bootstrapping && matchesAnchor(t.bootstrap, k) {
				tk.State = Valid
			}
			t.keys = append(t.keys, tk)
			changed = true
			continue
		}
		switch tk.State {
		case AddPend:
			if !now.Before(tk.FirstSeen.Add(AddHoldDown)) {
				set1(tk, Valid)
			}
		case Missing:
			set1(tk, Valid)
		}
	}
	t.keys = slices.DeleteFunc(t.keys, func(tk *TrackedKey) bool {
		if seen[keyID(tk.Key)] {
			return false
		}
		switch tk.State {
		case AddPend:
			// Gone before its hold-down ended: start over if it returns.
			changed = true
			return true
		case Valid:
			set1(tk, Missing)
		case Revoked:
			if !now.Before(tk.Changed.Add(RemoveHoldDown)) {
				changed = true
				return true
			}
		}
		return false
	})
	t.updated = now
	return changed
}

// matchesAnchor reports whether k is one of a's keys or digested by one of
// its DS records.
func matchesAnchor(a *Anchor, k *dns.DNSKEY) bool {
	for _, ak := range a.DNSKEY {
		if keyID(ak) == keyID(k) {
			return true
		}
	}
	for _, d := range a.DS {
		if dsMatches(d, k) {
			return true
		}
	}
	return false
}

// revokedSelfSigned reports whether the revoked key k signed the DNSKEY
// RRset set with one of sigs, within their validity (RFC 5011 §2.1).
// verifyRRset does not use revoked keys at all, so this checks directly.
func revokedSelfSigned(set []dns.RR, sigs []*dns.RRSIG, k *dns.DNSKEY, zone string, now time.Time) bool {
	tag := k.KeyTag()
	skew := int64(DefaultClockSkew / time.Second)
	nowSer := uint32(now.Unix())
	for _, sig := range sigs {
		if sig.KeyTag != tag || sig.Algorithm != k.Algorithm || dns.CanonicalName(sig.SignerName) != zone {
			continue
		}
		if int64(int32(sig.Inception-nowSer)) > skew || int64(int32(nowSer-sig.Expiration)) > skew {
			continue
		}
		data, err := signedData(set, sig)
		if err != nil {
			continue
		}
		raw, err := sigBytes(sig)
		if err != nil {
			continue
		}
		if verifySignature(k, sig.Algorithm, data, raw) == nil {
			return true
		}
	}
	return false
}

// The state is kept as master-file text that validators and people can
// read: each tracked key as a DNSKEY record with its state in a comment,
// as Unbound's auto-trust-anchor-file does.
//
//	; hush trust-anchor state (RFC 5011) for .
//	; updated 2026-12-06T01:00:00Z
//	. 172800 IN DNSKEY 257 3 8 AwEAAa... ;state=VALID first-seen=2026-... changed=2026-...
const stateHeader = "; hush trust-anchor state (RFC 5011) for "

// MarshalText returns the Tracker's state as text (see ParseTrackerState).
func (t *Tracker) MarshalText() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s\n; written by hush serve --trust-anchor-state; edit only while hush is stopped\n", stateHeader, t.zone)
	if !t.updated.IsZero() {
		fmt.Fprintf(&b, "; updated %s\n", t.updated.UTC().Format(time.RFC3339))
	}
	for _, tk := range t.keys {
		k := dns.Copy(tk.Key).(*dns.DNSKEY)
		k.Hdr.Ttl = 0
		line := strings.ReplaceAll(k.String(), "\t", " ")
		fmt.Fprintf(&b, "%s ;state=%s first-seen=%s changed=%s\n", line, tk.State,
			tk.FirstSeen.UTC().Format(time.RFC3339), tk.Changed.UTC().Format(time.RFC3339))
	}
	return b.Bytes(), nil
}

// LastUpdate returns when a validated key set was last seen, from the
// state or an Update since: a time the wall clock cannot plausibly be
// before. Zero if never.
func (t *Tracker) LastUpdate() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updated
}

// LoadState replaces the Tracker's keys with those of a state written by
// MarshalText. Records for another zone are an error, so that a file
// meant for another anchor is not silently half used.
func (t *Tracker) LoadState(text []byte) error {
	var keys []*TrackedKey
	var updated time.Time
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "; updated "); ok {
			u, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("dnssec: trust-anchor state: updated: %w", err)
			}
			updated = u
		}
	}
	zp := dns.NewZoneParser(bytes.NewReader(text), ".", "trust-anchor-state")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		k, isKey := rr.(*dns.DNSKEY)
		if !isKey || dns.CanonicalName(k.Hdr.Name) != t.zone {
			return fmt.Errorf("dnssec: trust-anchor state: %s: want DNSKEY records of %s", strings.ReplaceAll(rr.String(), "\t", " "), t.zone)
		}
		tk := &TrackedKey{Key: k}
		for _, f := range strings.Fields(strings.TrimPrefix(zp.Comment(), ";")) {
			name, v, _ := strings.Cut(f, "=")
			var err error
			switch name {
			case "state":
				for s, n := range stateNames {
					if n == v {
						tk.State = s
					}
				}
			case "first-seen":
				tk.FirstSeen, err = time.Parse(time.RFC3339, v)
			case "changed":
				tk.Changed, err = time.Parse(time.RFC3339, v)
			}
			if err != nil {
				return fmt.Errorf("dnssec: trust-anchor state: key %d: %s: %w", k.KeyTag(), name, err)
			}
		}
		if tk.State == 0 {
			return fmt.Errorf("dnssec: trust-anchor state: key %d: no state", k.KeyTag())
		}
		keys = append(keys, tk)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("dnssec: trust-anchor state: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keys, t.updated = keys, updated
	return nil
}
