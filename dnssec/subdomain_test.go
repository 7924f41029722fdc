package dnssec

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestIsSubDomain: the same answers as dns.IsSubDomain, for chosen cases
// and random names built from pieces that exercise case, escapes, empty
// labels, missing final dots and the root.
func TestIsSubDomain(t *testing.T) {
	long := strings.Repeat("a.", 200)
	cases := [][2]string{
		{".", "."}, {".", "example."}, {"example.", "."}, {"", ""}, {"", "a."}, {"a.", ""},
		{"example.", "www.example."}, {"www.example.", "example."}, {"EXAMPLE.", "www.example."},
		{"example.", "example"}, {"example", "www.example"}, {"ample.", "example."},
		{`a\.b.example.`, `x.a\.b.example.`}, {`b.example.`, `a\.b.example.`}, {`\065.example.`, `a.example.`},
		{"a..b.", "x.a..b."}, {long, "b." + long}, {"a.", long}, {long, long},
	}
	for _, c := range cases {
		if got, want := IsSubDomain(c[0], c[1]), dns.IsSubDomain(c[0], c[1]); got != want {
			t.Errorf("IsSubDomain(%.30q, %.30q) = %v, want %v", c[0], c[1], got, want)
		}
	}
	pieces := []string{"a", "A", "b", "ex", `\.`, `\\`, `\065`, "", "."}
	name := func(r *rand.Rand) string {
		var b strings.Builder
		for range r.IntN(5) {
			b.WriteString(pieces[r.IntN(len(pieces))])
			if r.IntN(4) > 0 {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		child := name(r)
		parent := child
		if i := r.IntN(len(child) + 1); r.IntN(2) == 0 {
			parent = child[i:]
		} else {
			parent = name(r)
		}
		if got, want := IsSubDomain(parent, child), dns.IsSubDomain(parent, child); got != want {
			t.Fatalf("IsSubDomain(%q, %q) = %v, want %v", parent, child, got, want)
		}
	}
}

func TestIsSubDomainAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { IsSubDomain("Example.COM.", "www.a.example.com.") }); n != 0 {
		t.Errorf("IsSubDomain allocates %v times, want 0", n)
	}
}
