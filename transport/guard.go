package transport

import (
	"net/netip"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

// The UDP guard: DNS cookies (RFC 7873, RFC 9018) and the per-client rate
// limit, the two defences against a spoofed-source client using hush as an
// amplifier. Over UDP anyone can write any source address; a valid server
// cookie proves the client saw an earlier answer at that address, so it
// exempts the client from the limit (BIND's RRL does the same). The stream
// listeners need neither: their handshake proves the address.

// readCookie keeps the data of opt's first COOKIE option in req (RFC
// 7873 §5.2: later ones are ignored). miekg/dns holds it as hex text; it
// is decoded into req's array without allocating. Data longer than any
// cookie is marked by cookieLen 0xff, undecodable data by cookieLen 0:
// both are malformed.
func readCookie(opt *dns.OPT, req *request) {
	for _, o := range opt.Option {
		c, ok := o.(*dns.EDNS0_COOKIE)
		if !ok {
			continue
		}
		req.hasCookie = true
		n := len(c.Cookie) / 2
		switch {
		case n > len(req.cookie):
			req.cookieLen = 0xff
			return
		case len(c.Cookie)%2 != 0:
			req.cookieLen = 0
			return
		}
		for i := range n {
			hi, ok1 := unhex(c.Cookie[2*i])
			lo, ok2 := unhex(c.Cookie[2*i+1])
			if !ok1 || !ok2 {
				req.cookieLen = 0
				return
			}
			req.cookie[i] = hi<<4 | lo
		}
		req.cookieLen = uint8(n)
		return
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// tooLongCookie stands for a COOKIE option longer than any valid one:
// cookie.Server.Check only needs its length to call it malformed.
var tooLongCookie [cookie.ResponseLen + 17]byte

// guard runs the cookie checks and the rate limit for a UDP query from
// client. It reports done with the response (or nothing, to drop) when
// the query goes no further; otherwise the query goes on, and req says
// which cookie the response carries.
func (pl *pipeline) guard(sc *scratch, req *request, p proto, client netip.Addr) (out []byte, act action, done bool) {
	now := time.Now()
	valid := false
	srv := pl.cookies.Server()
	if srv != nil && req.hasCookie {
		data := tooLongCookie[:]
		if req.cookieLen != 0xff {
			data = req.cookie[:req.cookieLen]
		}
		res := srv.Check(client, data, now, false)
		if res.Action == cookie.FormErr {
			// RFC 7873 §5.2.2; the FORMERR is no larger than the query.
			return pl.reply(sc, req, p, dns.RcodeFormatError, 0), actReply, true
		}
		valid = res.Kind == cookie.Valid
		req.sendCookie, req.respCookie = res.HasResponse, res.Response
	}
	limit := pl.limit.Load()
	if limit == nil || valid {
		return nil, actHandle, false
	}
	verdict := req.verdict
	if !req.limited {
		verdict = limit.Check(client, now)
	}
	switch verdict {
	case ratelimit.Allow:
		return nil, actHandle, false
	case ratelimit.Slip:
		if req.sendCookie {
			// A client that speaks cookies gets one to come back with
			// (RFC 7873 §5.2.3): its next query is exempt.
			return pl.reply(sc, req, p, dns.RcodeBadCookie, 0), actReply, true
		}
		return pl.truncated(sc, req, p), actReply, true
	}
	return nil, actDrop, true
}

// truncated is the slip answer: TC=1, the question, no records, so that
// a real client asks again over TCP.
func (pl *pipeline) truncated(sc *scratch, req *request, p proto) []byte {
	out, err := pl.build(sc, req, p, &response{tc: true})
	if err != nil {
		return minimal(req, p, dns.RcodeServerFailure)
	}
	return out
}
