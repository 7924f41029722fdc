//go:build !noquic

package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go/http3"
)

// dohTestServer is a DoHServer on loopback with TCP and UDP on one port.
type dohTestServer struct {
	s    *DoHServer
	port int
	cc   *tls.Config // trusts the server's certificate
	url  string      // https://127.0.0.1:PORT/dns-query
}

// listenSamePort binds TCP and UDP on one free loopback port.
func listenSamePort(t testing.TB) (net.Listener, net.PacketConn) {
	t.Helper()
	for range 16 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		pc, err := net.ListenPacket("udp", l.Addr().String())
		if err == nil {
			return l, pc
		}
		l.Close()
	}
	t.Fatal("no port free for both TCP and UDP")
	return nil, nil
}

// startDoH serves cfg over DoH (h1, h2 and h3) and shuts the server down
// at cleanup, checking that both Serve calls return ErrServerClosed.
func startDoH(t testing.TB, cfg Config, opts DoHOptions) *dohTestServer {
	t.Helper()
	l, pc := listenSamePort(t)
	sc, cc := testCert(t)
	cc = cc.Clone()
	cc.NextProtos = nil
	s := NewDoHServer(cfg, sc, opts)
	done := make(chan error, 2)
	go func() { done <- s.Serve(l) }()
	go func() { done <- s.ServeQUIC(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if err := <-done; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: got %v, want ErrServerClosed", err)
			}
		}
		pc.Close()
	})
	// Alt-Svc is on offer once ServeQUIC listens: tests that check it
	// must not race that goroutine.
	dohWaitFor(t, "ServeQUIC to listen", func() bool {
		s.altSvc.RLock()
		defer s.altSvc.RUnlock()
		return s.altSvc.v != nil
	})
	port := l.Addr().(*net.TCPAddr).Port
	path := opts.Path
	if path == "" {
		path = DefaultDoHPath
	}
	return &dohTestServer{s: s, port: port, cc: cc, url: fmt.Sprintf("https://127.0.0.1:%d%s", port, path)}
}

// client returns an HTTP client that speaks only proto ("h1", "h2" or
// "h3") and closes its connections at cleanup.
func (ts *dohTestServer) client(t testing.TB, proto string) *http.Client {
	t.Helper()
	var rt http.RoundTripper
	switch proto {
	case "h3":
		tr := &http3.Transport{TLSClientConfig: ts.cc.Clone()}
		t.Cleanup(func() { tr.Close() })
		rt = tr
	default:
		var p http.Protocols
		if proto == "h1" {
			p.SetHTTP1(true)
		} else {
			p.SetHTTP2(true)
		}
		tr := &http.Transport{TLSClientConfig: ts.cc.Clone(), Protocols: &p}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	}
	return &http.Client{Transport: rt, Timeout: testTimeout}
}

var dohProtos = []string{"h1", "h2", "h3"}

// wantProto is the Proto string of a response over proto.
func wantProto(proto string) string {
	return map[string]string{"h1": "HTTP/1.1", "h2": "HTTP/2.0", "h3": "HTTP/3.0"}[proto]
}

// doRequest sends a request and returns the response with its body read.
func doRequest(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		u := req.URL.String()
		if len(u) > 100 {
			u = u[:100] + "..."
		}
		t.Fatalf("%s %s: %v", req.Method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, body
}

func newReq(t testing.TB, method, url, ctype string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

func getURL(base string, msg []byte) string {
	return base + "?dns=" + base64.RawURLEncoding.EncodeToString(msg)
}

// askDoH sends m over proto with method and unpacks the 200 answer.
func askDoH(t testing.TB, ts *dohTestServer, c *http.Client, method string, m *dns.Msg) (*http.Response, *dns.Msg, []byte) {
	t.Helper()
	raw := pack(t, m)
	var req *http.Request
	if method == http.MethodGet {
		req = newReq(t, method, getURL(ts.url, raw), "", nil)
	} else {
		req = newReq(t, method, ts.url, mediaDNSMessage, raw)
	}
	resp, body := doRequest(t, c, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d (%s); want 200", method, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != mediaDNSMessage {
		t.Errorf("Content-Type: got %q, want %q", ct, mediaDNSMessage)
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		t.Fatalf("unpacking the answer: %v", err)
	}
	return resp, r, body
}

func TestDoHExchange(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	altSvc := fmt.Sprintf(`h3=":%d"; ma=86400`, ts.port)
	for _, proto := range dohProtos {
		c := ts.client(t, proto)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			for _, id := range []uint16{0, 4242} {
				t.Run(fmt.Sprintf("%s/%s/id=%d", proto, method, id), func(t *testing.T) {
					m := query("Example.COM.", dns.TypeA, true, 1232, false)
					m.Id = id
					resp, r, _ := askDoH(t, ts, c, method, m)
					if resp.Proto != wantProto(proto) {
						t.Errorf("Proto: got %s, want %s", resp.Proto, wantProto(proto))
					}
					if r.Id != id || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Question[0].Name != "Example.COM." {
						t.Errorf("got ID %d, %s, %d answers, question %v; want ID %d, NOERROR, 1, the question as asked",
							r.Id, dns.RcodeToString[r.Rcode], len(r.Answer), r.Question, id)
					}
					if cc := resp.Header.Get("Cache-Control"); cc != "max-age=300" {
						t.Errorf("Cache-Control: got %q, want max-age=300", cc)
					}
					got := resp.Header.Get("Alt-Svc")
					if proto == "h3" {
						altSvc = ""
					}
					if got != altSvc {
						t.Errorf("Alt-Svc: got %q, want %q", got, altSvc)
					}
				})
			}
		}
	}
}

func TestDoHLargeAnswerNotTruncated(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			_, r, _ := askDoH(t, ts, ts.client(t, proto), http.MethodPost, query("big.example.", dns.TypeA, false, 0, false))
			if r.Truncated || len(r.Answer) != 100 {
				t.Errorf("got TC=%v, %d answers; want all 100, not truncated", r.Truncated, len(r.Answer))
			}
		})
	}
}

func TestDoHBadRequests(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	good := pack(t, query("example.com.", dns.TypeA, false, 0, false))
	resp := query("example.com.", dns.TypeA, false, 0, false)
	resp.Response = true
	formerr := pack(t, query("example.com.", dns.TypeA, false, 0, false))
	formerr[5] = 2 // QDCOUNT 2
	base := ts.url
	root := strings.TrimSuffix(base, DefaultDoHPath)
	tests := []struct {
		name       string
		method     string
		url        string
		ctype      string
		body       []byte
		status     int
		allow      string
		rcode      int // for 200
		wantInBody string
	}{
		{"unknown path", http.MethodGet, root + "/other?dns=" + base64.RawURLEncoding.EncodeToString(good), "", nil, 404, "", 0, ""},
		{"root path", http.MethodPost, root + "/", mediaDNSMessage, good, 404, "", 0, ""},
		{"PUT", http.MethodPut, base, mediaDNSMessage, good, 405, "GET, POST", 0, ""},
		{"DELETE", http.MethodDelete, base, "", nil, 405, "GET, POST", 0, ""},
		{"OPTIONS", http.MethodOptions, base, "", nil, 405, "GET, POST", 0, ""},
		{"HEAD", http.MethodHead, getURL(base, good), "", nil, 405, "GET, POST", 0, ""},
		{"GET bad base64", http.MethodGet, base + "?dns=!!!notbase64", "", nil, 400, "", 0, "base64url"},
		{"GET standard base64", http.MethodGet, base + "?dns=" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(append(good, 0xfb, 0xff)), "=", ""), "", nil, 400, "", 0, "base64url"},
		{"GET padded base64 is forgiven", http.MethodGet, base + "?dns=" + base64.URLEncoding.EncodeToString(good), "", nil, 200, "", dns.RcodeSuccess, ""},
		{"GET empty dns", http.MethodGet, base + "?dns=", "", nil, 400, "", 0, "empty"},
		{"GET no parameter", http.MethodGet, base, "", nil, 400, "", 0, "missing dns"},
		{"GET too short", http.MethodGet, getURL(base, good[:11]), "", nil, 400, "", 0, "not a DNS query"},
		{"GET a response", http.MethodGet, getURL(base, pack(t, resp)), "", nil, 400, "", 0, "not a DNS query"},
		{"GET header too large", http.MethodGet, getURL(base, make([]byte, 12<<10)), "", nil, 431, "", 0, ""},
		{"POST wrong type", http.MethodPost, base, "application/octet-stream", good, 415, "", 0, "application/dns-message"},
		{"POST no type", http.MethodPost, base, "", good, 415, "", 0, ""},
		{"POST type with parameter", http.MethodPost, base, "Application/DNS-Message; charset=x", good, 200, "", dns.RcodeSuccess, ""},
		{"POST too large", http.MethodPost, base, mediaDNSMessage, make([]byte, 65536), 413, "", 0, "65535"},
		{"POST largest allowed", http.MethodPost, base, mediaDNSMessage, append(good[:len(good):len(good)], make([]byte, 65535-len(good))...), 200, "", dns.RcodeSuccess, ""}, // trailing octets ignored, as miekg/dns does
		{"POST empty", http.MethodPost, base, mediaDNSMessage, []byte{}, 400, "", 0, ""},
		{"POST FORMERR", http.MethodPost, base, mediaDNSMessage, formerr, 200, "", dns.RcodeFormatError, ""},
	}
	for _, proto := range []string{"h1", "h2", "h3"} {
		c := ts.client(t, proto)
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				if tt.status == 431 && proto == "h2" {
					t.Skip("Go's HTTP/2 client refuses to send more than the server's advertised header list size")
				}
				resp, body := doRequest(t, c, newReq(t, tt.method, tt.url, tt.ctype, tt.body))
				if resp.StatusCode != tt.status {
					t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body, tt.status)
				}
				if got := resp.Header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow: got %q, want %q", got, tt.allow)
				}
				if tt.wantInBody != "" && !strings.Contains(string(body), tt.wantInBody) {
					t.Errorf("body %q lacks %q", body, tt.wantInBody)
				}
				if tt.status != 200 {
					if cc := resp.Header.Get("Cache-Control"); tt.status != 431 && cc != "no-store" {
						t.Errorf("Cache-Control: got %q, want no-store", cc)
					}
					return
				}
				r := new(dns.Msg)
				if err := r.Unpack(body); err != nil {
					t.Fatalf("Unpack: %v", err)
				}
				if r.Rcode != tt.rcode {
					t.Errorf("rcode: got %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
			})
		}
	}
}

// TestDoHChunkedTooLarge sends an HTTP/1.1 body of unknown length: the
// limit is found while reading.
func TestDoHChunkedTooLarge(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	for _, proto := range []string{"h1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			req := newReq(t, http.MethodPost, ts.url, mediaDNSMessage, nil)
			req.Body = io.NopCloser(io.LimitReader(zeros{}, 70000))
			req.ContentLength = -1
			resp, _ := doRequest(t, ts.client(t, proto), req)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status: got %d, want 413", resp.StatusCode)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestDoHJSON(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	tests := []struct {
		name    string
		query   string
		accept  string
		status  int
		want    jsonResponse // for 200: compared on the fields set below
		answers int
		errPart string
	}{
		{"A", "name=example.com&type=A", "application/dns-json", 200, jsonResponse{Status: 0, RD: true, RA: true, Question: []jsonQuestion{{"example.com.", 1}}}, 1, ""},
		{"no accept header, default type", "name=example.com", "", 200, jsonResponse{Status: 0, RD: true, RA: true, Question: []jsonQuestion{{"example.com.", 1}}}, 1, ""},
		{"numeric type, cd", "name=example.com.&type=28&cd=1&do=true", "", 200, jsonResponse{Status: 0, RD: true, RA: true, CD: true, Question: []jsonQuestion{{"example.com.", 28}}}, 1, ""},
		{"ct", "ct=application/dns-json&name=example.com&type=aaaa", "", 200, jsonResponse{Status: 0, RD: true, RA: true, Question: []jsonQuestion{{"example.com.", 28}}}, 1, ""},
		{"NXDOMAIN", "name=nope.example&type=TXT", "", 200, jsonResponse{Status: 3, RD: true, RA: true, Question: []jsonQuestion{{"nope.example.", 16}}}, 0, ""},
		{"SERVFAIL with EDE", "name=fail.example", "", 200, jsonResponse{Status: 2, RD: true, RA: true, Question: []jsonQuestion{{"fail.example.", 1}}, Comment: "EDE 22 (No Reachable Authority): no reachable authority"}, 0, ""},
		{"meta type", "name=example.com&type=TSIG", "", 200, jsonResponse{Status: 1, RD: true, RA: true, Question: []jsonQuestion{{"example.com.", 250}}}, 0, ""},
		{"empty name", "name=", "", 400, jsonResponse{}, 0, "invalid name"},
		{"empty label", "name=a..example", "", 400, jsonResponse{}, 0, "invalid name"},
		{"leading dot", "name=.example", "", 400, jsonResponse{}, 0, "invalid name"},
		{"long label", "name=" + strings.Repeat("a", 64) + ".example", "", 400, jsonResponse{}, 0, "invalid name"},
		{"bad type", "name=example.com&type=BOGUS", "", 400, jsonResponse{}, 0, "invalid type"},
		{"type 0", "name=example.com&type=0", "", 400, jsonResponse{}, 0, "invalid type"},
		{"type too big", "name=example.com&type=65536", "", 400, jsonResponse{}, 0, "invalid type"},
		{"bad cd", "name=example.com&cd=2", "", 400, jsonResponse{}, 0, "invalid cd"},
		{"bad do", "name=example.com&do=yes", "", 400, jsonResponse{}, 0, "invalid do"},
		{"bad ct", "name=example.com&ct=text/html", "", 400, jsonResponse{}, 0, "unsupported ct"},
		{"ct without name", "ct=application/dns-json", "", 400, jsonResponse{}, 0, "missing name"},
		{"bad escape", "name=%zz", "", 400, jsonResponse{}, 0, "malformed"},
	}
	for _, proto := range []string{"h2", "h3"} {
		c := ts.client(t, proto)
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				req := newReq(t, http.MethodGet, ts.url+"?"+tt.query, "", nil)
				if tt.accept != "" {
					req.Header.Set("Accept", tt.accept)
				}
				resp, body := doRequest(t, c, req)
				if resp.StatusCode != tt.status {
					t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body, tt.status)
				}
				if tt.status != 200 {
					var e struct{ Error string }
					if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tt.errPart) {
						t.Errorf("body %q: want JSON with an error containing %q (%v)", body, tt.errPart, err)
					}
					return
				}
				if ct := resp.Header.Get("Content-Type"); ct != mediaDNSJSON {
					t.Errorf("Content-Type: got %q, want %q", ct, mediaDNSJSON)
				}
				var got jsonResponse
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("Unmarshal %q: %v", body, err)
				}
				if len(got.Answer) != tt.answers {
					t.Errorf("answers: got %d, want %d: %s", len(got.Answer), tt.answers, body)
				}
				got.Answer, got.Authority, got.Additional = nil, nil, nil
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %+v\nwant %+v", got, tt.want)
				}
			})
		}
	}
	// The record itself, in the data format of Google and Cloudflare.
	resp, body := doRequest(t, ts.client(t, "h2"), newReq(t, http.MethodGet, ts.url+"?name=example.com", "", nil))
	want := `"Answer":[{"name":"example.com.","type":1,"TTL":300,"data":"192.0.2.1"}]`
	if !strings.Contains(string(body), want) || resp.Header.Get("Cache-Control") != "max-age=300" {
		t.Errorf("got %s (Cache-Control %q); want %s and max-age=300", body, resp.Header.Get("Cache-Control"), want)
	}
	// ct=application/dns-message: the JSON query, a wire answer.
	resp, body = doRequest(t, ts.client(t, "h2"), newReq(t, http.MethodGet, ts.url+"?name=example.com&ct=application/dns-message", "", nil))
	var m dns.Msg
	if err := m.Unpack(body); err != nil || resp.Header.Get("Content-Type") != mediaDNSMessage || len(m.Answer) != 1 {
		t.Errorf("ct=application/dns-message: got %q, %v, %v; want a wire answer", resp.Header.Get("Content-Type"), m.Answer, err)
	}
}

// dohCacheMsg packs a response with the given sections.
func dohCacheMsg(t *testing.T, rcode int, answer, ns []string, edns bool) []byte {
	t.Helper()
	m := query("example.com.", dns.TypeA, false, 0, false)
	m.Response = true
	m.Rcode = rcode
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(t, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, mustRR(t, s))
	}
	if edns {
		m.SetEdns0(1232, false)
		if rcode > 0xF {
			m.Rcode = rcode
		}
	}
	return pack(t, m)
}

func TestDoHCacheControl(t *testing.T) {
	soa := "example.com. 3600 IN SOA ns.example.com. h.example.com. 1 7200 900 1209600 300"
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"smallest answer TTL", dohCacheMsg(t, dns.RcodeSuccess, []string{"example.com. 300 IN CNAME a.example.com.", "a.example.com. 60 IN A 192.0.2.1", "a.example.com. 600 IN A 192.0.2.2"}, nil, true), "max-age=60"},
		{"answer TTL 0", dohCacheMsg(t, dns.RcodeSuccess, []string{"example.com. 0 IN A 192.0.2.1"}, nil, false), "max-age=0"},
		{"authority ignored with answers", dohCacheMsg(t, dns.RcodeSuccess, []string{"example.com. 300 IN A 192.0.2.1"}, []string{"example.com. 5 IN NS ns.example.com."}, false), "max-age=300"},
		{"NXDOMAIN: SOA MINIMUM", dohCacheMsg(t, dns.RcodeNameError, nil, []string{soa}, true), "max-age=300"},
		{"NODATA: SOA TTL below MINIMUM", dohCacheMsg(t, dns.RcodeSuccess, nil, []string{strings.Replace(soa, "3600", "30", 1)}, false), "max-age=30"},
		{"NODATA without SOA", dohCacheMsg(t, dns.RcodeSuccess, nil, nil, false), "max-age=0"},
		// RFC 2181 §8: a TTL with the top bit set is zero; and no
		// max-age above a day, the cache's default ceiling (issue 13).
		{"TTL 2^32-1 is zero", dohCacheMsg(t, dns.RcodeSuccess, []string{"example.com. 4294967295 IN A 192.0.2.1"}, nil, false), "max-age=0"},
		{"TTL 2^31-1 capped at a day", dohCacheMsg(t, dns.RcodeSuccess, []string{"example.com. 2147483647 IN A 192.0.2.1"}, nil, false), "max-age=86400"},
		{"SOA MINIMUM with the top bit set is zero", dohCacheMsg(t, dns.RcodeNameError, nil, []string{"example.com. 3600 IN SOA ns.example.com. h.example.com. 1 7200 900 1209600 4294967295"}, false), "max-age=0"},
		{"SERVFAIL", dohCacheMsg(t, dns.RcodeServerFailure, nil, nil, true), "no-store"},
		{"REFUSED", dohCacheMsg(t, dns.RcodeRefused, nil, nil, true), "no-store"},
		{"FORMERR", dohCacheMsg(t, dns.RcodeFormatError, nil, nil, false), "no-store"},
		{"NOTIMP", dohCacheMsg(t, dns.RcodeNotImplemented, nil, nil, false), "no-store"},
		{"BADVERS", dohCacheMsg(t, dns.RcodeBadVers, nil, nil, true), "no-store"},
		{"truncated message", dohCacheMsg(t, dns.RcodeSuccess, []string{"example.com. 300 IN A 192.0.2.1"}, nil, false)[:40], "no-store"},
		{"short", []byte{1, 2, 3}, "no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cacheControl(tt.msg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDoHCacheControlOverTheWire checks the header on real answers,
// negative and refused ones included.
func TestDoHCacheControlOverTheWire(t *testing.T) {
	checkLeaks(t)
	soa := mustRR(t, "example. 3600 IN SOA ns.example. h.example. 1 7200 900 1209600 120")
	h := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		switch q.Question[0].Name {
		case "nx.example.":
			r.Rcode = dns.RcodeNameError
			r.Ns = []dns.RR{soa}
		case "short.example.":
			r.Answer = []dns.RR{mustRR(t, "short.example. 7 IN A 192.0.2.1")}
		default:
			return nil, errors.New("test: failure")
		}
		return r, nil
	})
	ts := startDoH(t, Config{Handler: h}, DoHOptions{})
	refusing := startDoH(t, Config{Handler: h, AllowClients: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, DoHOptions{})
	for _, tt := range []struct {
		ts   *dohTestServer
		name string
		want string
	}{
		{ts, "nx.example.", "max-age=120"},
		{ts, "short.example.", "max-age=7"},
		{ts, "fail.example.", "no-store"},
		{refusing, "short.example.", "no-store"},
	} {
		resp, _, _ := askDoH(t, tt.ts, tt.ts.client(t, "h2"), http.MethodGet, query(tt.name, dns.TypeA, false, 0, false))
		if got := resp.Header.Get("Cache-Control"); got != tt.want {
			t.Errorf("%s: Cache-Control %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDoHPadding(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: newCacheHandler(t)}, DoHOptions{})
	for _, proto := range dohProtos {
		c := ts.client(t, proto)
		for _, pad := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/pad=%v", proto, pad), func(t *testing.T) {
				for _, name := range []string{"example.com.", "www.example.com.", "nx.example."} {
					m := query(name, dns.TypeA, true, 1232, false)
					if pad {
						m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{}}
					}
					_, r, raw := askDoH(t, ts, c, http.MethodPost, m)
					if padded := len(raw)%padBlock == 0; padded != pad {
						t.Errorf("%s: answer of %d octets; want padded to a multiple of %d: %v", name, len(raw), padBlock, pad)
					}
					if r.Rcode == dns.RcodeServerFailure {
						t.Errorf("%s: SERVFAIL", name)
					}
				}
			})
		}
	}
}
