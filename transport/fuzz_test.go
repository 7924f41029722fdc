package transport

import (
	"context"
	"encoding/binary"
	"reflect"
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
	f.Add(pack(f, withOptions("example.com.", keepOpt(), padOpt())))

	h := newCacheHandler(f)
	cfg := newPipeline(Config{Handler: cachedHandler{h, testHandler(f)}})
	sc := newScratch()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range []proto{protoUDP, protoTCP, protoTLS, protoHTTPS, protoQUIC} {
			for _, allowed := range []bool{true, false} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				out, ok := cfg.respond(ctx, sc, raw, p, allowed)
				cancel()
				if !ok {
					continue
				}
				if len(raw) < headerSize {
					t.Fatalf("answered a %d-byte message", len(raw))
				}
				limit := tcpMaxSize
				if p.framed() {
					if len(out) < 2 || int(binary.BigEndian.Uint16(out)) != len(out)-2 {
						t.Fatalf("bad TCP frame")
					}
					out = out[2:]
				}
				if !p.stream() {
					limit = ednsSize
				}
				if len(out) > limit {
					t.Fatalf("got %d bytes, want <= %d", len(out), limit)
				}
				r := new(dns.Msg)
				if err := r.Unpack(out); err != nil {
					t.Fatalf("response does not unpack: %v", err)
				}
				if optionOf(r, dns.EDNS0PADDING) != nil && (!p.encrypted() || len(out)%padBlock != 0) {
					t.Fatalf("got a padded %d-byte response over proto %d", len(out), p)
				}
				if optionOf(r, dns.EDNS0TCPKEEPALIVE) != nil && !p.keepalive() {
					t.Fatalf("edns-tcp-keepalive over proto %d", p)
				}
				if !r.Response || r.Id != binary.BigEndian.Uint16(raw) {
					t.Fatalf("got QR %v ID %d, want a response to ID %d", r.Response, r.Id, binary.BigEndian.Uint16(raw))
				}
				switch r.Rcode {
				case dns.RcodeRefused, dns.RcodeFormatError, dns.RcodeNotImplemented:
				default:
					if !allowed {
						t.Fatalf("client outside the ACL got rcode %s", dns.RcodeToString[r.Rcode])
					}
				}
			}
		}
	})
}

// FuzzUnpackQuery checks unpackQuery against (*dns.Msg).Unpack on every
// message whose header prepare lets through: same header, question and
// additional records, except where unpackQuery is documented to be
// stricter (a question cut short).
func FuzzUnpackQuery(f *testing.F) {
	for _, m := range []*dns.Msg{
		query("example.com.", dns.TypeA, false, 0, false),
		query("ExAmPlE.CoM.", dns.TypeAAAA, true, 4096, true),
		func() *dns.Msg {
			m := query("example.com.", dns.TypeA, true, 1232, false)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
			return m
		}(),
		func() *dns.Msg {
			m := query("example.com.", dns.TypeA, true, 1232, false)
			m.Extra = append(m.Extra, m.Extra[0])
			return m
		}(),
	} {
		f.Add(pack(f, m))
	}
	reused := new(dns.Msg)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < headerSize {
			return
		}
		raw = append([]byte(nil), raw...)
		copy(raw[4:], []byte{0, 1, 0, 0, 0, 0, 0, raw[11] % 3})
		want := new(dns.Msg)
		wantErr := want.Unpack(raw)
		// Run twice on one message, as a UDP reader does across hits.
		for range 2 {
			gotErr := unpackQuery(reused, raw)
			if _, off, err := dns.UnpackDomainName(raw, headerSize); err == nil && off+4 > len(raw) {
				if gotErr == nil {
					t.Fatalf("question cut short: got no error")
				}
				return
			}
			if len(raw) == headerSize {
				return // Unpack accepts a bare header; we reject it, as prepare would
			}
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("got error %v, want %v", gotErr, wantErr)
			}
			if gotErr != nil {
				return
			}
			if !reflect.DeepEqual(reused.MsgHdr, want.MsgHdr) {
				t.Fatalf("header: got %+v, want %+v", reused.MsgHdr, want.MsgHdr)
			}
			if !reflect.DeepEqual(reused.Question, want.Question) {
				t.Fatalf("question: got %v, want %v", reused.Question, want.Question)
			}
			if len(reused.Extra) != len(want.Extra) {
				t.Fatalf("additional: got %d records, want %d", len(reused.Extra), len(want.Extra))
			}
			for i := range want.Extra {
				if g, w := reused.Extra[i].String(), want.Extra[i].String(); g != w || *reused.Extra[i].Header() != *want.Extra[i].Header() {
					t.Fatalf("additional %d: got %s, want %s", i, g, w)
				}
			}
		}
	})
}
