package main

import (
	"github.com/hush-dns/hush/transport"
	"net/netip"
	"strings"
	"testing"
)

func TestParseListenURL(t *testing.T) {
	tests := []struct {
		in   string
		want listenURL
		err  string
	}{
		{in: "dns://127.0.0.1:53", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}},
		{in: "dns://127.0.0.1:5300", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:5300")}},
		{in: "dns://[::1]:5300", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("[::1]:5300")}},
		{in: "dns://[::]:53", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("[::]:53")}},
		{in: "dns://0.0.0.0:53", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("0.0.0.0:53")}},
		{in: "dns://127.0.0.1", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}},
		{in: "dns://[::1]", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("[::1]:53")}},
		{in: "DNS://127.0.0.1:53", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}},
		{in: "dns://127.0.0.1:53/", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}},
		{in: "dns://127.0.0.1:0", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:0")}},
		{in: "dns://[fe80::1%25eth0]:53", want: listenURL{Scheme: "dns", Addr: netip.MustParseAddrPort("[fe80::1%eth0]:53")}},

		{in: "", err: "empty URL"},
		{in: "127.0.0.1:53", err: "missing scheme (want dns://HOST:PORT, tls://HOST:PORT" + withHTTP(", https://HOST:PORT") + withQUIC(", quic://HOST:PORT") + ")"},
		{in: "ftp://127.0.0.1:53", err: `unknown scheme "ftp" (want dns://, tls://` + withHTTP(", https://") + withQUIC(", quic://") + ")"},
		{in: "udp://127.0.0.1:53", err: `unknown scheme "udp" (want dns://, tls://` + withHTTP(", https://") + withQUIC(", quic://") + ")"},
		{in: "tls://127.0.0.1:853", want: listenURL{Scheme: "tls", Addr: netip.MustParseAddrPort("127.0.0.1:853")}},
		{in: "tls://[::1]", want: listenURL{Scheme: "tls", Addr: netip.MustParseAddrPort("[::1]:853")}},
		{in: "https://127.0.0.1/dns-query", want: listenURL{Scheme: "https", Addr: netip.MustParseAddrPort("127.0.0.1:443"), Path: "/dns-query"}},
		{in: "https://127.0.0.1", want: listenURL{Scheme: "https", Addr: netip.MustParseAddrPort("127.0.0.1:443"), Path: "/dns-query"}},
		{in: "https://[::1]:8443/resolve", want: listenURL{Scheme: "https", Addr: netip.MustParseAddrPort("[::1]:8443"), Path: "/resolve"}},
		{in: "quic://127.0.0.1", want: listenURL{Scheme: "quic", Addr: netip.MustParseAddrPort("127.0.0.1:853")}},
		{in: "quic://[::1]:8853", want: listenURL{Scheme: "quic", Addr: netip.MustParseAddrPort("[::1]:8853")}},
		{in: "dns://localhost:53", err: `host "localhost" is not an IP address`},
		{in: "dns://:53", err: "missing host"},
		{in: "dns://127.0.0.1:", err: "empty port"},
		{in: "dns://127.0.0.1:99999", err: `invalid port "99999"`},
		{in: "dns://127.0.0.1:x", err: `invalid URL: invalid port ":x" after host`},
		{in: "dns://::1:53", err: "IPv6 address must be in brackets, e.g. dns://[::1]:53"},
		{in: "dns://::1", err: "IPv6 address must be in brackets, e.g. dns://[::1]:53"},
		{in: "dns://127.0.0.1:53/dns-query", err: "a path is not allowed in dns:// URLs"},
		{in: "dns://me@127.0.0.1:53", err: "user info is not allowed"},
		{in: "dns://127.0.0.1:53?edns=0", err: "query and fragment are not allowed"},
		{in: "dns://127.0.0.1:53#x", err: "query and fragment are not allowed"},
		{in: "dns://[::%25%20]", err: `invalid IPv6 zone " " (want an interface name)`},
		{in: "dns://300.0.0.1:53", err: `host "300.0.0.1" is not an IP address`},
	}
	for _, tt := range tests {
		got, err := parseListenURL(tt.in)
		if tt.want.Scheme == "quic" && !transport.QUIC || tt.want.Scheme == "https" && !transport.HTTP {
			// A build without QUIC (HTTP) refuses the scheme by name.
			if err == nil || !strings.Contains(err.Error(), `scheme "`+tt.want.Scheme+`" is not in this build`) {
				t.Errorf("parseListenURL(%q) = %v, %v; want \"not in this build\"", tt.in, got, err)
			}
			continue
		}
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("parseListenURL(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("parseListenURL(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseServerURL(t *testing.T) {
	tests := []struct {
		in   string
		want string // endpoint.String(); "" means an error
	}{
		{"dns://127.0.0.1:5300", "dns://127.0.0.1:5300"},
		{"127.0.0.1", "dns://127.0.0.1:53"},
		{"127.0.0.1:5300", "dns://127.0.0.1:5300"},
		{"::1", "dns://[::1]:53"},
		{"[::1]:5300", "dns://[::1]:5300"},
		{"ns.example", "dns://ns.example:53"},
		{"ns.example:5300", "dns://ns.example:5300"},
		{"dns://127.0.0.1:0", ""},
		{"", ""},
		{"ftp://127.0.0.1", ""},
		{"tls://127.0.0.1", "tls://127.0.0.1:853"},
		{"tls://127.0.0.1:0", ""},
		{"quic://127.0.0.1", "quic://127.0.0.1:853"},
		{"quic://127.0.0.1:0", ""},
	}
	for _, tt := range tests {
		ep, err := parseServerURL(tt.in)
		if strings.HasPrefix(tt.in, "quic://") && !transport.QUIC || strings.HasPrefix(tt.in, "https://") && !transport.HTTP {
			continue // TestParseListenURL checks the refusal
		}
		got := ""
		if err == nil {
			got = ep.String()
		}
		if got != tt.want {
			t.Errorf("parseServerURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseListenURL(f *testing.F) {
	for _, s := range []string{"dns://127.0.0.1:53", "dns://[::1]:5300", "https://[::1]/q", "dns://x@y:1?z#w", "dns://[fe80::1%25eth0]:53"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseListenURL(s)
		if err != nil {
			return
		}
		// What parses must print as a URL that parses to the same thing.
		again, err := parseListenURL(u.String())
		if err != nil || again != u {
			t.Errorf("parseListenURL(%q) = %v; its String %q parses to %v, %v", s, u, u.String(), again, err)
		}
	})
}
