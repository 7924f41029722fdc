package resolver

import "math/rand/v2"

// 0x20 (draft-vixie-dnsext-dns0x20): the resolver writes the letters of
// the question it sends upstream in a random mix of upper and lower case,
// and a server that preserves case (nearly all do) echoes that exact
// spelling in its response's question. An off-path attacker forging a
// response must guess one bit per letter on top of the message ID and
// source port; a response whose question differs from the one sent only
// in case is a forgery, or comes from a server that does not preserve
// case, which the caller remembers per server and then stops
// randomising for (the fallback Knot Resolver uses).

// randomiseCase returns name (presentation format, as miekg/dns writes
// it) with each ASCII letter in a random case, and how many letters it
// had, the bits of entropy added. Escapes (\. and \DDD) are left as they
// are: what they stand for is not a letter of the text. The generator is
// math/rand/v2's, which is ChaCha8 seeded by the operating system and
// unpredictable to anyone outside the process.
func randomiseCase(name string) (string, int) {
	b := []byte(name)
	letters := 0
	var r uint64
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\\':
			i += escapeLen(b[i+1:])
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		default:
			continue
		}
		if letters%64 == 0 {
			r = rand.Uint64()
		}
		if r&1 == 1 {
			b[i] = c ^ 0x20
		}
		r >>= 1
		letters++
	}
	if letters == 0 {
		return name, 0
	}
	return string(b), letters
}

// escapeLen is how many bytes after a backslash belong to its escape:
// three for \DDD, one for \X, none at the end of the string.
func escapeLen(rest []byte) int {
	if len(rest) >= 3 && isDigit(rest[0]) && isDigit(rest[1]) && isDigit(rest[2]) {
		return 3
	}
	return min(1, len(rest))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// caseVerdict is how a response's question name compares with the one
// sent.
type caseVerdict uint8

const (
	caseExact   caseVerdict = iota // byte for byte the name sent
	caseDiffers                    // the same name in another case: spoofed, or a server that folds case
	caseOther                      // another name altogether
)

// compareCase compares the question name of a response, got, with the
// one sent. It does not decide what a difference in case means: the
// caller knows whether this server has been seen to fold case.
func compareCase(sent, got string) caseVerdict {
	if sent == got {
		return caseExact
	}
	if len(sent) != len(got) {
		return caseOther
	}
	for i := 0; i < len(sent); i++ {
		x, y := sent[i], got[i]
		if x != y && (x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z') {
			return caseOther
		}
	}
	return caseDiffers
}
