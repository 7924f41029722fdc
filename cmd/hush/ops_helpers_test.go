package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeUpstream is a recursive resolver on loopback for --forward: it
// answers every A question with 192.0.2.ID, every other type with no
// records, and counts the questions it got.
type fakeUpstream struct {
	addr    string
	queries atomic.Int64
}

func startFakeUpstream(t *testing.T, id byte) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.queries.Add(1)
		r := new(dns.Msg)
		r.SetReply(q)
		r.RecursionAvailable = true
		if q.Question[0].Qtype == dns.TypeA {
			r.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
				A:   net.IPv4(192, 0, 2, id),
			}}
		}
		_ = w.WriteMsg(r)
	})
	// UDP and TCP on one port: retry when the UDP port's TCP twin is taken.
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return u
}

// hushCtl runs hush ctl in-process and returns its exit status, stdout
// and stderr.
func hushCtl(t *testing.T, socket string, words ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), append([]string{"ctl", "--control-socket", socket}, words...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// ask sends one A question over UDP from the local address from (zero:
// any) and returns the answer.
func ask(server, name string, qtype uint16, from netip.Addr) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	if from.IsValid() {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: from.AsSlice()}, Timeout: 5 * time.Second}
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	r, _, err := c.Exchange(q, server)
	return r, err
}

func answerIP(r *dns.Msg) string {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func rewrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
