//go:build !nohttp

package transport

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// ServeHTTP answers one DoH request; see DoHServer for the rules.
func (s *DoHServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.life.enter()
	defer s.life.leave()
	defer holdSlot(r.Context())()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// net/http would log the value, which may quote the
			// request; only the stack goes out, and the stream is
			// aborted without a log line.
			s.pipe.report(fmt.Errorf("transport: doh handler panicked:\n%s", debug.Stack()))
			panic(http.ErrAbortHandler)
		}
	}()
	h := w.Header()
	s.setTransportHeaders(w, r)
	if r.URL.Path != s.path {
		httpFail(w, http.StatusNotFound, false, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h["Allow"] = hdrAllow
		httpFail(w, http.StatusMethodNotAllowed, false, "method not allowed: use GET or POST")
		return
	}
	var (
		wk          *dohWork
		dr          dohRequest
		status      int
		msg         string
		contentType = r.Header.Get("Content-Type")
	)
	if r.Method == http.MethodPost {
		// The body may be slow to come: the pooled buffers are
		// taken once it is here, and it is read into one that grows
		// with it.
		dr, status, msg = decodeRequest(w, r.Method, r.URL.RawQuery, contentType, r.ContentLength, r.Body, nil)
		wk = s.work.Get().(*dohWork)
	} else {
		wk = s.work.Get().(*dohWork)
		dr, status, msg = decodeRequest(w, r.Method, r.URL.RawQuery, contentType, r.ContentLength, r.Body, wk.buf)
	}
	defer s.work.Put(wk)
	if status != 0 {
		httpFail(w, status, dr.json, msg)
		return
	}
	out, status := s.resolve(r.Context(), wk, dr.raw, s.pipe.allowed(remoteAddr(r)), dohHandshakeOf(r))
	switch status {
	case 0:
	case http.StatusTooEarly:
		httpFail(w, status, dr.json, "handshake not complete")
		return
	default:
		httpFail(w, http.StatusBadRequest, dr.json, "not a DNS query")
		return
	}
	if dr.json {
		writeJSON(w, out)
		return
	}
	h["Content-Type"] = hdrDNSMessage
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	h["Cache-Control"] = []string{cacheControl(out)}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// setTransportHeaders adds what depends on the HTTP version: Alt-Svc for
// HTTP/1.1 and HTTP/2 once ServeQUIC runs, and for HTTP/3 the read and
// write deadlines that net/http's timeouts give the others.
func (s *DoHServer) setTransportHeaders(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor < 3 {
		s.altSvc.RLock()
		if s.altSvc.v != nil {
			w.Header()["Alt-Svc"] = s.altSvc.v
		}
		s.altSvc.RUnlock()
	} else if d, ok := w.(interface {
		SetReadDeadline(time.Time) error
		SetWriteDeadline(time.Time) error
	}); ok {
		// net/http's timeouts do not reach HTTP/3: the same budget.
		now := time.Now()
		_ = d.SetReadDeadline(now.Add(s.cfg.IdleTimeout))
		_ = d.SetWriteDeadline(now.Add(s.cfg.QueryTimeout + s.cfg.IdleTimeout))
	}
}

// resolve runs the shared pipeline on raw. The result is in wk.sc's
// buffer, valid until wk is used again. Status 400 means no answer is due
// (not a query); 425 (Too Early, RFC 8470) that the query needed the
// handler, came in 0-RTT and the handshake did not complete before ctx
// ended or Shutdown started.
//
// proven is nil when the client's address is proven (TCP), else closed
// when it is (QUIC's HandshakeComplete). Until then the address may be
// forged: a client outside Config.AllowClients could send 0-RTT data in
// the name of an allowed one. Answers that need no resolution (the cache
// fast path, REFUSED) go to the claimed address at once, as DoQ sends
// them: a forger cannot read them. A query that reaches the handler waits
// for the proof, so that nobody makes hush resolve in another's name.
func (s *DoHServer) resolve(ctx context.Context, wk *dohWork, raw []byte, allowed bool, proven <-chan struct{}) ([]byte, int) {
	var req request
	out, act := s.pipe.prepare(wk.sc, raw, wk.q, &req, protoHTTPS, allowed)
	switch act {
	case actDrop:
		return nil, http.StatusBadRequest
	case actHandle:
		if proven != nil {
			select {
			case <-proven:
			case <-ctx.Done():
				return nil, http.StatusTooEarly
			case <-s.life.stopping:
				// Shutdown waits for the requests in flight:
				// not for a handshake that may never end.
				return nil, http.StatusTooEarly
			}
		}
		// The handler may keep q.
		q := wk.q
		wk.q = new(dns.Msg)
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		stop := context.AfterFunc(s.life.base, cancel)
		out = s.pipe.finish(qctx, wk.sc, q, &req, protoHTTPS)
		stop()
		cancel()
	}
	return out, 0
}

// remoteAddr is the client's address as the connection gives it (net/http
// and quic-go's http3 fill RemoteAddr from the socket, never from a
// header).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// addrPortOf is addrOf with the port.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// httpFail writes an HTTP error: {"error": msg} for the JSON form, the
// text otherwise. msg never quotes the request.
func httpFail(w http.ResponseWriter, status int, json bool, msg string) {
	h := w.Header()
	h["Cache-Control"] = hdrNoStore
	var body []byte
	if json {
		h["Content-Type"] = hdrJSON
		body = jsonError(msg)
	} else {
		h["Content-Type"] = hdrTextPlain
		body = []byte(msg + "\n")
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
