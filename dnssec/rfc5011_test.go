package dnssec

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTrackerRollover walks one root KSK rollover through RFC 5011's
// states: a new key waits out the 30-day hold-down, the old one is revoked
// by itself and forgotten, and the state survives a restart.
func TestTrackerRollover(t *testing.T) {
	old := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	next := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	zsk := newKey(t, ".", dns.ECDSAP256SHA256, 256)
	forger := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	revokedOld := func() *dns.DNSKEY {
		k := dns.Copy(old.key).(*dns.DNSKEY)
		k.Flags |= dns.REVOKE
		return k
	}()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// answer is a DNSKEY answer holding keys, signed by signers.
	answer := func(at time.Time, keys []*dns.DNSKEY, signers ...testKey) []dns.RR {
		var set []dns.RR
		for _, k := range keys {
			set = append(set, k)
		}
		out := append([]dns.RR(nil), set...)
		for _, s := range signers {
			out = append(out, s.signWindow(t, set, at.Add(-time.Hour), at.Add(14*24*time.Hour)))
		}
		return out
	}
	asRevoker := testKey{key: revokedOld, priv: old.priv}
	day := func(n int) time.Time { return start.Add(time.Duration(n) * 24 * time.Hour) }

	tr := NewTracker(&Anchor{Zone: ".", DS: []*dns.DS{old.key.ToDS(dns.SHA256)}})
	steps := []struct {
		name    string
		at      time.Time
		rrs     []dns.RR
		changed bool
		want    map[uint16]KeyState // by key tag of the unrevoked key
		trusted []uint16
	}{
		{"bootstrap from the DS", day(0), answer(day(0), []*dns.DNSKEY{old.key, zsk.key}, old), true,
			map[uint16]KeyState{old.key.KeyTag(): Valid}, []uint16{old.key.KeyTag()}},
		{"new KSK published", day(1), answer(day(1), []*dns.DNSKEY{old.key, next.key, zsk.key}, old), true,
			map[uint16]KeyState{old.key.KeyTag(): Valid, next.key.KeyTag(): AddPend}, []uint16{old.key.KeyTag()}},
		{"still in hold-down", day(30), answer(day(30), []*dns.DNSKEY{old.key, next.key, zsk.key}, old), false,
			map[uint16]KeyState{old.key.KeyTag(): Valid, next.key.KeyTag(): AddPend}, []uint16{old.key.KeyTag()}},
		{"hold-down over", day(31), answer(day(31), []*dns.DNSKEY{old.key, next.key, zsk.key}, old), true,
			map[uint16]KeyState{old.key.KeyTag(): Valid, next.key.KeyTag(): Valid}, []uint16{old.key.KeyTag(), next.key.KeyTag()}},
		{"revocation not signed by the key itself", day(40), answer(day(40), []*dns.DNSKEY{revokedOld, next.key, zsk.key}, next, forger), false,
			map[uint16]KeyState{old.key.KeyTag(): Valid, next.key.KeyTag(): Valid}, []uint16{old.key.KeyTag(), next.key.KeyTag()}},
		{"old KSK revokes itself", day(41), answer(day(41), []*dns.DNSKEY{revokedOld, next.key, zsk.key}, next, asRevoker), true,
			map[uint16]KeyState{old.key.KeyTag(): Revoked, next.key.KeyTag(): Valid}, []uint16{next.key.KeyTag()}},
		{"revoked key gone, kept for the remove hold-down", day(50), answer(day(50), []*dns.DNSKEY{next.key, zsk.key}, next), false,
			map[uint16]KeyState{old.key.KeyTag(): Revoked, next.key.KeyTag(): Valid}, []uint16{next.key.KeyTag()}},
		{"revoked key forgotten", day(72), answer(day(72), []*dns.DNSKEY{next.key, zsk.key}, next), true,
			map[uint16]KeyState{next.key.KeyTag(): Valid}, []uint16{next.key.KeyTag()}},
		{"a pending key that leaves starts over", day(73), answer(day(73), []*dns.DNSKEY{next.key, forger.key, zsk.key}, next), true,
			map[uint16]KeyState{next.key.KeyTag(): Valid, forger.key.KeyTag(): AddPend}, []uint16{next.key.KeyTag()}},
		{"gone", day(74), answer(day(74), []*dns.DNSKEY{next.key, zsk.key}, next), true,
			map[uint16]KeyState{next.key.KeyTag(): Valid}, []uint16{next.key.KeyTag()}},
	}
	for _, s := range steps {
		if got := tr.Update(s.rrs, s.at); got != s.changed {
			t.Errorf("%s: Update reported change %v, want %v", s.name, got, s.changed)
		}
		// A restart in between every step: the state goes through text.
		text, err := tr.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		tr = NewTracker(&Anchor{Zone: ".", DS: []*dns.DS{old.key.ToDS(dns.SHA256)}})
		if err := tr.LoadState(text); err != nil {
			t.Fatalf("%s: LoadState: %v\n%s", s.name, err, text)
		}
		got := map[uint16]KeyState{}
		for _, k := range tr.Keys() {
			got[k.Key.KeyTag()] = k.State
		}
		if len(got) != len(s.want) {
			t.Errorf("%s: states %v, want %v", s.name, got, s.want)
		}
		for tag, st := range s.want {
			if got[tag] != st {
				t.Errorf("%s: key %d is %v, want %v", s.name, tag, got[tag], st)
			}
		}
		var trusted []uint16
		for _, k := range tr.Anchor().DNSKEY {
			trusted = append(trusted, k.KeyTag())
		}
		if len(trusted) != len(s.trusted) {
			t.Errorf("%s: trusted %v, want %v", s.name, trusted, s.trusted)
		}
		for i := range trusted {
			if i < len(s.trusted) && trusted[i] != s.trusted[i] {
				t.Errorf("%s: trusted %v, want %v", s.name, trusted, s.trusted)
			}
		}
		if lu := tr.LastUpdate(); !lu.Equal(s.at) {
			t.Errorf("%s: LastUpdate %v, want %v", s.name, lu, s.at)
		}
	}
}

func TestTrackerMissingKeyStaysTrusted(t *testing.T) {
	a := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	b := newKey(t, ".", dns.ECDSAP256SHA256, 257)
	tr := NewTracker(&Anchor{Zone: ".", DNSKEY: []*dns.DNSKEY{a.key, b.key}})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.Update([]dns.RR{a.key, b.key}, now)
	tr.Update([]dns.RR{a.key}, now.Add(time.Hour))
	states := map[uint16]KeyState{}
	for _, k := range tr.Keys() {
		states[k.Key.KeyTag()] = k.State
	}
	if states[b.key.KeyTag()] != Missing || len(tr.Anchor().DNSKEY) != 2 {
		t.Errorf("after b left: %v, %d trusted; want b Missing and both trusted", states, len(tr.Anchor().DNSKEY))
	}
	tr.Update([]dns.RR{a.key, b.key}, now.Add(2*time.Hour))
	for _, k := range tr.Keys() {
		if k.State != Valid {
			t.Errorf("after b came back: key %d %v, want VALID", k.Key.KeyTag(), k.State)
		}
	}
}

func TestTrackerLoadStateRejects(t *testing.T) {
	tr := NewTracker(&Anchor{Zone: "."})
	for _, text := range []string{
		"example. 0 IN DNSKEY 257 3 13 AAAA ;state=VALID first-seen=2026-01-01T00:00:00Z changed=2026-01-01T00:00:00Z\n",
		". 0 IN DS 1 13 2 AAAA\n",
		". 0 IN DNSKEY 257 3 13 AAAA\n",
		". 0 IN DNSKEY 257 3 13 AAAA ;state=VALID first-seen=yesterday\n",
	} {
		if err := tr.LoadState([]byte(text)); err == nil {
			t.Errorf("LoadState(%q): no error", text)
		}
	}
}
