package transport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

// pipeline is the query pipeline every listener runs: the checks that need
// no handler (prepare, in query.go), the CacheAnswerer fast path, the call
// to the handler and the building of the response (response.go). It is
// built once per server from its Config, and only read afterwards (what a
// reload changes is behind atomic pointers), so the listeners' goroutines
// share it without locks.
type pipeline struct {
	handler Handler
	// cache is handler as a CacheAnswerer, if it is one, so that the hot
	// path does not repeat the type assertion; wire, as a WireAnswerer.
	cache CacheAnswerer
	wire  WireAnswerer
	// acl is Config.AllowClients, normalised by withDefaults, or what
	// SetAllowClients put there since (a reload).
	acl atomic.Pointer[[]netip.Prefix]
	// keepalive is the edns-tcp-keepalive timeout sent back over TCP and
	// DoT: Config.IdleTimeout in units of 100 ms.
	keepalive uint16
	errorLog  func(error)
	// cookies and limit guard the UDP listeners (guard.go); limit is
	// Config.RateLimit or what SetRateLimit put there since (nil: off).
	cookies *cookie.Keeper
	limit   atomic.Pointer[ratelimit.Clients]
	// ident is Config.Chaos and Config.NSID, or what SetIdentity put
	// there since.
	ident atomic.Pointer[identity]
}

// identity is what hush says about itself: the CHAOS answers, and the
// NSID in the hex form dns.EDNS0_NSID carries, made once so that no
// response allocates it.
type identity struct {
	chaos map[string]string
	nsid  string
}

func newIdentity(chaos map[string]string, nsid []byte) *identity {
	return &identity{chaos: chaos, nsid: hex.EncodeToString(nsid)}
}

// newPipeline returns the pipeline of c, with c's defaults filled in.
func newPipeline(c Config) *pipeline {
	c = c.withDefaults()
	pl := &pipeline{
		handler:   c.Handler,
		keepalive: keepaliveUnits(c.IdleTimeout),
		errorLog:  c.ErrorLog,
		cookies:   c.Cookies,
	}
	pl.limit.Store(c.RateLimit)
	pl.ident.Store(newIdentity(c.Chaos, c.NSID))
	pl.acl.Store(&c.AllowClients)
	pl.cache, _ = c.Handler.(CacheAnswerer)
	pl.wire, _ = c.Handler.(WireAnswerer)
	return pl
}

// setACL replaces the client ACL, normalised as Config.AllowClients is
// (empty means loopback only).
func (pl *pipeline) setACL(prefixes []netip.Prefix) {
	acl := Config{AllowClients: prefixes}.withDefaults().AllowClients
	pl.acl.Store(&acl)
}

// allowed reports whether a client address passes the ACL. An invalid
// address (a transport that could not tell us) never does.
func (pl *pipeline) allowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range *pl.acl.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// respond is the whole request path for one message: raw is a query as
// read from the network, the result the response to send, if any. The
// listeners run the same steps split over goroutines (prepare inline,
// finish in a goroutine); respond exists for fuzzing and benchmarks.
func (pl *pipeline) respond(ctx context.Context, sc *scratch, raw []byte, p proto, allowed bool) ([]byte, bool) {
	var q dns.Msg
	var req request
	out, act := pl.prepare(sc, raw, &q, &req, p, allowed)
	switch act {
	case actDrop:
		return nil, false
	case actHandle:
		out = pl.finish(ctx, sc, &q, &req, p)
	}
	return out, out != nil
}

// finish asks the handler and builds the response.
func (pl *pipeline) finish(ctx context.Context, sc *scratch, q *dns.Msg, req *request, p proto) []byte {
	resp, err := pl.serve(ctx, q)
	return pl.answer(sc, req, p, resp, err)
}

// serve calls the handler. A panic becomes an error, so that one bad query
// costs a SERVFAIL rather than the process.
func (pl *pipeline) serve(ctx context.Context, q *dns.Msg) (resp *dns.Msg, err error) {
	defer func() {
		if v := recover(); v != nil {
			// The panic value may quote the query; only the stack goes out.
			resp, err = nil, fmt.Errorf("transport: handler panicked:\n%s", debug.Stack())
			pl.report(err)
		}
	}()
	return pl.handler.ServeDNS(ctx, q)
}

// answerCached calls the fast path. A panic there counts as a miss (and is
// reported), so the query still gets ServeDNS's answer.
func (pl *pipeline) answerCached(q *dns.Msg) (resp *dns.Msg, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			resp, ok = nil, false
			pl.report(fmt.Errorf("transport: AnswerCached panicked:\n%s", debug.Stack()))
		}
	}()
	return pl.cache.AnswerCached(q)
}

// reply builds a response with no sections: an error the transport decided
// on, with an optional EDE code (0 means none; EDE 0 "Other" is never sent
// from here).
func (pl *pipeline) reply(sc *scratch, req *request, p proto, rcode int, ede uint16) []byte {
	r := response{rcode: rcode}
	if ede != 0 && req.edns {
		sc.ede = dns.EDNS0_EDE{InfoCode: ede}
		sc.edes = append(sc.edes[:0], &sc.ede)
		r.edes = sc.edes
	}
	out, err := pl.build(sc, req, p, &r)
	if err != nil {
		// Cannot happen without handler data; keep the promise of an answer.
		return minimal(req, p, dns.RcodeServerFailure)
	}
	return out
}

// answer turns a handler's result into the response.
func (pl *pipeline) answer(sc *scratch, req *request, p proto, resp *dns.Msg, herr error) []byte {
	if herr != nil || resp == nil {
		return pl.fail(sc, req, p, herr)
	}
	r := response{
		rcode:  resp.Rcode,
		aa:     resp.Authoritative,
		ad:     resp.AuthenticatedData,
		answer: resp.Answer,
		ns:     resp.Ns,
		extra:  resp.Extra,
	}
	if req.edns {
		if opt := resp.IsEdns0(); opt != nil {
			sc.edes = sc.edes[:0]
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					sc.edes = append(sc.edes, e)
				}
			}
			r.edes = sc.edes
		}
	}
	out, err := pl.build(sc, req, p, &r)
	if err != nil {
		// The handler returned something that does not pack (a nil
		// record, a name that is not fully qualified, an extended rcode
		// for a client without EDNS): a handler bug, so tell ErrorLog.
		pl.report(fmt.Errorf("transport: packing handler response: %w", err))
		out, err = pl.build(sc, req, p, &response{rcode: dns.RcodeServerFailure})
		if err != nil {
			return minimal(req, p, dns.RcodeServerFailure)
		}
	}
	return out
}

// fail is the SERVFAIL for a handler that returned an error or no
// message, with the error's Extended DNS Error when it has one and the
// client sent EDNS.
func (pl *pipeline) fail(sc *scratch, req *request, p proto, herr error) []byte {
	r := response{rcode: dns.RcodeServerFailure}
	var xe ExtendedError
	if req.edns && errors.As(herr, &xe) {
		code, text := xe.ExtendedDNSError()
		sc.ede = dns.EDNS0_EDE{InfoCode: code, ExtraText: text}
		sc.edes = append(sc.edes[:0], &sc.ede)
		r.edes = sc.edes
	}
	out, err := pl.build(sc, req, p, &r)
	if err != nil {
		return minimal(req, p, dns.RcodeServerFailure)
	}
	return out
}

// answerChaos answers a CHAOS question from Config.Chaos: TXT (or ANY) gets the
// text, another type no records; false for a name Chaos does not hold.
func (pl *pipeline) answerChaos(sc *scratch, req *request, p proto) ([]byte, bool) {
	qn := req.question
	text, ok := pl.chaosText(qn.Name)
	if !ok {
		return nil, false
	}
	r := response{aa: true}
	if qn.Qtype == dns.TypeTXT || qn.Qtype == dns.TypeANY {
		r.answer = []dns.RR{&dns.TXT{
			Hdr: dns.RR_Header{Name: qn.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
			Txt: []string{text},
		}}
	}
	out, err := pl.build(sc, req, p, &r)
	if err != nil {
		return minimal(req, p, dns.RcodeServerFailure), true
	}
	return out, true
}

func (pl *pipeline) chaosText(name string) (string, bool) {
	chaos := pl.ident.Load().chaos
	if len(chaos) == 0 {
		return "", false
	}
	text, ok := chaos[strings.ToLower(name)]
	return text, ok
}

// report hands a handler bug to ErrorLog, if any.
func (pl *pipeline) report(err error) {
	if pl.errorLog != nil {
		pl.errorLog(err)
	}
}

// logSocketError hands err to the ErrorLog hook, if any, after removing the
// addresses a *net.OpError carries.
func (pl *pipeline) logSocketError(prefix string, err error) {
	if pl.errorLog == nil || err == nil {
		return
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	pl.errorLog(&socketError{prefix: prefix, err: err})
}

// socketError is what ErrorLog receives: a short context and the cause,
// stripped of addresses.
type socketError struct {
	prefix string
	err    error
}

func (e *socketError) Error() string { return e.prefix + ": " + e.err.Error() }
func (e *socketError) Unwrap() error { return e.err }
