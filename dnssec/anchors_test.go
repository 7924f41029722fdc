package dnssec

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The root KSK-2017 public key (key tag 20326) as published by IANA; its
// SHA-256 digest must equal the embedded DS.
const rootKSK2017 = ". 172800 IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="

func TestRootAnchors(t *testing.T) {
	a := RootAnchors()
	root := a.Lookup(".")
	if root == nil || len(root.DS) != 2 {
		t.Fatalf("got %+v, want two root DS", root)
	}
	want := map[uint16]string{
		20326: "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
		38696: "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
	}
	for _, ds := range root.DS {
		if ds.Algorithm != dns.RSASHA256 || ds.DigestType != dns.SHA256 || !strings.EqualFold(ds.Digest, want[ds.KeyTag]) {
			t.Errorf("got %v, want tag %d alg 8 digest type 2 %s", ds, ds.KeyTag, want[ds.KeyTag])
		}
	}
	ksk := mustRR(t, rootKSK2017).(*dns.DNSKEY)
	if ksk.KeyTag() != 20326 {
		t.Fatalf("got key tag %d, want 20326", ksk.KeyTag())
	}
	matched := false
	for _, ds := range root.DS {
		matched = matched || dsMatches(ds, ksk)
	}
	if !matched {
		t.Errorf("KSK-2017 matches no embedded DS")
	}
}

func TestParseAnchorsAndClosest(t *testing.T) {
	text := `
; comments are fine
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
Example.COM. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
sub.example.com. IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b
`
	a, err := ParseAnchors(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3 {
		t.Fatalf("got %d zones, want 3", a.Len())
	}
	tests := []struct{ name, want string }{
		{"www.example.com.", "example.com."},
		{"EXAMPLE.com", "example.com."},
		{"a.b.sub.example.com.", "sub.example.com."},
		{"sub.example.com.", "sub.example.com."},
		{"example.org.", "."},
		{".", "."},
	}
	for _, tt := range tests {
		if got := a.Closest(tt.name); got == nil || got.Zone != tt.want {
			t.Errorf("Closest(%q): got %+v, want %s", tt.name, got, tt.want)
		}
	}
	if _, err := ParseAnchors(strings.NewReader("example. IN A 192.0.2.1")); err == nil {
		t.Errorf("A record as anchor: got nil error, want one")
	}
	if _, err := ParseAnchors(strings.NewReader("example. IN DS garbage")); err == nil {
		t.Errorf("bad DS: got nil error, want one")
	}
	var none *Anchors
	if none.Closest("example.") != nil || none.Len() != 0 {
		t.Errorf("nil anchors: want no anchor")
	}
}

func TestUnderNTA(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ntas := []NTA{
		{Name: "broken.example", Expires: now.Add(time.Hour)},
		{Name: "old.example.", Expires: now.Add(-time.Hour)},
		{Name: "forever.example."},
	}
	tests := []struct {
		name string
		want bool
	}{
		{"broken.example.", true},
		{"www.Broken.example.", true},
		{"notbroken.example.", false},
		{"www.old.example.", false},
		{"a.forever.example.", true},
		{"example.", false},
	}
	for _, tt := range tests {
		if got := UnderNTA(ntas, tt.name, now); got != tt.want {
			t.Errorf("UnderNTA(%q): got %v, want %v", tt.name, got, tt.want)
		}
	}
	if UnderNTA(ntas, "broken.example.", now.Add(2*time.Hour)) {
		t.Errorf("expired NTA still in force")
	}
}
