package transport

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// withOptions returns a query for name with EDNS and the given options.
func withOptions(name string, opts ...dns.EDNS0) *dns.Msg {
	m := query(name, dns.TypeA, true, 1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, opts...)
	return m
}

func padOpt() dns.EDNS0 { return &dns.EDNS0_PADDING{Padding: make([]byte, 20)} }

func keepOpt() dns.EDNS0 { return &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE} }

// optionOf returns r's EDNS option with the given code, or nil.
func optionOf(r *dns.Msg, code uint16) dns.EDNS0 {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if o.Option() == code {
				return o
			}
		}
	}
	return nil
}

// respondWire runs raw through the request path over p and returns the
// response without its frame, unpacked and as sent.
func respondWire(t *testing.T, cfg *pipeline, raw []byte, p proto, allowed bool) (*dns.Msg, []byte) {
	t.Helper()
	out, ok := cfg.respond(context.Background(), newScratch(), raw, p, allowed)
	if !ok {
		t.Fatalf("query dropped")
	}
	if p.stream() {
		if len(out) < 2 || int(binary.BigEndian.Uint16(out)) != len(out)-2 {
			t.Fatalf("frame: length prefix does not match %d bytes", len(out)-2)
		}
		out = out[2:]
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("response does not unpack: %v", err)
	}
	return r, out
}

func TestPadding(t *testing.T) {
	cfg := newPipeline(Config{Handler: testHandler(t)})
	tests := []struct {
		name    string
		q       *dns.Msg
		p       proto
		denied  bool
		wantPad bool
	}{
		{"tls small answer", withOptions("example.com.", padOpt()), protoTLS, false, true},
		{"tls 100 records", withOptions("big.example.", padOpt()), protoTLS, false, true},
		{"tls cname chain", withOptions("chain.example.", padOpt()), protoTLS, false, true},
		{"tls glue", withOptions("glue.example.", padOpt()), protoTLS, false, true},
		{"tls nxdomain with EDE", withOptions("ede.example.", padOpt()), protoTLS, false, true},
		{"tls servfail with EDE", withOptions("fail.example.", padOpt()), protoTLS, false, true},
		{"tls refused by ACL", withOptions("example.com.", padOpt()), protoTLS, true, true},
		{"tls with keepalive too", withOptions("example.com.", keepOpt(), padOpt()), protoTLS, false, true},
		{"tls not asked", withOptions("example.com.", keepOpt()), protoTLS, false, false},
		{"tls no EDNS", query("example.com.", dns.TypeA, false, 0, false), protoTLS, false, false},
		{"udp asked", withOptions("example.com.", padOpt()), protoUDP, false, false},
		{"tcp asked", withOptions("example.com.", padOpt()), protoTCP, false, false},
		{"tcp asked, large", withOptions("big.example.", padOpt()), protoTCP, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, wire := respondWire(t, cfg, pack(t, tt.q), tt.p, !tt.denied)
			pad := optionOf(r, dns.EDNS0PADDING)
			if got := pad != nil; got != tt.wantPad {
				t.Fatalf("got padding option %v, want %v", got, tt.wantPad)
			}
			if tt.wantPad && len(wire)%padBlock != 0 {
				t.Errorf("got %d octets (%d mod %d), want a multiple of %d", len(wire), len(wire)%padBlock, padBlock, padBlock)
			}
			if tt.wantPad {
				for _, b := range pad.(*dns.EDNS0_PADDING).Padding {
					if b != 0 {
						t.Fatalf("got padding octet %#x, want 0 (RFC 7830 §3)", b)
					}
				}
			}
			if got, want := r.IsEdns0() != nil, tt.q.IsEdns0() != nil; got != want {
				t.Errorf("got OPT %v, want %v", got, want)
			}
		})
	}
}

// TestPaddingNearLimit checks that a response too close to 65535 octets
// to be padded goes out unpadded rather than broken or truncated.
func TestPaddingNearLimit(t *testing.T) {
	txt := func(n int) dns.RR {
		return &dns.TXT{
			Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{string(make([]byte, n))},
		}
	}
	// records returns TXT records that make the unpadded response exactly
	// size octets long, given that one full record makes it base+279*1.
	serve := func(answer []dns.RR) *pipeline {
		return newPipeline(Config{Handler: HandlerFunc(func(context.Context, *dns.Msg) (*dns.Msg, error) {
			return &dns.Msg{Answer: answer}, nil
		})})
	}
	unpadded := func(answer []dns.RR) int {
		cfg := serve(answer)
		_, wire := respondWire(t, cfg, pack(t, withOptions("example.com.")), protoTLS, true)
		return len(wire)
	}
	records := func(size int) []dns.RR {
		const full = 13 + 10 + 256 // uncompressed name, RR header, 255-octet string
		base := unpadded(nil)
		n := (size - base) / full
		answer := make([]dns.RR, n, n+1)
		for i := range answer {
			answer[i] = txt(255)
		}
		if rest := size - base - n*full; rest > 0 {
			answer = append(answer, txt(rest-13-10-1))
		}
		if got := unpadded(answer); got != size {
			t.Fatalf("test setup: got an unpadded response of %d octets, want %d", got, size)
		}
		return answer
	}
	tests := []struct {
		name    string
		size    int // unpadded response
		wantPad bool
	}{
		{"far from the limit", 65000, true},
		{"last block that fits", 65516, true}, // +4 option header = 65520 = 140*468
		{"too close to pad", 65517, false},    // would need 66000
		{"at the limit", 65531, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := records(tt.size)
			cfg := serve(answer)
			r, wire := respondWire(t, cfg, pack(t, withOptions("example.com.", padOpt())), protoTLS, true)
			if r.Truncated || len(r.Answer) != len(answer) {
				t.Fatalf("got TC=%v, %d answers; want false, %d", r.Truncated, len(r.Answer), len(answer))
			}
			pad := optionOf(r, dns.EDNS0PADDING) != nil
			if pad != tt.wantPad {
				t.Errorf("got padding %v at %d octets, want %v", pad, len(wire), tt.wantPad)
			}
			if pad && len(wire)%padBlock != 0 {
				t.Errorf("got %d octets, want a multiple of %d", len(wire), padBlock)
			}
			if !pad && len(wire) != tt.size {
				t.Errorf("got %d octets unpadded, want %d", len(wire), tt.size)
			}
		})
	}
}

func TestKeepaliveUnits(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want uint16
	}{
		{0, 1},
		{99 * time.Millisecond, 1},
		{100 * time.Millisecond, 1},
		{DefaultIdleTimeout, 100},
		{2500 * time.Millisecond, 25},
		{24 * time.Hour, 0xFFFF},
	}
	for _, tt := range tests {
		if got := keepaliveUnits(tt.d); got != tt.want {
			t.Errorf("keepaliveUnits(%v): got %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestKeepalive(t *testing.T) {
	cfg := newPipeline(Config{Handler: testHandler(t), IdleTimeout: 2500 * time.Millisecond})
	tests := []struct {
		name     string
		q        *dns.Msg
		p        proto
		wantKeep bool
	}{
		{"tcp asked", withOptions("example.com.", keepOpt()), protoTCP, true},
		{"tls asked", withOptions("example.com.", keepOpt()), protoTLS, true},
		{"tcp asked, nxdomain", withOptions("nx.example.", keepOpt()), protoTCP, true},
		{"tcp not asked", withOptions("example.com."), protoTCP, false},
		{"udp asked", withOptions("example.com.", keepOpt()), protoUDP, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := respondWire(t, cfg, pack(t, tt.q), tt.p, true)
			if r.Rcode == dns.RcodeFormatError {
				t.Fatalf("got FORMERR, want an answer")
			}
			o := optionOf(r, dns.EDNS0TCPKEEPALIVE)
			if got := o != nil; got != tt.wantKeep {
				t.Fatalf("got keepalive option %v, want %v", got, tt.wantKeep)
			}
			if o != nil {
				if got := o.(*dns.EDNS0_TCP_KEEPALIVE).Timeout; got != 25 {
					t.Errorf("got timeout %d, want 25 (2.5 s in 100 ms units)", got)
				}
			}
		})
	}
}

// readRawFrame reads one framed message and returns it without its frame.
func readRawFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read message: %v", err)
	}
	return b
}

// TestEDNSOptionsOverSockets runs padding and keepalive through real
// listeners on loopback.
func TestEDNSOptionsOverSockets(t *testing.T) {
	checkLeaks(t)
	cfg := Config{Handler: testHandler(t), IdleTimeout: 3 * time.Second}
	tlsAddr, cc, _ := startTLS(t, cfg)
	tcpAddr, _ := startTCP(t, cfg)
	udpAddr, _ := startUDP(t, cfg)

	tc := dialTLS(t, tlsAddr, cc)
	for _, name := range []string{"example.com.", "big.example.", "chain.example.", "glue.example.", "fail.example."} {
		writeFrame(t, tc, pack(t, withOptions(name, keepOpt(), padOpt())))
		wire := readRawFrame(t, tc)
		r := new(dns.Msg)
		if err := r.Unpack(wire); err != nil {
			t.Fatalf("%s over TLS: unpack: %v", name, err)
		}
		if len(wire)%padBlock != 0 || optionOf(r, dns.EDNS0PADDING) == nil {
			t.Errorf("%s over TLS: got %d octets, want a padded multiple of %d", name, len(wire), padBlock)
		}
		if o, ok := optionOf(r, dns.EDNS0TCPKEEPALIVE).(*dns.EDNS0_TCP_KEEPALIVE); !ok || o.Timeout != 30 {
			t.Errorf("%s over TLS: got keepalive %v, want timeout 30", name, optionOf(r, dns.EDNS0TCPKEEPALIVE))
		}
	}
	writeFrame(t, tc, pack(t, withOptions("example.com.")))
	if r := readFrame(t, tc); optionOf(r, dns.EDNS0PADDING) != nil || optionOf(r, dns.EDNS0TCPKEEPALIVE) != nil {
		t.Errorf("TLS without options: got %v, want neither padding nor keepalive", r.IsEdns0())
	}

	c := dialRaw(t, "tcp", tcpAddr)
	writeFrame(t, c, pack(t, withOptions("example.com.", keepOpt(), padOpt())))
	r := readFrame(t, c)
	if optionOf(r, dns.EDNS0PADDING) != nil {
		t.Errorf("TCP: got a padding option, want none")
	}
	if o, ok := optionOf(r, dns.EDNS0TCPKEEPALIVE).(*dns.EDNS0_TCP_KEEPALIVE); !ok || o.Timeout != 30 {
		t.Errorf("TCP: got keepalive %v, want timeout 30", optionOf(r, dns.EDNS0TCPKEEPALIVE))
	}

	r = exchange(t, "udp", udpAddr, withOptions("example.com.", keepOpt(), padOpt()))
	if r.Rcode != dns.RcodeSuccess || optionOf(r, dns.EDNS0PADDING) != nil || optionOf(r, dns.EDNS0TCPKEEPALIVE) != nil {
		t.Errorf("UDP: got rcode %s, OPT %v; want NOERROR with neither padding nor keepalive", dns.RcodeToString[r.Rcode], r.IsEdns0())
	}
}

// BenchmarkRespondEDNSOptions is BenchmarkRespond's hit-reader over TLS,
// without and with the options that make the transport add its own.
func BenchmarkRespondEDNSOptions(b *testing.B) {
	cases := []struct {
		name string
		q    *dns.Msg
	}{
		{"tls-hit", withOptions("www.example.com.")},
		{"tls-hit-padded", withOptions("www.example.com.", padOpt())},
		{"tls-hit-padded-keepalive", withOptions("www.example.com.", keepOpt(), padOpt())},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			cfg := newPipeline(Config{Handler: newCacheHandler(b)})
			raw := pack(b, bc.q)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				sc, q := newScratch(), new(dns.Msg)
				var req request
				for pb.Next() {
					if _, act := cfg.prepare(sc, raw, q, &req, protoTLS, true); act != actReply {
						b.Fatal("no cache hit")
					}
				}
			})
		})
	}
}
