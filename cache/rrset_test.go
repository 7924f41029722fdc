package cache

import (
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestRRsetRank(t *testing.T) {
	oldSet := []string{"example.com. 3600 IN NS old.example.net."}
	newSet := []string{"example.com. 3600 IN NS new.example.net."}
	tests := []struct {
		name     string
		old, new Rank
		at       time.Duration // when the new set arrives
		wantNew  bool
	}{
		{"higher replaces", RankAuthorityReferral, RankAnswer, time.Minute, true},
		{"equal replaces", RankAuthority, RankAuthority, time.Minute, true},
		{"lower kept out", RankAnswer, RankAdditional, time.Minute, false},
		{"referral cannot replace authoritative NS", RankAuthority, RankAuthorityReferral, time.Minute, false},
		{"nothing replaces validated", RankValidated, RankAnswer, time.Minute, false},
		{"lower replaces expired", RankAnswer, RankAdditional, 2 * time.Hour, true},
	}
	for _, tt := range tests {
		c := New(Config{})
		c.SetRRset(rrs(t, oldSet...), Meta{Rank: tt.old}, t0)
		now := t0.Add(tt.at)
		c.SetRRset(rrs(t, newSet...), Meta{Rank: tt.new}, now)
		got, meta, ok := c.GetRRset("example.com.", dns.TypeNS, dns.ClassINET, now)
		if !ok {
			t.Errorf("%s: miss, want a hit", tt.name)
			continue
		}
		gotNew := got[0].(*dns.NS).Ns == "new.example.net."
		wantRank := tt.old
		if tt.wantNew {
			wantRank = tt.new
		}
		if gotNew != tt.wantNew || meta.Rank != wantRank {
			t.Errorf("%s: new set stored = %v (rank %d), want %v (rank %d)", tt.name, gotNew, meta.Rank, tt.wantNew, wantRank)
		}
	}
}

func TestRRsetTTL(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		set     []string
		elapsed time.Duration
		want    []uint32 // nil: a miss
	}{
		{
			name: "lowest TTL of the set, decremented",
			set: []string{
				"ns1.example.com. 300 IN A 192.0.2.1",
				"ns1.example.com. 100 IN A 192.0.2.2",
			},
			elapsed: 40 * time.Second,
			want:    []uint32{60, 60},
		},
		{
			name:    "expired",
			set:     []string{"ns1.example.com. 100 IN A 192.0.2.1"},
			elapsed: 100 * time.Second,
		},
		{
			name: "raised to MinTTL",
			cfg:  Config{MinTTL: time.Minute},
			set:  []string{"ns1.example.com. 5 IN A 192.0.2.1"},
			want: []uint32{60},
		},
		{
			name: "capped at MaxTTL",
			cfg:  Config{MaxTTL: time.Hour},
			set:  []string{"ns1.example.com. 172800 IN A 192.0.2.1"},
			want: []uint32{3600},
		},
		{
			name: "TTL 0 not cached",
			set:  []string{"ns1.example.com. 0 IN A 192.0.2.1"},
		},
		{
			name: "with its RRSIG",
			set: []string{
				"ns1.example.com. 300 IN A 192.0.2.1",
				"ns1.example.com. 200 IN RRSIG A 8 3 300 20250701000000 20250501000000 12345 example.com. AAAA",
			},
			want: []uint32{200, 200},
		},
		{
			name: "RRSIG first",
			set: []string{
				"NS1.example.com. 200 IN RRSIG A 8 3 300 20250701000000 20250501000000 12345 example.com. AAAA",
				"ns1.example.com. 300 IN A 192.0.2.1",
			},
			want: []uint32{200, 200},
		},
		{
			name: "mixed owners rejected",
			set: []string{
				"ns1.example.com. 300 IN A 192.0.2.1",
				"ns2.example.com. 300 IN A 192.0.2.2",
			},
		},
		{
			name: "mixed types rejected",
			set: []string{
				"ns1.example.com. 300 IN A 192.0.2.1",
				"ns1.example.com. 300 IN TXT x",
			},
		},
		{
			name: "RRSIG over another type rejected",
			set: []string{
				"ns1.example.com. 300 IN A 192.0.2.1",
				"ns1.example.com. 300 IN RRSIG AAAA 8 3 300 20250701000000 20250501000000 12345 example.com. AAAA",
			},
		},
		{
			name: "only RRSIGs rejected",
			set:  []string{"ns1.example.com. 300 IN RRSIG A 8 3 300 20250701000000 20250501000000 12345 example.com. AAAA"},
		},
		{
			name: "empty set",
		},
	}
	for _, tt := range tests {
		c := New(tt.cfg)
		c.SetRRset(rrs(t, tt.set...), Meta{}, t0)
		got, _, ok := c.GetRRset("ns1.example.com.", dns.TypeA, dns.ClassINET, t0.Add(tt.elapsed))
		var gotTTLs []uint32
		for _, r := range got {
			gotTTLs = append(gotTTLs, r.Header().Ttl)
		}
		switch {
		case tt.want == nil && ok:
			t.Errorf("%s: hit with TTLs %v, want a miss", tt.name, gotTTLs)
		case tt.want != nil && !ok:
			t.Errorf("%s: miss, want TTLs %v", tt.name, tt.want)
		case ok && !slices.Equal(gotTTLs, tt.want):
			t.Errorf("%s: TTLs %v, want %v", tt.name, gotTTLs, tt.want)
		}
		if tt.want == nil && c.Len() != 0 {
			t.Errorf("%s: Len() = %d, want 0", tt.name, c.Len())
		}
	}
}

func TestRRsetKeys(t *testing.T) {
	c := New(Config{})
	c.SetRRset(rrs(t,
		"NS1.Example.COM. 300 IN A 192.0.2.1",
		"ns1.example.com. 300 IN A 192.0.2.2",
	), Meta{Rank: RankAdditional}, t0)
	for _, name := range []string{"ns1.example.com.", "NS1.EXAMPLE.COM.", "Ns1.Example.Com"} {
		got, _, ok := c.GetRRset(name, dns.TypeA, dns.ClassINET, t0)
		if !ok || len(got) != 2 {
			t.Errorf("GetRRset(%q) = %d records, %v; want 2, true", name, len(got), ok)
		}
	}
	if _, _, ok := c.GetRRset("ns1.example.com.", dns.TypeAAAA, dns.ClassINET, t0); ok {
		t.Errorf("GetRRset(AAAA) hit, want a miss")
	}
	if _, _, ok := c.GetRRset("ns1.example.com.", dns.TypeA, dns.ClassCHAOS, t0); ok {
		t.Errorf("GetRRset(CH) hit, want a miss")
	}
	// An RRset and a client answer for the same name and type are
	// separate entries.
	if _, _, ok := c.GetMsg(NewKey("ns1.example.com.", dns.TypeA, dns.ClassINET, false, false), t0); ok {
		t.Errorf("GetMsg found an RRset, want a miss")
	}
}

func TestRRsetIsCopied(t *testing.T) {
	c := New(Config{})
	set := rrs(t, "ns1.example.com. 300 IN A 192.0.2.1")
	c.SetRRset(set, Meta{}, t0)
	set[0].(*dns.A).A[3] = 99
	set[0].Header().Ttl = 1

	got, _, _ := c.GetRRset("ns1.example.com.", dns.TypeA, dns.ClassINET, t0)
	got[0].(*dns.A).A[3] = 98
	got[0].Header().Ttl = 2

	again, _, ok := c.GetRRset("ns1.example.com.", dns.TypeA, dns.ClassINET, t0)
	if !ok {
		t.Fatalf("GetRRset missed, want a hit")
	}
	if got, want := again[0].String(), "ns1.example.com.\t300\tIN\tA\t192.0.2.1"; got != want {
		t.Errorf("GetRRset = %q, want %q", got, want)
	}
}
