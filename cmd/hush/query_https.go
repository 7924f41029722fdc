//go:build !nohttp

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// dohMediaType is the DoH media type (RFC 8484 §6).
const dohMediaType = "application/dns-message"

// httpsExchanger speaks DNS over HTTPS (RFC 8484) on one new connection:
// HTTP/2 (ALPN h2 only) or, with --http3, HTTP/3; POST unless --get. The
// certificate is checked as for tls:// (--insecure, --pin). It sends
// message ID 0, as RFC 8484 §4.1 asks of clients, and does not follow
// redirects.
type httpsExchanger struct {
	ep    endpoint
	conf  *tls.Config
	http3 bool
	get   bool

	mu     sync.Mutex
	remote net.Addr // mu guards: the address the connection went to
}

func newHTTPSExchanger(o queryOptions) *httpsExchanger {
	conf := newTLSExchanger(o).conf
	if o.http3 {
		conf.NextProtos = []string{nextProtoH3}
	} else {
		conf.NextProtos = []string{"h2"}
	}
	return &httpsExchanger{ep: o.server, conf: conf, http3: o.http3, get: o.get}
}

// protoName is the transport as the SERVER line names it before the
// exchange tells the versions.
func (x *httpsExchanger) protoName() string {
	if x.http3 {
		return "HTTPS, HTTP/3"
	}
	return "HTTPS, HTTP/2"
}

func (x *httpsExchanger) setRemote(a net.Addr) {
	x.mu.Lock()
	x.remote = a
	x.mu.Unlock()
}

// roundTripper returns a transport that dials one connection and records
// its peer, and a function that closes it.
func (x *httpsExchanger) roundTripper() (http.RoundTripper, func()) {
	if x.http3 {
		return x.h3RoundTripper()
	}
	var protos http.Protocols
	protos.SetHTTP2(true)
	d := &net.Dialer{}
	tr := &http.Transport{
		TLSClientConfig: x.conf,
		Protocols:       &protos,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				x.setRemote(c.RemoteAddr())
			}
			return c, err
		},
	}
	return tr, tr.CloseIdleConnections
}

func (x *httpsExchanger) exchange(ctx context.Context, q *dns.Msg) (*queryResult, error) {
	q.Id = 0
	raw, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	u := formatURL("https", x.ep.Host, x.ep.Port, x.ep.Path)
	var req *http.Request
	if x.get {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u+"?dns="+base64.RawURLEncoding.EncodeToString(raw), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(raw))
		if req != nil {
			req.Header.Set("Content-Type", dohMediaType)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	req.Header.Set("Accept", dohMediaType)
	rt, closeRT := x.roundTripper()
	defer closeRT()
	c := &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return nil, noResponse(x.ep, x.protoName(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		return nil, noResponse(x.ep, x.protoName(), unwrapURLError(err))
	}
	rtt := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query: %s answered HTTP %d: %s", x.ep, resp.StatusCode, firstLine(body))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != dohMediaType {
		return nil, fmt.Errorf("query: %s answered with content type %q, want %s", x.ep, resp.Header.Get("Content-Type"), dohMediaType)
	}
	if len(body) > dns.MaxMsgSize {
		return nil, fmt.Errorf("query: reply from %s is larger than a DNS message", x.ep)
	}
	m, err := unpackReply(x.ep, body, q.Id)
	if err != nil {
		return nil, err
	}
	proto := "HTTPS, " + httpVersion(resp)
	if x.get {
		proto += ", GET" // POST, the default, goes unsaid
	}
	if resp.TLS != nil {
		proto += ", " + strings.ReplaceAll(tls.VersionName(resp.TLS.Version), " ", "")
	}
	x.mu.Lock()
	remote := x.remote
	x.mu.Unlock()
	server := x.ep.Host + "#" + strconv.Itoa(int(x.ep.Port)) + "(" + x.ep.Host + ")"
	if remote != nil {
		server = digServer(remote, x.ep.Host)
	}
	return &queryResult{msg: m, size: len(body), rtt: rtt, server: server, proto: proto}, nil
}

// httpVersion names a response's protocol as HTTP/1.1, HTTP/2, HTTP/3.
func httpVersion(resp *http.Response) string {
	if resp.ProtoMajor >= 2 {
		return "HTTP/" + strconv.Itoa(resp.ProtoMajor)
	}
	return resp.Proto
}

// unwrapURLError drops net/http's *url.Error, which repeats the URL the
// message already names (and, for GET, the whole query).
func unwrapURLError(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || !strings.HasPrefix(err.Error(), "Get ") && !strings.HasPrefix(err.Error(), "Post ") {
			return err
		}
		err = u.Unwrap()
	}
}

// firstLine is the start of an error body, for the message.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.TrimSpace(s)
}
