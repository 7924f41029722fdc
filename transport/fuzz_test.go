package transport

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzRespond feeds arbitrary bytes to the request path, as UDP and as TCP
// would: it must not panic, and whatever it answers must be a response to
// that query that unpacks and fits the transport's size limit.
func FuzzRespond(f *testing.F) {
	seeds := []*dns.Msg{
		query("example.com.", dns.TypeA, false, 0, false),
		query("ExAmPlE.CoM.", dns.TypeAAAA, true, 4096, true),
		query("big.example.", dns.TypeA, true, 1232, false),
		query("chain.example.", dns.TypeA, false, 0, false),
		query("glue.example.", dns.TypeA, true, 512, true),
		query("fail.example.", dns.TypeA, true, 1232, false),
		query("ede.example.", dns.TypeA, true, 1232, false),
		query("panic.example.", dns.TypeA, false, 0, false),
		query("www.example.com.", dns.TypeA, true, 1232, false),
	}
	for _, m := range seeds {
		f.Add(pack(f, m))
	}
	badvers := query("example.com.", dns.TypeA, true, 1232, false)
	badvers.IsEdns0().SetVersion(3)
	f.Add(pack(f, badvers))
	notify := query("example.com.", dns.TypeSOA, false, 0, false)
	notify.Opcode = dns.OpcodeNotify
	f.Add(pack(f, notify))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1})
	f.Add(make([]byte, 11))

	h := newCacheHandler(f)
	cfg := Config{Handler: cachedHandler{h, testHandler(f)}, QueryTimeout: time.Millisecond}.withDefaults()
	sc := newScratch()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range []proto{protoUDP, protoTCP} {
			for _, allowed := range []bool{true, false} {
				out, ok := cfg.respond(context.Background(), sc, raw, p, allowed)
				if !ok {
					continue
				}
				if len(raw) < headerSize {
					t.Fatalf("answered a %d-byte message", len(raw))
				}
				limit := tcpMaxSize
				if p == protoTCP {
					if len(out) < 2 || int(binary.BigEndian.Uint16(out)) != len(out)-2 {
						t.Fatalf("bad TCP frame")
					}
					out = out[2:]
				} else {
					limit = ednsSize
				}
				if len(out) > limit {
					t.Fatalf("got %d bytes, want <= %d", len(out), limit)
				}
				r := new(dns.Msg)
				if err := r.Unpack(out); err != nil {
					t.Fatalf("response does not unpack: %v", err)
				}
				if !r.Response || r.Id != binary.BigEndian.Uint16(raw) {
					t.Fatalf("got QR %v ID %d, want a response to ID %d", r.Response, r.Id, binary.BigEndian.Uint16(raw))
				}
				if !allowed && r.Rcode != dns.RcodeRefused && r.Rcode != dns.RcodeFormatError {
					t.Fatalf("client outside the ACL got rcode %s", dns.RcodeToString[r.Rcode])
				}
			}
		}
	})
}
