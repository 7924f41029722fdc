//go:build !noquic

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

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
func (s *DoHServer) inFlight() int { return int(s.life.active.Load()) }

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
	skipUnderRace(t)
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
	ts := startDoH(t, Config{Handler: testHandler(t), MaxConns: 4, TLSHandshakeTimeout: time.Minute}, DoHOptions{})
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
		return ts.s.h3.handshakes.inProgress()+ts.s.limit.open() >= 1 && ts.s.h3.handshakes.retries.Load() > 0
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
	if n := ts.s.h3.handshakes.inProgress(); n > 3 {
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
	s := NewDoHServer(Config{Handler: testHandler(t), TLSHandshakeTimeout: time.Hour, IdleTimeout: time.Hour}, sc, DoHOptions{})
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
	dohWaitFor(t, "both connections", func() bool { return s.h3.handshakes.inProgress()+s.limit.open() >= 2 })

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
