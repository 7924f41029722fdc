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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
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

func TestDoHRefusesOutsideACL(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t), AllowClients: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, DoHOptions{})
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			req := newReq(t, http.MethodPost, ts.url, mediaDNSMessage, pack(t, query("example.com.", dns.TypeA, true, 1232, false)))
			// A forwarded-for header claiming an allowed address counts
			// for nothing.
			req.Header.Set("X-Forwarded-For", "192.0.2.1")
			req.Header.Set("Forwarded", "for=192.0.2.1")
			resp, body := doRequest(t, ts.client(t, proto), req)
			var r dns.Msg
			if err := r.Unpack(body); err != nil || resp.StatusCode != 200 {
				t.Fatalf("got %d, %v; want 200 and a DNS answer", resp.StatusCode, err)
			}
			var ede uint16
			if opt := r.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if e, ok := o.(*dns.EDNS0_EDE); ok {
						ede = e.InfoCode
					}
				}
			}
			if r.Rcode != dns.RcodeRefused || ede != edeProhibited {
				t.Errorf("got %s, EDE %d; want REFUSED, EDE 18", dns.RcodeToString[r.Rcode], ede)
			}
		})
	}
}

// TestDoHShutdownFinishesInFlight starts a query that the handler holds,
// shuts the server down, and checks that the query is still answered and
// that Shutdown then returns nil.
func TestDoHShutdownFinishesInFlight(t *testing.T) {
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			checkLeaks(t)
			h := &orderHandler{entered: make(chan string, 1), release: make(chan struct{})}
			l, pc := listenSamePort(t)
			defer pc.Close()
			sc, cc := testCert(t)
			cc.NextProtos = nil
			s := NewDoHServer(Config{Handler: h}, sc, DoHOptions{})
			served := make(chan error, 2)
			go func() { served <- s.Serve(l) }()
			go func() { served <- s.ServeQUIC(pc) }()
			ts := &dohTestServer{s: s, cc: cc, url: fmt.Sprintf("https://%s%s", l.Addr(), DefaultDoHPath)}
			c := ts.client(t, proto)

			type result struct {
				status int
				msg    *dns.Msg
				err    error
			}
			got := make(chan result, 1)
			go func() {
				raw, _ := query("first.example.", dns.TypeTXT, false, 0, false).Pack()
				resp, err := c.Post(ts.url, mediaDNSMessage, bytes.NewReader(raw))
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				m := new(dns.Msg)
				got <- result{status: resp.StatusCode, msg: m, err: m.Unpack(body)}
			}()
			<-h.entered
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(ctx) }()
			// A new connection is refused while the query waits.
			if conn, err := tls.Dial("tcp", l.Addr().String(), cc); err == nil {
				conn.Close()
			}
			close(h.release)
			r := <-got
			if r.err != nil || r.status != 200 || len(r.msg.Answer) != 1 {
				t.Fatalf("in-flight query: got %d, %v, %v; want 200 and an answer", r.status, r.msg, r.err)
			}
			if proto == "h3" {
				// quic-go's client closes after GOAWAY once its
				// request is answered; ours does it now.
				c.Transport.(*http3.Transport).Close()
			} else {
				c.Transport.(*http.Transport).CloseIdleConnections()
			}
			if err := <-shut; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			for range 2 {
				if err := <-served; !errors.Is(err, ErrServerClosed) {
					t.Errorf("Serve: got %v, want ErrServerClosed", err)
				}
			}
		})
	}
}

// TestDoHShutdownTimeout checks that a Shutdown that runs out of time
// cancels the handler and reports it.
func TestDoHShutdownTimeout(t *testing.T) {
	checkLeaks(t)
	l, pc := listenSamePort(t)
	defer pc.Close()
	sc, cc := testCert(t)
	cc.NextProtos = nil
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	s := NewDoHServer(Config{Handler: h}, sc, DoHOptions{})
	served := make(chan error, 2)
	go func() { served <- s.Serve(l) }()
	go func() { served <- s.ServeQUIC(pc) }()
	ts := &dohTestServer{s: s, cc: cc, url: fmt.Sprintf("https://%s%s", l.Addr(), DefaultDoHPath)}
	c := ts.client(t, "h2")
	go func() {
		raw, _ := query("slow.example.", dns.TypeA, false, 0, false).Pack()
		if resp, err := c.Post(ts.url, mediaDNSMessage, bytes.NewReader(raw)); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: got %v, want context.Canceled", err)
	}
	<-cancelled
	for range 2 {
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v, want ErrServerClosed", err)
		}
	}
}

// TestDoHClientGoesAway checks that the handler's context ends when the
// client cancels its request or closes its connection.
func TestDoHClientGoesAway(t *testing.T) {
	for _, proto := range dohProtos {
		t.Run(proto, func(t *testing.T) {
			checkLeaks(t)
			entered := make(chan struct{}, 1)
			cancelled := make(chan struct{}, 1)
			h := HandlerFunc(func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
				entered <- struct{}{}
				<-ctx.Done()
				cancelled <- struct{}{}
				return nil, ctx.Err()
			})
			ts := startDoH(t, Config{Handler: h}, DoHOptions{})
			c := ts.client(t, proto)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				req := newReq(t, http.MethodPost, ts.url, mediaDNSMessage, pack(t, query("slow.example.", dns.TypeA, false, 0, false)))
				if resp, err := c.Do(req.WithContext(ctx)); err == nil {
					resp.Body.Close()
				}
			}()
			<-entered
			cancel()
			<-cancelled
			<-done
		})
	}
}

// TestDoHConnectionCaps checks the per-client cap on TCP and QUIC: the
// connection over it is closed at once, and a slot freed is usable again.
func TestDoHConnectionCaps(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{MaxConnsPerClient: 1})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	cc := ts.cc.Clone()
	cc.NextProtos = []string{"h2"}
	first, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	if second, err := tls.Dial("tcp", addr, cc); err == nil {
		second.Close()
		t.Errorf("second TCP connection from one client: handshake succeeded; want it closed")
	}
	// QUIC counts against the same cap.
	qcc := ts.cc.Clone()
	qcc.NextProtos = []string{http3.NextProtoH3}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	qc, err := quic.DialAddr(ctx, addr, qcc, nil)
	if err != nil {
		t.Fatalf("QUIC handshake: %v", err)
	}
	<-qc.Context().Done()
	var ae *quic.ApplicationError
	if err := context.Cause(qc.Context()); !errors.As(err, &ae) || ae.ErrorCode != h3ExcessiveLoad {
		t.Errorf("QUIC connection over the cap: closed with %v; want H3_EXCESSIVE_LOAD", err)
	}
	first.Close()
	for deadline := time.Now().Add(testTimeout); ts.s.limit.open() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("slots still taken: %d", ts.s.limit.open())
		}
		time.Sleep(time.Millisecond) // polling: a slot's release sends no signal
	}
	// The slot is free: a real client is served.
	_, r, _ := askDoH(t, ts, ts.client(t, "h3"), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
	if r.Rcode != dns.RcodeSuccess {
		t.Errorf("after the first closed: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestDoHSlowClient checks that a client that never finishes its request
// header is disconnected.
func TestDoHSlowClient(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t), TLSHandshakeTimeout: 100 * time.Millisecond}, DoHOptions{})
	cc := ts.cc.Clone()
	cc.NextProtos = []string{"http/1.1"}
	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ts.port), cc)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /dns-query?dns=AAAA HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	// The server gives up on us: EOF, or a 408 and then EOF.
	out, _ := io.ReadAll(c)
	if len(out) > 0 && !strings.HasPrefix(string(out), "HTTP/1.1 408") {
		t.Errorf("got %q; want nothing or a 408", out)
	}
}

func TestHTTPErrorLogStripsAddresses(t *testing.T) {
	var got []string
	l := &httpErrorLog{report: func(err error) { got = append(got, err.Error()) }}
	for _, line := range []string{
		"http: TLS handshake error from 192.0.2.7:5353: EOF\n",
		"http2: server connection error from 192.0.2.7:5353: connection error: PROTOCOL_ERROR\n",
		"http: panic serving [2001:db8::7%eth0]:443: boom\n",
		"http: Accept error: accept tcp [::]:443: too many open files; retrying in 5ms\n",
		"http: something about 2001:db8::1 and fe80::1%lo and ::ffff:192.0.2.1\n",
	} {
		l.Write([]byte(line))
	}
	if len(got) != 4 {
		t.Fatalf("got %d lines, want 4 (the handshake error dropped): %q", len(got), got)
	}
	for _, s := range got {
		for _, leak := range []string{"192.0.2", "2001:db8", "fe80", "5353", "::"} {
			if strings.Contains(s, leak) {
				t.Errorf("%q still names %q", s, leak)
			}
		}
	}
}

func TestDoHServeWithoutCertificate(t *testing.T) {
	s := NewDoHServer(Config{Handler: testHandler(t)}, nil, DoHOptions{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	if err := s.Serve(l); !errors.Is(err, errNoCertificate) {
		t.Errorf("Serve: got %v, want errNoCertificate", err)
	}
}

// TestDoHHandshakeParameters checks TLS 1.2 as the floor and the ALPN
// offered on TCP.
func TestDoHHandshakeParameters(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	for _, tt := range []struct {
		alpn    []string
		max     uint16
		ok      bool
		wantPro string
	}{
		{[]string{"h2", "http/1.1"}, 0, true, "h2"},
		{[]string{"http/1.1"}, tls.VersionTLS12, true, "http/1.1"},
		{[]string{"h2"}, tls.VersionTLS11, false, ""},
	} {
		cc := ts.cc.Clone()
		cc.NextProtos, cc.MinVersion, cc.MaxVersion = tt.alpn, tls.VersionTLS10, tt.max
		c, err := tls.Dial("tcp", addr, cc)
		if (err == nil) != tt.ok {
			t.Errorf("ALPN %v, max %x: got err %v; want ok=%v", tt.alpn, tt.max, err, tt.ok)
		}
		if err == nil {
			if p := c.ConnectionState().NegotiatedProtocol; p != tt.wantPro {
				t.Errorf("ALPN %v: negotiated %q, want %q", tt.alpn, p, tt.wantPro)
			}
			c.Close()
		}
	}
}

func TestDoHCustomPath(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{Path: "/resolve"})
	_, r, _ := askDoH(t, ts, ts.client(t, "h2"), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
	if r.Rcode != dns.RcodeSuccess {
		t.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	resp, _ := doRequest(t, ts.client(t, "h2"), newReq(t, http.MethodGet, strings.Replace(ts.url, "/resolve", DefaultDoHPath, 1)+"?dns=AAAA", "", nil))
	if resp.StatusCode != 404 {
		t.Errorf("default path on a server for /resolve: got %d, want 404", resp.StatusCode)
	}
}

// TestDoHErrorLogNamesNoClient makes net/http log (a failed handshake,
// garbage instead of TLS, a broken HTTP/2 preface) and checks that nothing
// reaching Config.ErrorLog names the client.
func TestDoHErrorLogNamesNoClient(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	var logged []string
	cfg := Config{Handler: testHandler(t), ErrorLog: func(err error) {
		mu.Lock()
		logged = append(logged, err.Error())
		mu.Unlock()
	}}
	ts := startDoH(t, cfg, DoHOptions{})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	// A client that does not trust the certificate.
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		c.Close()
	}
	// Plain HTTP on the TLS port.
	c := dialRaw(t, "tcp", addr)
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	io.ReadAll(c)
	// HTTP/2 with a broken preface.
	cc := ts.cc.Clone()
	cc.NextProtos = []string{"h2"}
	tc, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	io.WriteString(tc, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\nnot a settings frame")
	io.ReadAll(tc)
	tc.Close()
	// A working query afterwards, so that the server has handled all of
	// the above.
	askDoH(t, ts, ts.client(t, "h1"), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
	mu.Lock()
	defer mu.Unlock()
	t.Logf("ErrorLog received %q", logged)
	for _, l := range logged {
		if strings.Contains(l, "127.0.0.1") || strings.Contains(l, "TLS handshake") || strings.Contains(l, "PRI *") {
			t.Errorf("ErrorLog got %q", l)
		}
	}
}

// dohBlindConn never delivers a packet: a client that cannot see the
// server's replies, as one that forges its source address.
type dohBlindConn struct {
	net.PacketConn
	once sync.Once
	done chan struct{}
}

func (c *dohBlindConn) ReadFrom(p []byte) (int, net.Addr, error) {
	<-c.done
	return 0, nil, net.ErrClosed
}

func (c *dohBlindConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.PacketConn.Close()
}

// dohBlindTransport is a QUIC transport on local that sends but never
// receives, closed at cleanup.
func dohBlindTransport(t testing.TB, local string) *quic.Transport {
	t.Helper()
	pc, err := net.ListenPacket("udp", local)
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	bc := &dohBlindConn{PacketConn: pc, done: make(chan struct{})}
	tr := &quic.Transport{Conn: bc}
	// quic-go stops reading with a deadline, which bc ignores: close
	// it first.
	t.Cleanup(func() { bc.Close(); tr.Close() })
	return tr
}

// inFlight reports the ServeHTTP calls running, for tests.
func (s *DoHServer) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

// dohWaitFor polls cond, for conditions that send no signal, and fails t
// after testTimeout.
func dohWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling: no signal to wait on
	}
}

// dohCountHandler counts its calls and answers NXDOMAIN.
type dohCountHandler struct{ n atomic.Int32 }

func (h *dohCountHandler) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	h.n.Add(1)
	r := new(dns.Msg)
	r.Rcode = dns.RcodeNameError
	return r, nil
}

// TestDoH3ZeroRTTWaitsForHandshake: a client outside the ACL gets a
// session ticket, then sends a 0-RTT request in the name of an allowed
// address whose replies it cannot see. The request reaches ServeHTTP but
// not the handler, which only a completed handshake (proving the address)
// lets it reach. A real 0-RTT client is still answered.
func TestDoH3ZeroRTTWaitsForHandshake(t *testing.T) {
	checkLeaks(t)
	h := &dohCountHandler{}
	acl := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	ts := startDoH(t, Config{Handler: h, AllowClients: acl, TLSHandshakeTimeout: time.Minute}, DoHOptions{})
	ua := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.port}
	h3Client := func(tr *quic.Transport, cc *tls.Config) *http3.Transport {
		ht := &http3.Transport{TLSClientConfig: cc, Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return tr.DialEarly(ctx, ua, tc, qc)
		}}
		t.Cleanup(func() { ht.Close() })
		return ht
	}
	roundTrip := func(ht *http3.Transport, ctx context.Context, name string) (*http.Response, error) {
		m := query(name, dns.TypeA, false, 0, false)
		m.Id = 0
		raw, err := m.Pack()
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http3.MethodGet0RTT, getURL(ts.url, raw), nil)
		if err != nil {
			return nil, err
		}
		return ht.RoundTrip(req)
	}

	// Tickets, from 127.0.0.2, outside the ACL: one for the blind
	// client, one for the real one (quic-go's client races when two
	// connections resume one session at once).
	pc, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 not usable: %v", err)
	}
	tr2 := &quic.Transport{Conn: pc}
	defer tr2.Close()
	var tickets [2]*tls.Config
	for i := range tickets {
		tickets[i] = ts.cc.Clone()
		tickets[i].ClientSessionCache = tls.NewLRUClientSessionCache(1)
		ht := h3Client(tr2, tickets[i])
		resp, err := roundTrip(ht, context.Background(), "first.example.")
		if err != nil {
			t.Fatalf("ticket request: %v", err)
		}
		resp.Body.Close()
		ht.Close()
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("handler called %d times for a client outside the ACL", n)
	}

	// Blind 0-RTT from 127.0.0.1, allowed.
	blind := h3Client(dohBlindTransport(t, "127.0.0.1:0"), tickets[0])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go roundTrip(blind, ctx, "uncached.example.")
	dohWaitFor(t, "the 0-RTT request", func() bool { return ts.s.inFlight() > 0 || h.n.Load() > 0 })
	if n := h.n.Load(); n != 0 {
		t.Fatalf("handler called %d times for 0-RTT data from an unproven address", n)
	}
	if n := ts.s.inFlight(); n != 1 {
		t.Fatalf("%d requests in flight, want the 0-RTT one waiting", n)
	}

	// A real client's 0-RTT request is answered once its handshake is
	// done.
	real := &quic.Transport{Conn: dohListenUDP(t)}
	defer real.Close()
	resp, err := roundTrip(h3Client(real, tickets[1]), context.Background(), "real.example.")
	if err != nil {
		t.Fatalf("0-RTT from a real client: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var r dns.Msg
	if resp.StatusCode != http.StatusOK || r.Unpack(body) != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("0-RTT from a real client: status %d, rcode %s; want 200, NXDOMAIN", resp.StatusCode, dns.RcodeToString[r.Rcode])
	}
	if n := h.n.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1 (the real client)", n)
	}
}

// dohListenUDP is a loopback UDP socket closed at cleanup.
func dohListenUDP(t testing.TB) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ListenPacket: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// TestDoHForgedQUICLeavesTCPSlots: QUIC Initials from clients that never
// see a reply (forged addresses) take none of the connection slots TCP
// shares, stop at half the cap, after which clients must pass a Retry,
// and HTTP/2 and HTTP/3 clients are served meanwhile.
func TestDoHForgedQUICLeavesTCPSlots(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t), MaxTCPConns: 4, TLSHandshakeTimeout: time.Minute}, DoHOptions{})
	ua := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.port}
	cc := ts.cc.Clone()
	cc.NextProtos = []string{http3.NextProtoH3}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range 8 {
		tr := dohBlindTransport(t, "127.0.0.1:0")
		wg.Go(func() { tr.DialEarly(ctx, ua, cc, &quic.Config{}) })
	}
	// With a cap of 4, the first forged handshake already makes the
	// server demand Retries (from an eighth of the cap on), which the
	// forgers cannot answer: at least one is counted, the rest retried.
	dohWaitFor(t, "the forged handshakes", func() bool {
		return ts.s.handshakes.inProgress()+ts.s.limit.open() >= 1 && ts.s.handshakes.retries.Load() > 0
	})
	if n := ts.s.limit.open(); n != 0 {
		t.Errorf("forged QUIC connections hold %d connection slots, want 0", n)
	}
	for _, proto := range []string{"h2", "h1", "h3"} {
		_, r, _ := askDoH(t, ts, ts.client(t, proto), http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
		if r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s during forged handshakes: %s", proto, dns.RcodeToString[r.Rcode])
		}
	}
	if n := ts.s.handshakes.inProgress(); n > 3 {
		t.Errorf("%d handshakes under way, want the forged ones that came before the Retries (and perhaps the h3 client's)", n)
	}
}

// TestDoHSlowPostHoldsLittle: POST streams whose body never comes hold no
// 64 KiB buffer each.
func TestDoHSlowPostHoldsLittle(t *testing.T) {
	checkLeaks(t)
	ts := startDoH(t, Config{Handler: testHandler(t)}, DoHOptions{})
	c := ts.client(t, "h2")
	// One connection up first, so that its buffers are not counted.
	askDoH(t, ts, c, http.MethodPost, query("example.com.", dns.TypeA, false, 0, false))
	const streams = 99
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	var ws []*io.PipeWriter
	for range streams {
		pr, pw := io.Pipe()
		ws = append(ws, pw)
		req := newReq(t, http.MethodPost, ts.url, mediaDNSMessage, nil)
		req.Body = pr
		// Announced, so that Go's client takes a small buffer of
		// its own for the body (512 KiB when the length is not
		// known), which would swamp what is measured here.
		req.ContentLength = 100
		wg.Go(func() {
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	dohWaitFor(t, "the POST streams", func() bool { return ts.s.inFlight() == streams })
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %d KiB for %d body-less POST streams", grown>>10, streams)
	// A 64 KiB buffer each would be over 6 MiB.
	if grown > 3<<20 {
		t.Errorf("heap in use grew by %d KiB for %d body-less POST streams; want under 3 MiB", grown>>10, streams)
	}
	for _, w := range ws {
		w.CloseWithError(errors.New("test done"))
	}
	wg.Wait()
}

func TestDoHJSONData(t *testing.T) {
	for _, tt := range []struct {
		rr   dns.RR
		want string
	}{
		{mustRR(t, "x.example. 60 IN A 192.0.2.1"), "192.0.2.1"},
		{mustRR(t, `x.example. 60 IN TXT "a b"`), `"a b"`},
		{&dns.RFC3597{Hdr: dns.RR_Header{Name: "x.example.", Rrtype: 65280, Class: dns.ClassINET, Ttl: 60}, Rdata: "0102"}, `\# 2 0102`},
		{&dns.RFC3597{Hdr: dns.RR_Header{Name: "x.example.", Rrtype: 65280, Class: dns.ClassINET, Ttl: 60}}, `\# 0`},
	} {
		got := jsonRRs([]dns.RR{tt.rr})
		if len(got) != 1 || got[0].Data != tt.want || got[0].Type != tt.rr.Header().Rrtype || got[0].TTL != 60 {
			t.Errorf("%v: got %+v, want data %q", tt.rr, got, tt.want)
		}
	}
}

// TestDoHShutdownClosesLingeringH3: once every request is answered,
// Shutdown closes the HTTP/3 connections that stay (a client that ignores
// GOAWAY, a handshake that never ends) without waiting for its deadline.
func TestDoHShutdownClosesLingeringH3(t *testing.T) {
	checkLeaks(t)
	l, pc := listenSamePort(t)
	defer pc.Close()
	sc, cc := testCert(t)
	cc.NextProtos = []string{http3.NextProtoH3}
	// Timeouts far beyond Shutdown's deadline: only Shutdown may end
	// these connections.
	s := NewDoHServer(Config{Handler: testHandler(t), TLSHandshakeTimeout: time.Hour, TCPIdleTimeout: time.Hour}, sc, DoHOptions{})
	served := make(chan error, 2)
	go func() { served <- s.Serve(l) }()
	go func() { served <- s.ServeQUIC(pc) }()
	ua := pc.LocalAddr()
	dctx, dcancel := context.WithTimeout(context.Background(), testTimeout)
	defer dcancel()
	// A QUIC client that speaks no HTTP/3, so never reads GOAWAY.
	qc, err := quic.DialAddr(dctx, ua.String(), cc, &quic.Config{MaxIdleTimeout: time.Hour})
	if err != nil {
		t.Fatalf("QUIC dial: %v", err)
	}
	defer qc.CloseWithError(0, "")
	// A handshake that never ends.
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	blind := make(chan struct{})
	go func() {
		defer close(blind)
		dohBlindTransport(t, "127.0.0.1:0").DialEarly(bctx, ua, cc, &quic.Config{})
	}()
	defer func() { <-blind }()
	defer bcancel()
	dohWaitFor(t, "both connections", func() bool { return s.handshakes.inProgress()+s.limit.open() >= 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Shutdown returned when its deadline passed, not once it had nothing to wait for")
	}
	<-qc.Context().Done()
	for range 2 {
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v, want ErrServerClosed", err)
		}
	}
}

// TestDoHAltSvcGoneWithQUIC: when ServeQUIC fails, HTTP/1.1 and HTTP/2
// responses stop advertising HTTP/3.
func TestDoHAltSvcGoneWithQUIC(t *testing.T) {
	checkLeaks(t)
	l, pc := listenSamePort(t)
	sc, cc := testCert(t)
	cc.NextProtos = nil
	s := NewDoHServer(Config{Handler: testHandler(t)}, sc, DoHOptions{})
	served := make(chan error, 1)
	quicDone := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	go func() { quicDone <- s.ServeQUIC(pc) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v, want ErrServerClosed", err)
		}
	}()
	ts := &dohTestServer{s: s, cc: cc, url: fmt.Sprintf("https://%s%s", l.Addr(), DefaultDoHPath)}
	c := ts.client(t, "h2")
	altSvc := func() string {
		resp, _, _ := askDoH(t, ts, c, http.MethodGet, query("example.com.", dns.TypeA, false, 0, false))
		return resp.Header.Get("Alt-Svc")
	}
	dohWaitFor(t, "ServeQUIC to start", func() bool {
		s.altSvc.RLock()
		defer s.altSvc.RUnlock()
		return s.altSvc.v != nil
	})
	if v := altSvc(); v == "" {
		t.Fatalf("no Alt-Svc while ServeQUIC runs")
	}
	pc.Close()
	if err := <-quicDone; err == nil || errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeQUIC on a closed socket: got %v, want an error", err)
	}
	if v := altSvc(); v != "" {
		t.Errorf("Alt-Svc after ServeQUIC failed: %q, want none", v)
	}
}
