package resolver

import (
	"strings"
	"testing"
)

func TestRandomiseCase(t *testing.T) {
	for _, tc := range []struct {
		name    string
		letters int
	}{
		{".", 0},
		{"example.com.", 10},
		{"1.2.3.4.in-addr.arpa.", 10},
		{`a\.b.example.`, 9},
		{`\065\066.example.`, 7},
		{"xn--bcher-kva.example.", 17},
		{strings.Repeat("abcdefghij.", 20), 200},
		{`trailing\`, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			distinct := map[string]bool{}
			for range 64 {
				got, n := randomiseCase(tc.name)
				if n != tc.letters {
					t.Fatalf("randomiseCase(%q) letters = %d; want %d", tc.name, n, tc.letters)
				}
				if v := compareCase(tc.name, got); v == caseOther {
					t.Fatalf("randomiseCase(%q) = %q, another name", tc.name, got)
				}
				distinct[got] = true
			}
			// 64 draws of >= 7 random bits: all alike is a broken generator.
			if tc.letters >= 7 && len(distinct) < 2 {
				t.Errorf("randomiseCase(%q) gave one spelling in 64 draws", tc.name)
			}
			if tc.letters == 0 && len(distinct) != 1 {
				t.Errorf("randomiseCase(%q) changed a name without letters", tc.name)
			}
		})
	}
}

func TestRandomiseCaseKeepsEscapes(t *testing.T) {
	for range 64 {
		got, _ := randomiseCase(`\097\.b.`)
		if !strings.HasPrefix(got, `\097\.`) {
			t.Fatalf("randomiseCase changed an escape: %q", got)
		}
	}
}

func TestCompareCase(t *testing.T) {
	for _, tc := range []struct {
		sent, got string
		want      caseVerdict
	}{
		{"ExAmPle.CoM.", "ExAmPle.CoM.", caseExact},
		{"ExAmPle.CoM.", "example.com.", caseDiffers},
		{"ExAmPle.CoM.", "EXAMPLE.COM.", caseDiffers},
		{"example.com.", "example.net.", caseOther},
		{"example.com.", "example.com", caseOther},
		{"a-b.", "a\rb.", caseOther}, // '-'|0x20 == '\r'|0x20 but neither is a letter
		{"a@.", "a`.", caseOther},    // '@' and '`' differ by 0x20 only
		{"1.", "1.", caseExact},
	} {
		if got := compareCase(tc.sent, tc.got); got != tc.want {
			t.Errorf("compareCase(%q, %q) = %d; want %d", tc.sent, tc.got, got, tc.want)
		}
	}
}

// FuzzRandomiseCase: the result is always the same name in another case,
// of the same length, with escapes untouched.
func FuzzRandomiseCase(f *testing.F) {
	for _, s := range []string{".", "example.com.", `\065b\.c.`, `x\`, `\1`, "ÄbC."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, n := randomiseCase(name)
		if len(got) != len(name) {
			t.Fatalf("randomiseCase(%q) = %q: length changed", name, got)
		}
		if compareCase(name, got) == caseOther {
			t.Fatalf("randomiseCase(%q) = %q: another name", name, got)
		}
		if n == 0 && got != name {
			t.Fatalf("randomiseCase(%q) = %q with no letters", name, got)
		}
		if !strings.EqualFold(name, got) {
			t.Fatalf("randomiseCase(%q) = %q: not equal ignoring case", name, got)
		}
	})
}
