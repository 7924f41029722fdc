package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestWriteOPT(t *testing.T) {
	tests := []struct {
		name string
		opt  func(o *dns.OPT)
		want string
	}{
		{"plain", func(*dns.OPT) {}, "; EDNS: version: 0, flags:; udp: 1232\n"},
		{"do", func(o *dns.OPT) { o.SetDo() }, "; EDNS: version: 0, flags: do; udp: 1232\n"},
		{"mbz", func(o *dns.OPT) { o.SetZ(1) }, "; EDNS: version: 0, flags:; MBZ: 0x0001, udp: 1232\n"},
		{"EDE with text", func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: 6, ExtraText: "bad sig"})
		}, "; EDE: 6 (DNSSEC Bogus): (bad sig)\n"},
		{"EDE without text", func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: 18})
		}, "; EDE: 18 (Prohibited)\n"},
		{"EDE unknown code", func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: 4000, ExtraText: "x"})
		}, "; EDE: 4000: (x)\n"},
		{"EDE control characters", func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: 0, ExtraText: "a\x1b[2Jb\n"})
		}, "; EDE: 0 (Other): (a.[2Jb.)\n"},
		{"NSID", func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e7331"})
		}, "; NSID: 6e 73 31 (\"ns1\")\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetEdns0(1232, false)
			tt.opt(m.IsEdns0())
			var b bytes.Buffer
			writeOPT(&b, m.IsEdns0())
			if got := b.String(); !strings.HasSuffix(got, tt.want) {
				t.Errorf("got %q; want it to end %q", got, tt.want)
			}
		})
	}
}

func TestRRString(t *testing.T) {
	tests := []struct {
		rr, want string
	}{
		{". 518400 IN NS a.root-servers.net.", ".\t\t\t518400\tIN\tNS\ta.root-servers.net."},
		{"example. 300 IN A 192.0.2.1", "example.\t\t300\tIN\tA\t192.0.2.1"},
		{"a-rather-long-name.example. 300 IN A 192.0.2.1", "a-rather-long-name.example.\t300\tIN\tA\t192.0.2.1"},
	}
	for _, tt := range tests {
		rr, err := dns.NewRR(tt.rr)
		if err != nil {
			t.Fatal(err)
		}
		if got := rrString(rr); got != tt.want {
			t.Errorf("rrString(%s) = %q; want %q", tt.rr, got, tt.want)
		}
	}
}

func TestRdata(t *testing.T) {
	tests := []struct {
		rr, want string
	}{
		{"example. 300 IN A 192.0.2.1", "192.0.2.1"},
		{"example. 300 IN MX 10 mail.example.", "10 mail.example."},
		{`example. 300 IN TXT "hello world"`, `"hello world"`},
		{`example. 300 IN TYPE65400 \# 2 abcd`, `\# 2 abcd`},
	}
	for _, tt := range tests {
		rr, err := dns.NewRR(tt.rr)
		if err != nil {
			t.Fatal(err)
		}
		if got := rdata(rr); got != tt.want {
			t.Errorf("rdata(%s) = %q; want %q", tt.rr, got, tt.want)
		}
	}
}

// FuzzWriteReply: whatever a server sends that miekg/dns can unpack,
// printing it must not panic.
func FuzzWriteReply(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeA)
	m.Response, m.RecursionAvailable = true, true
	rr, _ := dns.NewRR("example. 300 IN A 192.0.2.1")
	m.Answer = append(m.Answer, rr)
	m.SetEdns0(1232, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option,
		&dns.EDNS0_EDE{InfoCode: 22, ExtraText: "x"},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_PADDING{Padding: make([]byte, 4)},
	)
	seed, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:12])
	f.Fuzz(func(t *testing.T, wire []byte) {
		r := new(dns.Msg)
		if r.Unpack(wire) != nil {
			return
		}
		o := queryOptions{name: "example.", qtype: dns.TypeA, server: endpoint{Scheme: "dns", Host: "127.0.0.1", Port: 53}}
		res := &queryResult{msg: r, size: len(wire), server: "127.0.0.1#53(127.0.0.1)", proto: "UDP"}
		if err := writeReply(io.Discard, "fuzz", o, m, res, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if err := writeShort(io.Discard, r); err != nil {
			t.Fatal(err)
		}
	})
}
