package cookie

import "testing"

// TestSipHash24 checks the reference vectors of the SipHash paper
// (Appendix A and vectors.h: key 00..0f, message 00..len-1).
func TestSipHash24(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tc := range []struct {
		len  int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{2, 0x0d6c8009d9a94f5a},
		{3, 0x85676696d7fb7e2d},
		{15, 0xa129ca6149be45e5}, // the paper's worked example
	} {
		if got := sipHash24(&key, msg[:tc.len]); got != tc.want {
			t.Errorf("sipHash24(%d octets) = %#x; want %#x", tc.len, got, tc.want)
		}
	}
}

func BenchmarkSipHash24(b *testing.B) {
	var key [16]byte
	msg := make([]byte, 32) // a cookie with an IPv6 address
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		sipHash24(&key, msg)
	}
}
