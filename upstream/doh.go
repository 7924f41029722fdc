//go:build !nohttp

package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

const dnsMessage = "application/dns-message"

// h3HoldDown is how long an HTTP/3 endpoint learnt from Alt-Svc is left
// alone after it failed; HTTP/2 carries the queries meanwhile.
const h3HoldDown = 5 * time.Minute

// httpBuilt: this build has DNS over HTTPS (see doh_off.go).
const httpBuilt = true

var errNoHTTP error // never returned when httpBuilt

// doh is an https:// upstream (RFC 8484): POST with the message (ID 0,
// §4.1) as an application/dns-message body. HTTP/2 by default, through
// net/http, which multiplexes the queries on one connection; HTTP/3
// through quic-go's http3 when the URL says http3=1 (then HTTP/3 only), or
// once the server offers h3 on its own address with Alt-Svc (then HTTP/2
// again when HTTP/3 fails, held down for a while; both are encrypted).
// Idle connections are closed after Options.IdleTimeout. A query that
// fails on a reused connection without a response (the server closed it
// while it sat idle: net/http does not retry a POST that got an unexpected
// EOF) is sent once more.
type doh struct {
	spec  Spec
	opts  Options
	url   string
	certs certNotes
	counters

	h2 *http.Client
	h3 h3Client // nil in a build without QUIC (-tags noquic)

	h3mu   sync.Mutex
	h3url  string    // h3mu guards; "" when HTTP/3 is not in use
	h3down time.Time // h3mu guards; Alt-Svc h3 not used before this
	h3only bool
	closed atomic.Bool
}

func newDoH(s Spec, opts Options) *doh {
	u := &doh{spec: s, opts: opts, h3only: s.HTTP3}
	u.url = "https://" + s.Addr.String() + s.Path
	conf := tlsConfig(s, opts)
	d := opts.dialer()
	tr := &http.Transport{
		TLSClientConfig:     conf,
		DialContext:         d.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 1,
		// One connection: HTTP/2 multiplexes, and a burst of first
		// queries must not dial one connection each.
		MaxConnsPerHost:     1,
		IdleConnTimeout:     opts.idle(),
		TLSHandshakeTimeout: 5 * time.Second,
		// A reply is at most 64 KiB; headers are small.
		MaxResponseHeaderBytes: 16 << 10,
		DisableCompression:     true,
		Proxy:                  nil, // never through a proxy named by the environment
	}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP2(true)
	tr.Protocols.SetHTTP1(true) // a server without h2 still works, one query per connection at a time
	u.h2 = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if s.HTTP3 {
		u.h3url = u.url
	}
	u.h3 = newH3(u, conf)
	return u
}

func (u *doh) String() string { return u.spec.String() }

// Close implements Upstream.
func (u *doh) Close() error {
	u.closed.Store(true)
	u.h2.CloseIdleConnections()
	if u.h3 == nil {
		return nil
	}
	return u.h3.Close()
}

// Exchange implements Upstream.
func (u *doh) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if u.closed.Load() {
		return nil, fmt.Errorf("upstream %s: %w", u, errClosed)
	}
	wire, err := prepare(q, 0, false, true)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u, err)
	}
	u.h3mu.Lock()
	h3url := u.h3url
	u.h3mu.Unlock()
	if h3url != "" {
		r, err := u.try(ctx, q, wire, h3url, true)
		if err == nil || u.h3only || ctx.Err() != nil {
			return r, err
		}
		// HTTP/3 learnt from Alt-Svc failed: HTTP/2 for a while.
		u.h3mu.Lock()
		u.h3url = ""
		u.h3down = time.Now().Add(h3HoldDown)
		u.h3mu.Unlock()
	}
	return u.try(ctx, q, wire, u.url, false)
}

// try sends the query once more when it failed on a reused connection.
func (u *doh) try(ctx context.Context, q *dns.Msg, wire []byte, url string, h3 bool) (*dns.Msg, error) {
	r, reused, err := u.post(ctx, q, wire, url, h3)
	if err != nil && reused && ctx.Err() == nil && !errors.Is(err, ErrCertificate) && !errors.Is(err, errHTTPStatus) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMismatch) {
		r, _, err = u.post(ctx, q, wire, url, h3)
	}
	if err != nil {
		if cerr, ok := certError(err); ok {
			u.certs.failed(&u.opts, u.String(), cerr)
			err = cerr
		}
		return nil, fmt.Errorf("upstream %s: %w", u, err)
	}
	u.certs.worked()
	u.exchanges.Add(1)
	return r, nil
}

var errHTTPStatus = errors.New("HTTP status")

func (u *doh) post(ctx context.Context, q *dns.Msg, wire []byte, url string, h3 bool) (*dns.Msg, bool, error) {
	var reused bool
	if !h3 {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
			TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
				if err == nil {
					u.dials.Add(1)
					if cs.DidResume {
						u.resumed.Add(1)
					}
				}
			},
		})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(wire))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", dnsMessage)
	req.Header.Set("Accept", dnsMessage)
	var resp *http.Response
	if h3 {
		resp, reused, err = u.h3.roundTrip(req)
	} else {
		resp, err = u.h2.Do(req)
	}
	if err != nil {
		return nil, reused, ctxErr(ctx, err)
	}
	defer resp.Body.Close()
	if !h3 {
		u.noteAltSvc(resp.Header.Get("Alt-Svc"))
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, false, fmt.Errorf("%w %d", errHTTPStatus, resp.StatusCode)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != dnsMessage {
		return nil, false, fmt.Errorf("%w: content type %q", ErrMalformed, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		return nil, reused, ctxErr(ctx, fmt.Errorf("read body: %w", err))
	}
	if len(body) > dns.MaxMsgSize || len(body) < 12 {
		return nil, false, fmt.Errorf("%w: %d-octet body", ErrMalformed, len(body))
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkReply(q, r, 0); err != nil {
		return nil, false, err
	}
	return r, false, nil
}

// noteAltSvc switches to HTTP/3 when the server offers h3 on its own
// address (an empty or same-IP alt-authority; a host name would need a
// lookup, which an upstream never does) unless HTTP/3 is held down.
func (u *doh) noteAltSvc(v string) {
	if v == "" {
		return
	}
	port, ok := altSvcH3(v, u.spec.Addr.Addr())
	if !ok || u.h3 == nil {
		return
	}
	u.h3mu.Lock()
	defer u.h3mu.Unlock()
	if u.h3url != "" || time.Now().Before(u.h3down) {
		return
	}
	u.h3url = "https://" + netip.AddrPortFrom(u.spec.Addr.Addr(), port).String() + u.spec.Path
}

// altSvcH3 finds an h3 alternative in an Alt-Svc header value (RFC 7838
// §3) whose host is empty or addr, and returns its port.
func altSvcH3(v string, addr netip.Addr) (uint16, bool) {
	if strings.TrimSpace(v) == "clear" {
		return 0, false
	}
	for _, alt := range strings.Split(v, ",") {
		first, _, _ := strings.Cut(alt, ";")
		proto, auth, ok := strings.Cut(strings.TrimSpace(first), "=")
		if !ok || proto != "h3" {
			continue
		}
		auth = strings.Trim(auth, `"`)
		host, portStr, err := net.SplitHostPort(auth)
		if err != nil {
			continue
		}
		if host != "" {
			if a, err := netip.ParseAddr(host); err != nil || a.Unmap() != addr {
				continue
			}
		}
		p, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || p == 0 {
			continue
		}
		return uint16(p), true
	}
	return 0, false
}

// ResetConnections implements Pool's optional interface. The HTTP/3
// endpoint learnt from Alt-Svc is forgotten too: the next response says
// again whether it is on offer.
func (u *doh) ResetConnections() {
	u.h2.CloseIdleConnections()
	if u.h3 != nil {
		u.h3.CloseIdleConnections()
	}
	u.h3mu.Lock()
	if !u.h3only {
		u.h3url = ""
	}
	u.h3down = time.Time{}
	u.h3mu.Unlock()
}
