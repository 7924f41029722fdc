package transport

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// respondMsg runs raw through the request path and unpacks the response;
// nil means the query was dropped. For TCP it checks and strips the frame.
func respondMsg(t *testing.T, ctx context.Context, cfg *pipeline, raw []byte, p proto, allowed bool) (*dns.Msg, []byte) {
	t.Helper()
	out, ok := cfg.respond(ctx, newScratch(), raw, p, allowed)
	if !ok {
		return nil, nil
	}
	if p == protoTCP {
		if len(out) < 2 || int(binary.BigEndian.Uint16(out)) != len(out)-2 {
			t.Fatalf("TCP frame: length prefix does not match %d bytes", len(out)-2)
		}
		out = out[2:]
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("response does not unpack: %v", err)
	}
	return r, out
}

// edes returns the EDE options of r's OPT, or nil.
func edes(r *dns.Msg) []*dns.EDNS0_EDE {
	var out []*dns.EDNS0_EDE
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				out = append(out, e)
			}
		}
	}
	return out
}

func withFlags(raw []byte, set, clear uint16) []byte {
	f := binary.BigEndian.Uint16(raw[2:])
	binary.BigEndian.PutUint16(raw[2:], f&^clear|set)
	return raw
}

func TestRespond(t *testing.T) {
	cfg := newPipeline(Config{Handler: testHandler(t)})

	q := func(name string, qtype uint16, edns bool, size uint16, do bool) []byte {
		return pack(t, query(name, qtype, edns, size, do))
	}
	withMsg := func(f func(m *dns.Msg)) []byte {
		m := query("example.com.", dns.TypeA, true, 1232, false)
		f(m)
		return pack(t, m)
	}
	header := func(qd, an uint16) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint16(b, 0xbeef)
		binary.BigEndian.PutUint16(b[4:], qd)
		binary.BigEndian.PutUint16(b[6:], an)
		return b
	}
	valid := q("example.com.", dns.TypeA, false, 0, false)

	tests := []struct {
		name    string
		raw     []byte
		p       proto
		denied  bool
		ctx     func() (context.Context, context.CancelFunc)
		drop    bool
		rcode   int
		opt     bool   // want an OPT record
		ede     uint16 // want this EDE code (0: want none)
		check   func(t *testing.T, r *dns.Msg, wire []byte)
		noQuest bool // want no question echoed
	}{
		{name: "answer", raw: valid, rcode: dns.RcodeSuccess, check: func(t *testing.T, r *dns.Msg, _ []byte) {
			if len(r.Answer) != 1 || !r.RecursionAvailable || !r.RecursionDesired || r.Authoritative {
				t.Errorf("got answer %d RA %v RD %v AA %v, want 1 true true false", len(r.Answer), r.RecursionAvailable, r.RecursionDesired, r.Authoritative)
			}
		}},
		{name: "answer tcp", raw: valid, p: protoTCP, rcode: dns.RcodeSuccess},
		{name: "question case kept", raw: q("ExAmPlE.CoM.", dns.TypeA, true, 1232, false), rcode: dns.RcodeSuccess, opt: true,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if got := r.Question[0].Name; got != "ExAmPlE.CoM." {
					t.Errorf("got question %q, want %q", got, "ExAmPlE.CoM.")
				}
			}},
		{name: "rd and cd copied", raw: withFlags(q("example.com.", dns.TypeA, false, 0, false), bitCD, bitRD), rcode: dns.RcodeSuccess,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if r.RecursionDesired || !r.CheckingDisabled {
					t.Errorf("got RD %v CD %v, want false true", r.RecursionDesired, r.CheckingDisabled)
				}
			}},
		{name: "short header dropped", raw: valid[:11], drop: true},
		{name: "empty dropped", raw: nil, drop: true},
		{name: "response dropped", raw: withFlags(q("example.com.", dns.TypeA, false, 0, false), bitQR, 0), drop: true},
		{name: "header only", raw: header(0, 0), rcode: dns.RcodeFormatError, noQuest: true},
		{name: "cut question", raw: append(header(1, 0), 7, 'e', 'x'), rcode: dns.RcodeFormatError, noQuest: true},
		{name: "bad tail keeps question", raw: func() []byte {
			b := q("example.com.", dns.TypeA, false, 0, false)
			binary.BigEndian.PutUint16(b[6:], 1) // ANCOUNT 1, but no record
			return append(b, 0xc0)
		}(), rcode: dns.RcodeFormatError},
		{name: "two questions", raw: withMsg(func(m *dns.Msg) {
			m.Question = append(m.Question, m.Question[0])
		}), rcode: dns.RcodeFormatError, noQuest: true},
		{name: "answer in query", raw: withMsg(func(m *dns.Msg) {
			m.Answer = []dns.RR{mustRR(t, "example.com. 1 IN A 192.0.2.9")}
		}), rcode: dns.RcodeFormatError},
		{name: "three additional", raw: withMsg(func(m *dns.Msg) {
			a := mustRR(t, "example.com. 1 IN A 192.0.2.9")
			m.Extra = append(m.Extra, a, a)
		}), rcode: dns.RcodeFormatError},
		{name: "two OPT", raw: withMsg(func(m *dns.Msg) {
			m.Extra = append(m.Extra, m.Extra[0])
		}), rcode: dns.RcodeFormatError, opt: true},
		{name: "qtype OPT", raw: q("example.com.", dns.TypeOPT, false, 0, false), rcode: dns.RcodeFormatError},
		{name: "qtype TSIG", raw: q("example.com.", dns.TypeTSIG, false, 0, false), rcode: dns.RcodeFormatError},
		{name: "notify", raw: withMsg(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), rcode: dns.RcodeNotImplemented,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if r.Opcode != dns.OpcodeNotify {
					t.Errorf("got opcode %d, want %d", r.Opcode, dns.OpcodeNotify)
				}
			}},
		{name: "update", raw: withMsg(func(m *dns.Msg) {
			m.Opcode = dns.OpcodeUpdate
			m.Ns = []dns.RR{mustRR(t, "example.com. 1 IN A 192.0.2.9")}
		}), rcode: dns.RcodeNotImplemented},
		{name: "badvers", raw: withMsg(func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), rcode: dns.RcodeBadVers, opt: true,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if v := r.IsEdns0().Version(); v != 0 {
					t.Errorf("got EDNS version %d, want 0", v)
				}
			}},
		{name: "refused", raw: q("example.com.", dns.TypeA, true, 1232, false), denied: true, rcode: dns.RcodeRefused, opt: true, ede: dns.ExtendedErrorCodeProhibited},
		{name: "refused without edns", raw: valid, denied: true, rcode: dns.RcodeRefused},
		{name: "class CH", raw: withMsg(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), rcode: dns.RcodeRefused, opt: true, ede: dns.ExtendedErrorCodeNotSupported},
		{name: "axfr", raw: q("example.com.", dns.TypeAXFR, false, 0, false), rcode: dns.RcodeRefused},
		{name: "edns echo", raw: q("example.com.", dns.TypeA, true, 4096, true), rcode: dns.RcodeSuccess, opt: true,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				opt := r.IsEdns0()
				if opt.UDPSize() != 1232 || !opt.Do() || opt.Version() != 0 {
					t.Errorf("got OPT size %d DO %v version %d, want 1232 true 0", opt.UDPSize(), opt.Do(), opt.Version())
				}
			}},
		{name: "edns without DO", raw: q("example.com.", dns.TypeA, true, 1232, false), rcode: dns.RcodeSuccess, opt: true,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if r.IsEdns0().Do() {
					t.Errorf("got DO set, want clear")
				}
			}},
		{name: "truncated at 512", raw: q("big.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeSuccess,
			check: wantTruncated(512, true)},
		{name: "truncated at 1232", raw: q("big.example.", dns.TypeA, true, 4096, false), rcode: dns.RcodeSuccess, opt: true,
			check: wantTruncated(1232, true)},
		{name: "small edns size means 512", raw: q("big.example.", dns.TypeA, true, 100, false), rcode: dns.RcodeSuccess, opt: true,
			check: wantTruncated(512, true)},
		{name: "tcp not truncated", raw: q("big.example.", dns.TypeA, false, 0, false), p: protoTCP, rcode: dns.RcodeSuccess,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if r.Truncated || len(r.Answer) != 100 {
					t.Errorf("got TC %v, %d answers; want false, 100", r.Truncated, len(r.Answer))
				}
			}},
		{name: "whole rrsets", raw: q("chain.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeSuccess,
			check: func(t *testing.T, r *dns.Msg, wire []byte) {
				wantTruncated(512, true)(t, r, wire)
				if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
					t.Errorf("got %d answers, want only the CNAME (A RRset cut whole)", len(r.Answer))
				}
			}},
		{name: "additional cut without TC", raw: q("glue.example.", dns.TypeA, true, 512, false), rcode: dns.RcodeSuccess, opt: true,
			check: func(t *testing.T, r *dns.Msg, wire []byte) {
				wantTruncated(512, false)(t, r, wire)
				counts := map[string]int{}
				for _, rr := range r.Extra {
					if rr.Header().Rrtype == dns.TypeA {
						counts[rr.Header().Name]++
					}
				}
				if len(r.Answer) != 1 || len(counts) != 1 || counts["a.glue.example."] != 20 {
					t.Errorf("got %d answers and additional sets %v; want 1 and only a.glue.example. (20)", len(r.Answer), counts)
				}
			}},
		{name: "handler EDE", raw: q("fail.example.", dns.TypeA, true, 1232, false), rcode: dns.RcodeServerFailure, opt: true, ede: dns.ExtendedErrorCodeNoReachableAuthority,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if got := edes(r)[0].ExtraText; got != "no reachable authority" {
					t.Errorf("got EDE text %q, want %q", got, "no reachable authority")
				}
			}},
		{name: "handler EDE without edns", raw: q("fail.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeServerFailure},
		{name: "plain error", raw: q("plainfail.example.", dns.TypeA, true, 1232, false), rcode: dns.RcodeServerFailure, opt: true},
		{name: "deadline", raw: q("timeout.example.", dns.TypeA, true, 1232, false), rcode: dns.RcodeServerFailure, opt: true,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), time.Unix(1, 0))
			}},
		{name: "panic", raw: q("panic.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeServerFailure},
		{name: "nil response", raw: q("nil.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeServerFailure},
		{name: "unpackable response", raw: q("badpack.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeServerFailure},
		{name: "extended rcode without edns", raw: q("xrcode.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeServerFailure},
		{name: "extended rcode with edns", raw: q("xrcode.example.", dns.TypeA, true, 1232, false), rcode: dns.RcodeBadCookie, opt: true},
		{name: "handler OPT keeps only EDE", raw: q("ede.example.", dns.TypeA, true, 1232, true), rcode: dns.RcodeNameError, opt: true, ede: dns.ExtendedErrorCodeBlocked,
			check: func(t *testing.T, r *dns.Msg, _ []byte) {
				if n := len(r.IsEdns0().Option); n != 1 {
					t.Errorf("got %d EDNS options, want 1", n)
				}
			}},
		{name: "handler OPT dropped without edns", raw: q("ede.example.", dns.TypeA, false, 0, false), rcode: dns.RcodeNameError},
		{name: "AD cleared without DO or AD", raw: q("ad.example.", dns.TypeA, true, 1232, false), rcode: dns.RcodeSuccess, opt: true,
			check: wantAD(false)},
		{name: "AD kept with DO", raw: q("ad.example.", dns.TypeA, true, 1232, true), rcode: dns.RcodeSuccess, opt: true,
			check: wantAD(true)},
		{name: "AD kept with AD", raw: withFlags(q("ad.example.", dns.TypeA, false, 0, false), bitAD, 0), rcode: dns.RcodeSuccess,
			check: wantAD(true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			if tt.ctx != nil {
				cancel()
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			r, wire := respondMsg(t, ctx, cfg, tt.raw, tt.p, !tt.denied)
			if tt.drop {
				if r != nil {
					t.Fatalf("got response %v, want drop", r)
				}
				return
			}
			if r == nil {
				t.Fatalf("got drop, want rcode %s", dns.RcodeToString[tt.rcode])
			}
			if r.Rcode != tt.rcode {
				t.Errorf("got rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
			}
			if want := binary.BigEndian.Uint16(tt.raw); r.Id != want || !r.Response {
				t.Errorf("got ID %d QR %v, want %d true", r.Id, r.Response, want)
			}
			if got := r.IsEdns0() != nil; got != tt.opt {
				t.Errorf("got OPT %v, want %v", got, tt.opt)
			}
			var gotEDE uint16
			if e := edes(r); len(e) > 0 {
				gotEDE = e[0].InfoCode
			}
			if gotEDE != tt.ede {
				t.Errorf("got EDE %d, want %d", gotEDE, tt.ede)
			}
			if got := len(r.Question) == 1; got == tt.noQuest {
				t.Errorf("got question echoed %v, want %v", got, !tt.noQuest)
			}
			if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError && len(r.Answer)+len(r.Ns) > 0 {
				t.Errorf("got %d records with rcode %s, want none", len(r.Answer)+len(r.Ns), dns.RcodeToString[r.Rcode])
			}
			if tt.check != nil {
				tt.check(t, r, wire)
			}
		})
	}
}

func wantTruncated(limit int, tc bool) func(t *testing.T, r *dns.Msg, wire []byte) {
	return func(t *testing.T, r *dns.Msg, wire []byte) {
		t.Helper()
		if len(wire) > limit {
			t.Errorf("got %d bytes, want <= %d", len(wire), limit)
		}
		if r.Truncated != tc {
			t.Errorf("got TC %v, want %v", r.Truncated, tc)
		}
	}
}

func wantAD(ad bool) func(t *testing.T, r *dns.Msg, wire []byte) {
	return func(t *testing.T, r *dns.Msg, _ []byte) {
		t.Helper()
		if r.AuthenticatedData != ad {
			t.Errorf("got AD %v, want %v", r.AuthenticatedData, ad)
		}
	}
}

func TestAllowed(t *testing.T) {
	def := newPipeline(Config{})
	ten := newPipeline(Config{AllowClients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:192.0.2.0/120")}})
	tests := []struct {
		cfg  *pipeline
		addr string
		want bool
	}{
		{def, "127.0.0.1", true},
		{def, "127.53.1.2", true},
		{def, "::1", true},
		{def, "::ffff:127.0.0.1", true},
		{def, "10.0.0.1", false},
		{def, "::2", false},
		{ten, "10.1.2.3", true},
		{ten, "::ffff:10.1.2.3", true},
		{ten, "192.0.2.7", true},
		{ten, "127.0.0.1", false},
		{ten, "fe80::1%eth0", false},
	}
	for _, tt := range tests {
		if got := tt.cfg.allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("allowed(%s) with %v: got %v, want %v", tt.addr, *tt.cfg.acl.Load(), got, tt.want)
		}
	}
	if def.allowed(netip.Addr{}) {
		t.Errorf("allowed(invalid address): got true, want false")
	}
}

// cacheHandler answers from a prebuilt map on the fast path and counts
// the queries that reach ServeDNS.
type cacheHandler struct {
	answers map[string]*dns.Msg
	served  chan string
}

func (h *cacheHandler) AnswerCached(q *dns.Msg) (*dns.Msg, bool) {
	r, ok := h.answers[strings.ToLower(q.Question[0].Name)]
	return r, ok
}

func (h *cacheHandler) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if h.served != nil {
		h.served <- q.Question[0].Name
	}
	r := new(dns.Msg)
	r.Rcode = dns.RcodeNameError
	return r, nil
}

func newCacheHandler(t testing.TB) *cacheHandler {
	h := &cacheHandler{answers: map[string]*dns.Msg{}}
	for _, name := range []string{"example.com.", "www.example.com.", "a.example.net."} {
		r := new(dns.Msg)
		r.Answer = []dns.RR{mustRR(t, name+" 300 IN A 192.0.2.1"), mustRR(t, name+" 300 IN A 192.0.2.2")}
		h.answers[name] = r
	}
	return h
}

func TestClientIdentifyingOptionsRemoved(t *testing.T) {
	var seen []dns.EDNS0
	cfg := newPipeline(Config{Handler: HandlerFunc(func(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
		seen = q.IsEdns0().Option
		return new(dns.Msg), nil
	})})
	m := query("example.com.", dns.TypeA, true, 1232, true)
	m.IsEdns0().Option = []dns.EDNS0{
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0).To4()},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
	}
	if r, _ := respondMsg(t, context.Background(), cfg, pack(t, m), protoUDP, true); r == nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("got %v, want NOERROR", r)
	}
	if len(seen) != 1 || seen[0].Option() != dns.EDNS0NSID {
		t.Errorf("handler saw options %v, want only NSID", seen)
	}
}

func TestCacheAnswererFastPath(t *testing.T) {
	h := newCacheHandler(t)
	h.served = make(chan string, 10)
	cfg := newPipeline(Config{Handler: h})
	ctx := context.Background()
	r, _ := respondMsg(t, ctx, cfg, pack(t, query("WWW.example.com.", dns.TypeA, true, 1232, false)), protoUDP, true)
	if r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || r.Question[0].Name != "WWW.example.com." {
		t.Fatalf("hit: got %v, want NOERROR with 2 answers and the question as asked", r)
	}
	if len(h.served) != 0 {
		t.Errorf("hit: ServeDNS called %d times, want 0", len(h.served))
	}
	r, _ = respondMsg(t, ctx, cfg, pack(t, query("miss.example.", dns.TypeA, true, 1232, false)), protoUDP, true)
	if r == nil || r.Rcode != dns.RcodeNameError || len(h.served) != 1 {
		t.Fatalf("miss: got %v and %d ServeDNS calls, want NXDOMAIN and 1", r, len(h.served))
	}
}

// TestCacheHitAllocs pins what a hit costs the reader: one allocation, the
// question name's string, which the *dns.Msg-based CacheAnswerer needs.
func TestCacheHitAllocs(t *testing.T) {
	cfg := newPipeline(Config{Handler: newCacheHandler(t)})
	raw := pack(t, query("www.example.com.", dns.TypeA, true, 1232, false))
	sc := newScratch()
	q := new(dns.Msg)
	var req request
	allocs := testing.AllocsPerRun(1000, func() {
		if _, act := cfg.prepare(sc, raw, q, &req, protoUDP, true); act != actReply {
			t.Fatalf("got action %d, want actReply", act)
		}
	})
	t.Logf("allocations per cache hit: %.1f", allocs)
	if allocs > 1 {
		t.Errorf("got %.1f allocations per hit, want <= 1 (the question name)", allocs)
	}
}

func BenchmarkRespond(b *testing.B) {
	cases := []struct {
		name string
		h    Handler
		q    *dns.Msg
	}{
		{"hit", newCacheHandler(b), query("www.example.com.", dns.TypeA, true, 1232, true)},
		{"handler", testHandler(b), query("example.com.", dns.TypeA, true, 1232, true)},
		{"truncate", testHandler(b), query("big.example.", dns.TypeA, true, 1232, false)},
		{"formerr", testHandler(b), func() *dns.Msg { m := query("example.com.", dns.TypeA, false, 0, false); m.Question = nil; return m }()},
	}
	// The reader's own path: prepare with one query message reused across
	// hits, as UDPServer and TCPServer do.
	b.Run("hit-reader", func(b *testing.B) {
		cfg := newPipeline(Config{Handler: newCacheHandler(b)})
		raw := pack(b, query("www.example.com.", dns.TypeA, true, 1232, true))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			sc, q := newScratch(), new(dns.Msg)
			var req request
			for pb.Next() {
				if _, act := cfg.prepare(sc, raw, q, &req, protoUDP, true); act != actReply {
					b.Fatal("no cache hit")
				}
			}
		})
	})
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			cfg := newPipeline(Config{Handler: bc.h})
			raw := pack(b, bc.q)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				sc := newScratch()
				for pb.Next() {
					if _, ok := cfg.respond(ctx, sc, raw, protoUDP, true); !ok {
						b.Fatal("no response")
					}
				}
			})
		})
	}
}

// panicky panics on both paths with a value that names the query.
type panicky struct{}

func (panicky) AnswerCached(q *dns.Msg) (*dns.Msg, bool) { panic("cache: " + q.Question[0].Name) }
func (panicky) ServeDNS(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	panic("handler: " + q.Question[0].Name)
}

func TestPanicsReportedWithoutQueryName(t *testing.T) {
	var reports []string
	cfg := newPipeline(Config{Handler: panicky{}, ErrorLog: func(err error) { reports = append(reports, err.Error()) }})
	raw := pack(t, query("secret.example.", dns.TypeA, false, 0, false))
	r, _ := respondMsg(t, context.Background(), cfg, raw, protoUDP, true)
	if r == nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("got %v, want SERVFAIL", r)
	}
	if len(reports) != 2 {
		t.Fatalf("got %d reports, want 2 (fast path and handler)", len(reports))
	}
	for _, s := range reports {
		if strings.Contains(s, "secret") {
			t.Errorf("report names the query: %q", s)
		}
	}
}

// TestProtoRules pins which transports frame, pad and keep alive: a
// mistake here would pad plain-text answers or send edns-tcp-keepalive
// over DoQ, which RFC 9250 §5.5.2 forbids.
func TestProtoRules(t *testing.T) {
	tests := []struct {
		p                                    proto
		stream, framed, keepalive, encrypted bool
	}{
		{protoUDP, false, false, false, false},
		{protoTCP, true, true, true, false},
		{protoTLS, true, true, true, true},
		{protoHTTPS, true, false, false, true},
		{protoQUIC, true, true, false, true},
	}
	for _, tt := range tests {
		got := []bool{tt.p.stream(), tt.p.framed(), tt.p.keepalive(), tt.p.encrypted()}
		want := []bool{tt.stream, tt.framed, tt.keepalive, tt.encrypted}
		if !slices.Equal(got, want) {
			t.Errorf("proto %d: stream/framed/keepalive/encrypted = %v, want %v", tt.p, got, want)
		}
	}
}
