package dnssec

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// nsecZone is a small NSEC-signed zone, in canonical order:
//
//	example.        SOA NS DNSKEY
//	a.example.      A
//	b.c.example.    A            (c.example. is an empty non-terminal)
//	d.example.      NS           (unsigned delegation: no DS)
//	*.w.example.    MX           (w.example. is an empty non-terminal)
//	x.w.example.    MX
var nsecZone = []string{
	"example. 3600 IN NSEC a.example. NS SOA RRSIG NSEC DNSKEY",
	"a.example. 3600 IN NSEC b.c.example. A RRSIG NSEC",
	"b.c.example. 3600 IN NSEC d.example. A RRSIG NSEC",
	"d.example. 3600 IN NSEC *.w.example. NS RRSIG NSEC",
	"*.w.example. 3600 IN NSEC x.w.example. MX RRSIG NSEC",
	"x.w.example. 3600 IN NSEC example. MX RRSIG NSEC",
}

func nsecs(t testing.TB, owners ...string) []*dns.NSEC {
	t.Helper()
	var out []*dns.NSEC
	for _, s := range nsecZone {
		n := mustRR(t, s).(*dns.NSEC)
		for _, o := range owners {
			if n.Hdr.Name == o {
				out = append(out, n)
			}
		}
	}
	return out
}

func TestCanonicalCompare(t *testing.T) {
	// RFC 4034 §6.1's example order.
	order := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	for i := 0; i+1 < len(order); i++ {
		if got := CanonicalCompare(order[i], order[i+1]); got != -1 {
			t.Errorf("compare(%s, %s): got %d, want -1", order[i], order[i+1], got)
		}
		if got := CanonicalCompare(order[i+1], order[i]); got != 1 {
			t.Errorf("compare(%s, %s): got %d, want 1", order[i+1], order[i], got)
		}
	}
	if got := CanonicalCompare("A.example.", "a.EXAMPLE"); got != 0 {
		t.Errorf("case: got %d, want 0", got)
	}
	// A name that does not pack (a label over 63 octets) sorts as the root.
	long := strings.Repeat("x", 64) + ".example."
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{long, ".", 0},
		{long, "example.", -1},
		{"example.", long, 1},
		// The most labels a name holds: 127 one-octet labels.
		{strings.Repeat("a.", 127), strings.Repeat("a.", 126), 1},
		{strings.Repeat("a.", 126) + "b.", strings.Repeat("a.", 127), 1},
	} {
		if got := CanonicalCompare(tt.a, tt.b); got != tt.want {
			t.Errorf("compare(%.20s…, %.20s…): got %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestCanonicalCompareAllocs: the NSEC proofs and the aggressive NSEC
// cache compare names all the time; a comparison of fully qualified names
// allocates nothing.
func TestCanonicalCompareAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { CanonicalCompare("Z.a.example.", "zABC.a.EXAMPLE.") }); n != 0 {
		t.Errorf("CanonicalCompare allocates %v times, want 0", n)
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		nsec, name string
		want       bool
	}{
		{"a.example. 1 IN NSEC b.c.example. A", "b.example.", true},
		{"a.example. 1 IN NSEC b.c.example. A", "a.example.", false},
		{"a.example. 1 IN NSEC b.c.example. A", "b.c.example.", false},
		{"a.example. 1 IN NSEC b.c.example. A", "c.example.", true},
		{"a.example. 1 IN NSEC b.c.example. A", "x.a.example.", true},
		{"x.w.example. 1 IN NSEC example. MX", "z.example.", true}, // wraps at the end
		{"x.w.example. 1 IN NSEC example. MX", "a.example.", false},
		{"x.w.example. 1 IN NSEC example. MX", "other.", false},
		{"d.example. 1 IN NSEC e.example. NS", "x.d.example.", false}, // below a delegation
		{"d.example. 1 IN NSEC e.example. DNAME", "x.d.example.", false},
		{"d.example. 1 IN NSEC e.example. NS SOA", "x.d.example.", true},
	}
	for _, tt := range tests {
		if got := Covers(mustRR(t, tt.nsec).(*dns.NSEC), tt.name); got != tt.want {
			t.Errorf("Covers(%q, %s): got %v, want %v", tt.nsec, tt.name, got, tt.want)
		}
	}
	if Covers(nil, "example.") {
		t.Errorf("nil NSEC covers")
	}
}

func TestNSECProofs(t *testing.T) {
	all := []string{"example.", "a.example.", "b.c.example.", "d.example.", "*.w.example.", "x.w.example."}
	tests := []struct {
		name  string
		proof func() Result
		want  Status
	}{
		{"nxdomain", func() Result { return NSECNameError("b.example.", "example.", nsecs(t, "a.example.", "example.")) }, Secure},
		{"nxdomain without wildcard denial", func() Result { return NSECNameError("b.example.", "example.", nsecs(t, "a.example.")) }, Bogus},
		{"nxdomain for an existing name", func() Result { return NSECNameError("a.example.", "example.", nsecs(t, all...)) }, Bogus},
		{"nxdomain under a wildcard", func() Result { return NSECNameError("z.w.example.", "example.", nsecs(t, all...)) }, Bogus},
		{"nxdomain for an ent", func() Result { return NSECNameError("c.example.", "example.", nsecs(t, all...)) }, Bogus},
		{"nodata", func() Result { return NSECNoData("a.example.", dns.TypeAAAA, "example.", nsecs(t, "a.example.")) }, Secure},
		{"nodata type present", func() Result { return NSECNoData("a.example.", dns.TypeA, "example.", nsecs(t, "a.example.")) }, Bogus},
		{"nodata empty non-terminal", func() Result { return NSECNoData("c.example.", dns.TypeA, "example.", nsecs(t, "a.example.")) }, Secure},
		{"nodata ds insecure delegation", func() Result { return NSECNoData("d.example.", dns.TypeDS, "example.", nsecs(t, "d.example.")) }, Secure},
		{"nodata other type at delegation", func() Result { return NSECNoData("d.example.", dns.TypeA, "example.", nsecs(t, "d.example.")) }, Bogus},
		{"nodata ds from child apex", func() Result { return NSECNoData("example.", dns.TypeDS, "example.", nsecs(t, "example.")) }, Bogus},
		{"wildcard nodata", func() Result {
			return NSECNoData("z.w.example.", dns.TypeAAAA, "example.", nsecs(t, "x.w.example.", "*.w.example."))
		}, Secure},
		{"wildcard nodata type present", func() Result {
			return NSECNoData("z.w.example.", dns.TypeMX, "example.", nsecs(t, "x.w.example.", "*.w.example."))
		}, Bogus},
		{"wildcard answer", func() Result {
			return NSECWildcard("z.w.example.", "*.w.example.", "example.", nsecs(t, "x.w.example."))
		}, Secure},
		{"wildcard answer with closer name", func() Result {
			return NSECWildcard("a.x.w.example.", "*.w.example.", "example.", nsecs(t, "x.w.example."))
		}, Bogus},
		{"wildcard answer without denial", func() Result { return NSECWildcard("z.w.example.", "*.w.example.", "example.", nil) }, Bogus},
		{"records outside zone ignored", func() Result { return NSECNameError("b.example.", "other.", nsecs(t, "a.example.", "example.")) }, Bogus},
		{"black lie nodata", func() Result {
			return NSECNoData("nx.example.", dns.TypeA, "example.", []*dns.NSEC{mustRR(t, "nx.example. 1 IN NSEC \\000.nx.example. RRSIG NSEC").(*dns.NSEC)})
		}, Secure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.proof()
			if got.Status != tt.want {
				t.Fatalf("got %v (%v), want %v", got.Status, got.Err, tt.want)
			}
			if code, ok := EDE(got.Err); got.Status == Bogus && (!ok || code != dns.ExtendedErrorCodeNSECMissing) {
				t.Errorf("got EDE %d, want 12", code)
			}
		})
	}
}
