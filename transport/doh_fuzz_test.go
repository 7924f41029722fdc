//go:build !nohttp

package transport

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzDoHDecode feeds arbitrary requests to the DoH request decoder and
// what it accepts to the pipeline: nothing may panic, every rejection is
// one of the documented statuses, an accepted query fits a DNS message,
// and Cache-Control is computed for whatever comes back (and for the raw
// bytes, as if they were a response).
func FuzzDoHDecode(f *testing.F) {
	good := pack(f, query("example.com.", dns.TypeA, true, 1232, false))
	b64 := base64.RawURLEncoding.EncodeToString(good)
	f.Add(false, "dns="+b64, "", []byte(nil))
	f.Add(false, "dns="+b64+"==", "", []byte(nil))
	f.Add(false, "dns=%41AAA&x=1", "", []byte(nil))
	f.Add(false, "dns=!!", "", []byte(nil))
	f.Add(false, "name=example.com&type=AAAA&do=1&cd=true", "", []byte(nil))
	f.Add(false, "name=a..b&type=A", "", []byte(nil))
	f.Add(false, "name=example.com&type=TYPE65535&ct=application/dns-message", "", []byte(nil))
	f.Add(false, "ct=application/dns-json", "", []byte(nil))
	f.Add(false, "name=%zz", "", []byte(nil))
	f.Add(true, "", mediaDNSMessage, good)
	f.Add(true, "", "application/dns-message; charset=utf-8", good[:5])
	f.Add(true, "", "text/plain", good)

	cfg := newPipeline(Config{Handler: cachedHandler{newCacheHandler(f), testHandler(f)}})
	sc := newScratch()
	buf := make([]byte, tcpMaxSize+1)
	statuses := map[int]bool{http.StatusBadRequest: true, http.StatusUnsupportedMediaType: true, http.StatusRequestEntityTooLarge: true}
	f.Fuzz(func(t *testing.T, post bool, rawQuery, contentType string, body []byte) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		b, cl := buf, int64(len(body))
		if post {
			// As ServeHTTP reads a body: into a growing buffer,
			// whose first size depends on Content-Length, which
			// HTTP/2 and HTTP/3 clients may leave out.
			b = nil
			if len(body) > 0 && body[0]&1 != 0 {
				cl = -1
			}
		}
		dr, status, msg := decodeRequest(nil, method, rawQuery, contentType, cl, bytes.NewReader(body), b)
		_ = cacheControl(body)
		if status != 0 {
			if !statuses[status] || msg == "" {
				t.Fatalf("status %d, message %q", status, msg)
			}
			return
		}
		if len(dr.raw) > tcpMaxSize {
			t.Fatalf("accepted a %d-octet query", len(dr.raw))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		out, ok := cfg.respond(ctx, sc, dr.raw, protoHTTPS, true)
		if !ok {
			return
		}
		var m dns.Msg
		if err := m.Unpack(out); err != nil {
			t.Fatalf("answer does not unpack: %v", err)
		}
		_ = cacheControl(out)
		if dr.json {
			_ = toJSON(&m)
		}
	})
}
