package main

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// testServer is a tiny DNS server on 127.0.0.1 (UDP and TCP, one port)
// that answers with a test's handler and records the queries it saw.
type testServer struct {
	addr netip.AddrPort

	mu sync.Mutex // mu guards seen
	// seen are the queries received, each with its network.
	seen []seenQuery
}

type seenQuery struct {
	network string
	msg     *dns.Msg
}

// handlerFunc answers q, which came over network ("udp" or "tcp"); nil
// means no answer.
type handlerFunc func(network string, q *dns.Msg) *dns.Msg

func startTestServer(t *testing.T, bind string, h handlerFunc) *testServer {
	t.Helper()
	socks, err := openSockets(t.Context(), []listenURL{{Scheme: "dns", Addr: netip.MustParseAddrPort(bind)}})
	if err != nil {
		t.Skipf("cannot listen on %s: %v", bind, err)
	}
	// One reader here: the other sockets of the SO_REUSEPORT group would
	// take some of the datagrams and nobody would read them.
	for _, pc := range socks.UDP[0][1:] {
		pc.Close()
	}
	socks.UDP[0] = socks.UDP[0][:1]
	ts := &testServer{addr: socks.UDP[0][0].LocalAddr().(*net.UDPAddr).AddrPort()}
	serve := func(network string, srv *dns.Server) {
		started := make(chan struct{})
		done := make(chan error, 1)
		srv.NotifyStartedFunc = func() { close(started) }
		srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			ts.mu.Lock()
			ts.seen = append(ts.seen, seenQuery{network, q.Copy()})
			ts.mu.Unlock()
			if m := h(network, q); m != nil {
				w.WriteMsg(m)
			}
		})
		go func() { done <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("test server (%s): %v", network, err)
		}
		t.Cleanup(func() {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("test server (%s) shutdown: %v", network, err)
			}
			<-done
		})
	}
	serve("udp", &dns.Server{PacketConn: socks.UDP[0][0]})
	serve("tcp", &dns.Server{Listener: socks.TCP[0]})
	return ts
}

func (ts *testServer) url() string { return "dns://" + ts.addr.String() }

func (ts *testServer) queries() []seenQuery {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]seenQuery(nil), ts.seen...)
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// reply starts an answer to q the way a recursive resolver would: RA set,
// EDNS echoed with DO.
func reply(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(1232, opt.Do())
	}
	return m
}

func TestQuery(t *testing.T) {
	a := mustRR(t, "example. 300 IN A 192.0.2.1")
	cname := mustRR(t, "www.example. 300 IN CNAME example.")
	answer := func(network string, q *dns.Msg) *dns.Msg {
		m := reply(q)
		if q.Question[0].Name == "www.example." {
			m.Answer = append(m.Answer, cname)
		}
		m.Answer = append(m.Answer, a)
		return m
	}
	truncateUDP := func(network string, q *dns.Msg) *dns.Msg {
		if network == "udp" {
			m := reply(q)
			m.Truncated = true
			return m
		}
		return answer(network, q)
	}
	servfailEDE := func(network string, q *dns.Msg) *dns.Msg {
		m := reply(q)
		m.Rcode = dns.RcodeServerFailure
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: "at delegation example."})
		return m
	}
	nxdomain := func(network string, q *dns.Msg) *dns.Msg {
		m := reply(q)
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, mustRR(t, "example. 300 IN SOA ns.example. host.example. 1 3600 600 86400 300"))
		return m
	}
	noRecursion := func(network string, q *dns.Msg) *dns.Msg {
		m := answer(network, q)
		m.RecursionAvailable = false
		m.Authoritative = true
		return m
	}

	tests := []struct {
		name    string
		bind    string // test server address; default 127.0.0.1:0
		handler handlerFunc
		args    []string // after "query"; the server URL is appended
		// stdout must contain every want and none of notWant; with
		// exact set, it must be exactly that.
		want, notWant []string
		exact         string
		// check inspects the queries the server saw.
		check func(t *testing.T, seen []seenQuery)
	}{
		{
			name: "answer over UDP", handler: answer, args: []string{"example.", "A"},
			want: []string{
				";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: ",
				";; flags: qr rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1\n",
				";; OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232\n",
				";; QUESTION SECTION:\n;example.\t\t\tIN\tA\n",
				";; ANSWER SECTION:\nexample.\t\t300\tIN\tA\t192.0.2.1\n",
				";; Query time: ",
				"(127.0.0.1) (UDP)\n",
				";; MSG SIZE  rcvd: ",
			},
			notWant: []string{"AUTHORITY SECTION", "ADDITIONAL SECTION", "Truncated", "WARNING", "EDE"},
			check: func(t *testing.T, seen []seenQuery) {
				if len(seen) != 1 || seen[0].network != "udp" {
					t.Fatalf("server saw %d queries (%v); want 1 over udp", len(seen), seen)
				}
				q := seen[0].msg
				if !q.RecursionDesired || q.CheckingDisabled || q.IsEdns0() == nil || q.IsEdns0().Do() {
					t.Errorf("query RD=%v CD=%v EDNS=%v; want RD, no CD, EDNS without DO", q.RecursionDesired, q.CheckingDisabled, q.IsEdns0())
				}
			},
		},
		{
			name: "default type is A", handler: answer, args: []string{"example"},
			want: []string{";example.\t\t\tIN\tA\n"},
			check: func(t *testing.T, seen []seenQuery) {
				if got := seen[0].msg.Question[0]; got.Name != "example." || got.Qtype != dns.TypeA {
					t.Errorf("question = %v; want example. A", got)
				}
			},
		},
		{name: "short", handler: answer, args: []string{"example.", "--short"}, exact: "192.0.2.1\n"},
		{name: "short CNAME chain", handler: answer, args: []string{"www.example.", "a", "--short"}, exact: "example.\n192.0.2.1\n"},
		{name: "short NXDOMAIN prints nothing", handler: nxdomain, args: []string{"nope.example.", "--short"}, exact: ""},
		{
			name: "truncated UDP is retried over TCP", handler: truncateUDP, args: []string{"example."},
			want: []string{";; Truncated, retrying in TCP mode.\n", "example.\t\t300\tIN\tA\t192.0.2.1\n", "(127.0.0.1) (TCP)\n", "flags: qr rd ra;"},
			check: func(t *testing.T, seen []seenQuery) {
				if len(seen) != 2 || seen[0].network != "udp" || seen[1].network != "tcp" {
					t.Errorf("server saw %v; want udp then tcp", seen)
				}
			},
		},
		{name: "short after truncation", handler: truncateUDP, args: []string{"example.", "--short"}, exact: "192.0.2.1\n"},
		{
			name: "tcp only", handler: answer, args: []string{"example.", "--tcp"},
			want: []string{"(TCP)\n", "192.0.2.1"}, notWant: []string{"Truncated"},
			check: func(t *testing.T, seen []seenQuery) {
				if len(seen) != 1 || seen[0].network != "tcp" {
					t.Errorf("server saw %v; want one query over tcp", seen)
				}
			},
		},
		{
			name: "dnssec cd norecurse", handler: noRecursion, args: []string{"example.", "--dnssec", "--cd", "--norecurse"},
			want:    []string{"; EDNS: version: 0, flags: do; udp: 1232\n", ";; flags: qr aa cd;"},
			notWant: []string{"WARNING"},
			check: func(t *testing.T, seen []seenQuery) {
				q := seen[0].msg
				if q.RecursionDesired || !q.CheckingDisabled || q.IsEdns0() == nil || !q.IsEdns0().Do() {
					t.Errorf("query RD=%v CD=%v EDNS=%v; want no RD, CD, DO", q.RecursionDesired, q.CheckingDisabled, q.IsEdns0())
				}
			},
		},
		{name: "recursion not available", handler: noRecursion, args: []string{"example."}, want: []string{";; WARNING: recursion requested but not available\n"}},
		{
			name: "SERVFAIL with EDE", handler: servfailEDE, args: []string{"example."},
			want: []string{"status: SERVFAIL,", "; EDE: 22 (No Reachable Authority): (at delegation example.)\n"},
		},
		{
			name: "NXDOMAIN", handler: nxdomain, args: []string{"nope.example.", "AAAA"},
			want:    []string{"status: NXDOMAIN,", "AUTHORITY: 1,", ";; AUTHORITY SECTION:\nexample.\t\t300\tIN\tSOA\tns.example. host.example. 1 3600 600 86400 300\n"},
			notWant: []string{"ANSWER SECTION"},
		},
		{
			name: "unknown type number", handler: answer, args: []string{"example.", "TYPE65400"},
			want: []string{";example.\t\t\tIN\tTYPE65400\n"},
			check: func(t *testing.T, seen []seenQuery) {
				if got := seen[0].msg.Question[0].Qtype; got != 65400 {
					t.Errorf("qtype = %d; want 65400", got)
				}
			},
		},
		{name: "IPv6 server", bind: "[::1]:0", handler: answer, args: []string{"example."}, want: []string{"(::1) (UDP)\n", "192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bind := tt.bind
			if bind == "" {
				bind = "127.0.0.1:0"
			}
			ts := startTestServer(t, bind, tt.handler)
			res := runHush(t, append(append([]string{"query"}, tt.args...), "--server", ts.url())...)
			if res.code != exitOK || res.stderr != "" {
				t.Fatalf("exit status %d, stderr %q; want 0, \"\"", res.code, res.stderr)
			}
			if tt.exact != "" || len(tt.want) == 0 {
				if res.stdout != tt.exact {
					t.Errorf("stdout = %q; want %q", res.stdout, tt.exact)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("stdout lacks %q; got:\n%s", w, res.stdout)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(res.stdout, w) {
					t.Errorf("stdout has %q; got:\n%s", w, res.stdout)
				}
			}
			if len(tt.want) > 0 {
				server := ts.addr.Addr().String() + "#" + strconv.Itoa(int(ts.addr.Port()))
				if !strings.Contains(res.stdout, ";; SERVER: "+server+"(") {
					t.Errorf("stdout lacks SERVER %s; got:\n%s", server, res.stdout)
				}
			}
			if tt.check != nil {
				tt.check(t, ts.queries())
			}
		})
	}
}

// TestQueryNoResponse: nothing usable came back, exit status 1, one line.
func TestQueryNoResponse(t *testing.T) {
	// A UDP socket that never reads: the query times out.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A TCP port nobody listens on: the connection is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		args []string
		want string // stderr line prefix
	}{
		{"timeout", []string{"example.", "--server", "dns://" + silent.LocalAddr().String(), "--timeout", "50ms"},
			"hush: query: no response from dns://" + silent.LocalAddr().String() + " over UDP: timed out"},
		{"refused", []string{"example.", "--tcp", "--server", "dns://" + closed},
			"hush: query: no response from dns://" + closed + " over TCP: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runHush(t, append([]string{"query"}, tt.args...)...)
			if res.code != exitFail {
				t.Errorf("exit status = %d; want %d", res.code, exitFail)
			}
			if got := oneErrorLine(t, res.stderr); !strings.HasPrefix(got, tt.want) {
				t.Errorf("stderr line\n got %s\nwant prefix %s", got, tt.want)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q; want nothing", res.stdout)
			}
		})
	}
}

// TestQueryIgnoresWrongID: over UDP a datagram with another ID is skipped
// and the matching reply is used.
func TestQueryIgnoresWrongID(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) != nil {
			return
		}
		// First a stray reply with another ID, then the real one.
		for _, r := range []struct {
			id   uint16
			addr string
		}{{q.Id + 1, "192.0.2.66"}, {q.Id, "192.0.2.1"}} {
			m := reply(q)
			m.Id = r.id
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
				A:   net.ParseIP(r.addr),
			})
			b, err := m.Pack()
			if err != nil {
				return
			}
			pc.WriteTo(b, from)
		}
	}()
	res := runHush(t, "query", "example.", "--short", "--server", "dns://"+pc.LocalAddr().String())
	<-done
	if res.code != exitOK || res.stdout != "192.0.2.1\n" {
		t.Fatalf("got %d, %q, %q; want 0, %q, \"\"", res.code, res.stdout, res.stderr, "192.0.2.1\n")
	}
}

// TestQueryDigHabits checks that hush query takes dig's habits: @SERVER
// anywhere, -p PORT, -x ADDR and +options after the name.
func TestQueryDigHabits(t *testing.T) {
	ts := startTestServer(t, "127.0.0.1:0", func(network string, q *dns.Msg) *dns.Msg {
		m := reply(q)
		switch q.Question[0].Qtype {
		case dns.TypeA:
			m.Answer = append(m.Answer, mustRR(t, q.Question[0].Name+" 300 IN A 192.0.2.1"))
		case dns.TypePTR:
			m.Answer = append(m.Answer, mustRR(t, q.Question[0].Name+" 300 IN PTR host.example."))
		}
		return m
	})
	host, port := ts.addr.Addr().String(), strconv.Itoa(int(ts.addr.Port()))
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		out   string // stdout (exact) when code is 0
		qname string // the name the server saw
		qtype uint16
		tcp   bool
		err   string // stderr line when code is not 0
	}{
		{name: "@server first", args: []string{"@" + ts.addr.String(), "example.", "+short"}, out: "192.0.2.1\n", qname: "example.", qtype: dns.TypeA},
		{name: "@server last, -p", args: []string{"example.", "A", "-p", port, "+short", "@" + host}, out: "192.0.2.1\n", qname: "example.", qtype: dns.TypeA},
		{name: "-p over --server", args: []string{"--server", "dns://" + host + ":1", "-p", port, "example", "+short"}, out: "192.0.2.1\n", qname: "example.", qtype: dns.TypeA},
		{name: "-x IPv4", args: []string{"@" + host, "-p", port, "-x", "192.0.2.1", "+short"}, out: "host.example.\n", qname: "1.2.0.192.in-addr.arpa.", qtype: dns.TypePTR},
		{name: "-x IPv6", args: []string{"-x", "2001:db8::1", "@" + host, "-p", port, "+short"}, out: "host.example.\n", qname: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", qtype: dns.TypePTR},
		{name: "+tcp", args: []string{"example.", "+tcp", "+short", "@" + ts.addr.String()}, out: "192.0.2.1\n", qname: "example.", qtype: dns.TypeA, tcp: true},
		{name: "unknown +option", args: []string{"example.", "+trace", "@" + ts.addr.String()}, code: exitUsage, err: `hush: query: unknown option "+trace" (hush query knows +short +tcp +dnssec +cd +norecurse +norec)`},
		{name: "@ and --server", args: []string{"--server", ts.url(), "@" + host, "example."}, code: exitUsage, err: "hush: query: @" + host + " and --server exclude each other"},
		{name: "two @", args: []string{"@" + host, "@" + host, "example."}, code: exitUsage, err: "hush: query: two servers, @" + host + " and @" + host},
		{name: "-x with a name", args: []string{"-x", "192.0.2.1", "example."}, code: exitUsage, err: "hush: query: -x ADDR takes no NAME or TYPE, got 1 arguments"},
		{name: "-x not an address", args: []string{"-x", "example."}, code: exitUsage, err: `hush: -x "example.": not an IP address`},
		{name: "bad -p", args: []string{"-p", "70000", "example."}, code: exitUsage, err: "hush: -p 70000: want a port from 1 to 65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ts.queries())
			code, out, errOut := queryHush(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, stderr %q; want %d", code, errOut, tc.code)
			}
			if code != exitOK {
				if got := strings.TrimSuffix(errOut, "\n"); got != tc.err {
					t.Errorf("stderr\n got %s\nwant %s", got, tc.err)
				}
				return
			}
			if out != tc.out {
				t.Errorf("stdout = %q; want %q", out, tc.out)
			}
			seen := ts.queries()[before:]
			if len(seen) != 1 {
				t.Fatalf("server saw %d queries; want 1", len(seen))
			}
			q := seen[0]
			if q.msg.Question[0].Name != tc.qname || q.msg.Question[0].Qtype != tc.qtype || (q.network == "tcp") != tc.tcp {
				t.Errorf("server saw %s %s over %s; want %s %s (tcp %v)", q.msg.Question[0].Name, dns.TypeToString[q.msg.Question[0].Qtype], q.network, tc.qname, dns.TypeToString[tc.qtype], tc.tcp)
			}
		})
	}
}
