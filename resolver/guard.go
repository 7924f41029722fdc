package resolver

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hush-dns/hush/cookie"
	"github.com/miekg/dns"
)

// The upstream guard makes an off-path forgery of an authority's answer
// harder than guessing a message ID and a source port:
//
//   - 0x20: the question goes out in random case (case0x20.go); an answer
//     over UDP whose question differs in case is dropped as spoofed and
//     the question asked again over TCP, which an off-path attacker
//     cannot answer. If the TCP answer differs in case too, the server
//     folds case: it is remembered for foldMemory and asked in the case
//     the resolver was given (Knot Resolver's NO_0X20 fallback). Answers
//     go back to the resolver in that case, so no random case reaches the
//     cache or a client through an owner name.
//   - DNS cookies (RFC 7873 §5.1, §5.3): a client cookie per server, and
//     the server cookie it returned, go with every EDNS query; an answer
//     over UDP with a wrong client cookie, or without the cookie a server
//     is known to send, is dropped and the question asked over TCP; a
//     BADCOOKIE answer is retried once with the fresh server cookie.
type upstreamGuard struct {
	jar    *cookie.Jar // nil: no cookies
	random bool        // 0x20 on
	folds  foldSet
}

// foldMemory is how long a server seen folding case is asked without
// 0x20. Such servers are rare and rarely change; a day keeps them from
// costing a TCP round trip per query while letting a fixed one recover.
const foldMemory = 24 * time.Hour

// maxFolds bounds the set of case-folding servers; past it the set starts
// over (a flood of folding servers would be one per address an attacker
// controls, and forgetting them costs only TCP round trips).
const maxFolds = 4096

type foldSet struct {
	mu    sync.Mutex
	until map[netip.Addr]time.Time // mu guards
}

func (f *foldSet) has(a netip.Addr, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.until[a]
	return ok && now.Before(t)
}

func (f *foldSet) add(a netip.Addr, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.until == nil || len(f.until) >= maxFolds {
		f.until = make(map[netip.Addr]time.Time)
	}
	f.until[a] = now.Add(foldMemory)
}

// errSpoofed reports an answer the guard judged forged and that TCP could
// not replace.
var errSpoofed = fmt.Errorf("%w: 0x20 or cookie check failed", ErrMismatch)

// exchange sends q to server over network through ex, with the guard's
// defences, and returns the answer with q's own spelling of the question.
// q is not modified. It does not check the ID or the question beyond case:
// exchangeOnce does.
func (g *upstreamGuard) exchange(ctx context.Context, ex Exchanger, network string, server netip.AddrPort, q *dns.Msg, now time.Time) (*dns.Msg, error) {
	if g == nil || (g.jar == nil && !g.random) || len(q.Question) != 1 {
		return ex.Exchange(ctx, network, server, q)
	}
	addr := server.Addr()
	resp, verdict, err := g.once(ctx, ex, network, server, q, now)
	if err != nil {
		return nil, err
	}
	if verdict == cookie.Retry && network == "udp" {
		// RFC 7873 §5.3: the server now knows us; ask once more.
		resp, verdict, err = g.once(ctx, ex, network, server, q, now)
		if err != nil {
			return nil, err
		}
	}
	if verdict == cookie.Accept && !resp.caseDiffers {
		return resp.msg, nil
	}
	if network == "udp" {
		// Spoofed, or a server that folds case or lost its cookie: TCP
		// tells which, since an off-path attacker cannot answer there.
		resp, verdict, err = g.once(ctx, ex, "tcp", server, q, now)
		if err != nil {
			return nil, err
		}
	}
	switch verdict {
	case cookie.Spoofed:
		return nil, errSpoofed
	case cookie.Missing, cookie.Retry:
		// Over TCP the address is proven without cookies, and a
		// server may send none there.
	}
	if resp.caseDiffers {
		g.folds.add(addr, now)
	}
	return resp.msg, nil
}

// guarded is an answer and what the guard saw in it.
type guarded struct {
	msg         *dns.Msg
	caseDiffers bool // the question came back in another case
}

// once makes one exchange: q spelled at random (unless the server folds
// case) and with the cookie option (when q has EDNS), and judges the
// answer.
func (g *upstreamGuard) once(ctx context.Context, ex Exchanger, network string, server netip.AddrPort, q *dns.Msg, now time.Time) (guarded, cookie.Verdict, error) {
	addr := server.Addr()
	out := *q // shallow: the sections are replaced, never written
	orig := q.Question[0].Name
	sent := orig
	if g.random && !g.folds.has(addr, now) {
		sent, _ = randomiseCase(orig)
	}
	out.Question = []dns.Question{q.Question[0]}
	out.Question[0].Name = sent
	opt := q.IsEdns0()
	if g.jar != nil && opt != nil {
		o := *opt
		o.Option = append(append([]dns.EDNS0(nil), opt.Option...),
			&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(g.jar.Option(nil, addr))})
		out.Extra = replaceOPT(q.Extra, &o)
	}
	resp, err := ex.Exchange(ctx, network, server, &out)
	if err != nil {
		return guarded{}, cookie.Accept, err
	}
	if resp.Id != q.Id || len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, orig) {
		// Not an answer to this query at all: exchangeOnce says so.
		return guarded{msg: resp}, cookie.Accept, nil
	}
	v := cookie.Accept
	if g.jar != nil && opt != nil {
		v = g.jar.Check(addr, responseCookie(resp), resp.Rcode == dns.RcodeBadCookie)
	}
	differs := compareCase(sent, resp.Question[0].Name) != caseExact
	restoreCase(resp, sent, orig)
	return guarded{msg: resp, caseDiffers: differs}, v, nil
}

// replaceOPT returns a copy of extra with its OPT record replaced by opt.
func replaceOPT(extra []dns.RR, opt *dns.OPT) []dns.RR {
	out := make([]dns.RR, len(extra))
	for i, rr := range extra {
		if _, ok := rr.(*dns.OPT); ok {
			out[i] = opt
		} else {
			out[i] = rr
		}
	}
	return out
}

// responseCookie returns the COOKIE option data of m, nil when it has
// none; a cookie that is not hex (miekg/dns keeps it as text) comes back
// as an empty, malformed, option.
func responseCookie(m *dns.Msg) []byte {
	opt := m.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok {
			b, err := hex.DecodeString(c.Cookie)
			if err != nil {
				return []byte{}
			}
			return b
		}
	}
	return nil
}

// restoreCase puts the resolver's own spelling back wherever the random
// one came back: in the question and in every name, owner or record data,
// that ends in a suffix of it (a server that compresses names points into
// the question, so "mail.ExAmPle.CoM." comes back in an MX record when
// example.com. was asked in that case). Only names that change are
// written: records that came from elsewhere (a simulated server's zone
// data) are left untouched.
func restoreCase(m *dns.Msg, sent, orig string) {
	if sent == orig {
		return
	}
	m.Question[0].Name = orig
	fix := func(name *string) {
		if n := fixSuffix(*name, sent, orig); n != *name {
			*name = n
		}
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			fix(&rr.Header().Name)
			switch rr := rr.(type) {
			case *dns.NS:
				fix(&rr.Ns)
			case *dns.CNAME:
				fix(&rr.Target)
			case *dns.DNAME:
				fix(&rr.Target)
			case *dns.PTR:
				fix(&rr.Ptr)
			case *dns.MX:
				fix(&rr.Mx)
			case *dns.SRV:
				fix(&rr.Target)
			case *dns.SOA:
				fix(&rr.Ns)
				fix(&rr.Mbox)
			case *dns.RRSIG:
				fix(&rr.SignerName)
			case *dns.NSEC:
				fix(&rr.NextDomain)
			case *dns.SVCB:
				fix(&rr.Target)
			case *dns.HTTPS:
				fix(&rr.Target)
			case *dns.NAPTR:
				fix(&rr.Replacement)
			case *dns.KX:
				fix(&rr.Exchanger)
			case *dns.AFSDB:
				fix(&rr.Hostname)
			}
		}
	}
}

// fixSuffix returns name with its longest ending that is, byte for byte,
// a suffix of sent (at a label boundary of both) replaced by the same
// suffix of orig, which has the same length and labels.
func fixSuffix(name, sent, orig string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(sent, off) {
		suf := sent[off:]
		if suf == "." {
			break
		}
		if strings.HasSuffix(name, suf) && (len(name) == len(suf) || name[len(name)-len(suf)-1] == '.') {
			return name[:len(name)-len(suf)] + orig[off:]
		}
	}
	return name
}
