//go:build !noquic

package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/miekg/dns"
)

// FuzzDoQStream feeds arbitrary bytes, as everything a client sent on one
// stream before its FIN, to the DoQ stream reader and the DoQ request
// path. The reader must accept exactly one well-framed message and
// classify everything else, whether the bytes arrive at once or one at a
// time; an accepted message must get either a protocol error or a framed
// response with message ID 0 that unpacks, padded only to 468-octet
// blocks.
func FuzzDoQStream(f *testing.F) {
	q0 := func(m *dns.Msg) []byte {
		m.Id = 0
		return framed(pack(f, m))
	}
	good := q0(query("www.example.com.", dns.TypeA, true, 1232, true))
	for _, seed := range [][]byte{
		good,
		q0(query("example.com.", dns.TypeA, false, 0, false)),
		q0(query("big.example.", dns.TypeA, true, 1232, false)),
		q0(withOptions("example.com.", padOpt())),
		q0(withOptions("example.com.", keepOpt())),
		framed(pack(f, query("example.com.", dns.TypeA, false, 0, false))), // random ID
		append(good, good...),
		append([]byte{0x01, 0x00}, good[2:]...),
		good[:len(good)-1],
		{0},
		{0, 3, 1, 2, 3},
		{},
	} {
		f.Add(seed)
	}
	cfg := newPipeline(Config{Handler: cachedHandler{newCacheHandler(f), testHandler(f)}})
	sc := newScratch()
	reused := new(dns.Msg) // as the server's pool reuses one across streams
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf []byte
		raw, err := readDoQQuery(bytes.NewReader(data), &buf)
		var buf2 []byte
		raw2, err2 := readDoQQuery(iotest.OneByteReader(bytes.NewReader(data)), &buf2)
		if !errors.Is(err2, err) && !(err == nil && err2 == nil) || !bytes.Equal(raw, raw2) {
			t.Fatalf("whole: %v %x; byte by byte: %v %x", err, raw, err2, raw2)
		}
		size := -1
		if len(data) >= 2 {
			size = int(binary.BigEndian.Uint16(data))
		}
		var want error
		switch {
		case size < 0:
			want = errDoQTruncated
		case size < headerSize:
			want = errDoQTiny
		case len(data) < 2+size:
			want = errDoQTruncated
		case len(data) > 2+size:
			want = errDoQTrailing
		}
		if want != nil {
			if !errors.Is(err, want) {
				t.Fatalf("got %v; want %v", err, want)
			}
			return
		}
		if err != nil || !bytes.Equal(raw, data[2:]) {
			t.Fatalf("one well-framed message: got %v, %d bytes; want the message", err, len(raw))
		}

		q := reused
		var req request
		out, act, why := cfg.doqPrepare(sc, raw, q, &req, true)
		if act == actHandle {
			reused = new(dns.Msg)
		}
		if binary.BigEndian.Uint16(raw) != 0 && why == "" {
			t.Fatalf("message ID %d accepted", binary.BigEndian.Uint16(raw))
		}
		if why != "" {
			if out != nil || act != actDrop {
				t.Fatalf("protocol error %q with an answer", why)
			}
			return
		}
		if act == actHandle {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			out = cfg.finish(ctx, sc, q, &req, protoQUIC)
			cancel()
		}
		if len(out) < 2 || int(binary.BigEndian.Uint16(out)) != len(out)-2 {
			t.Fatalf("bad frame")
		}
		r := new(dns.Msg)
		if err := r.Unpack(out[2:]); err != nil {
			t.Fatalf("response does not unpack: %v", err)
		}
		if r.Id != 0 || !r.Response {
			t.Fatalf("got ID %d QR %v; want a response with ID 0", r.Id, r.Response)
		}
		if optionOf(r, dns.EDNS0PADDING) != nil && (len(out)-2)%padBlock != 0 {
			t.Fatalf("padded to %d bytes", len(out)-2)
		}
		if optionOf(r, dns.EDNS0TCPKEEPALIVE) != nil {
			t.Fatalf("edns-tcp-keepalive in a DoQ response")
		}
	})
}

// TestReadDoQQueryErrors checks that the reader passes on what the stream
// says (a reset, a deadline) rather than calling it a protocol error.
func TestReadDoQQueryErrors(t *testing.T) {
	boom := errors.New("stream reset")
	good := framed(pack(t, query("example.com.", dns.TypeA, false, 0, false)))
	for _, r := range []io.Reader{
		iotest.ErrReader(boom),
		io.MultiReader(bytes.NewReader(good[:5]), iotest.ErrReader(boom)),
		io.MultiReader(bytes.NewReader(good), iotest.ErrReader(boom)), // no FIN
	} {
		var buf []byte
		if _, err := readDoQQuery(r, &buf); !errors.Is(err, boom) {
			t.Errorf("got %v; want the stream's error", err)
		}
	}
}

// TestDoQPrepareReusedMsg: a message reused from a query with the
// edns-tcp-keepalive option must not make the next query, rejected from
// its header alone, a protocol error.
func TestDoQPrepareReusedMsg(t *testing.T) {
	cfg := newPipeline(Config{Handler: testHandler(t)})
	sc := newScratch()
	q := new(dns.Msg)
	var req request
	keep := withOptions("example.com.", keepOpt())
	keep.Id = 0
	if _, _, why := cfg.doqPrepare(sc, pack(t, keep), q, &req, true); why == "" {
		t.Fatalf("keepalive query: no protocol error")
	}
	notify := query("example.com.", dns.TypeSOA, false, 0, false)
	notify.Id, notify.Opcode = 0, dns.OpcodeNotify
	out, act, why := cfg.doqPrepare(sc, pack(t, notify), q, &req, true)
	if why != "" || act != actReply {
		t.Fatalf("NOTIFY after a keepalive query: got %q, action %d; want a reply", why, act)
	}
	r := new(dns.Msg)
	if err := r.Unpack(out[2:]); err != nil || r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: got %v, %v; want NOTIMP", r, err)
	}
}
