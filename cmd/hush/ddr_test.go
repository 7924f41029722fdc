package main

import (
	"crypto/x509"
	"net/netip"
	"strings"
	"testing"
)

func TestDesignatedResolvers(t *testing.T) {
	named := &x509.Certificate{DNSNames: []string{"localhost", "*.example.net", "DNS.Example.NET"}}
	lu := func(scheme, addr, path string) listenURL {
		return listenURL{Scheme: scheme, Addr: netip.MustParseAddrPort(addr), Path: path}
	}
	tests := []struct {
		name string
		urls []listenURL
		leaf *x509.Certificate
		want []string
	}{
		{"plain only", []listenURL{lu("dns", "127.0.0.1:53", "")}, named, nil},
		{"named, default ports, wildcard address",
			[]listenURL{lu("dns", "0.0.0.0:53", ""), lu("https", "0.0.0.0:443", "/dns-query"), lu("tls", "[::]:853", ""), lu("quic", "0.0.0.0:853", "")},
			named,
			[]string{
				`_dns.resolver.arpa.	300	IN	SVCB	1 dns.example.net. alpn="h2` + withQUIC(",h3") + `" dohpath="/dns-query{?dns}"`,
				`_dns.resolver.arpa.	300	IN	SVCB	2 dns.example.net. alpn="dot"`,
				`_dns.resolver.arpa.	300	IN	SVCB	3 dns.example.net. alpn="doq"`,
			}},
		{"unnamed, specific addresses and ports",
			[]listenURL{lu("tls", "192.0.2.1:8853", ""), lu("https", "[2001:db8::1]:8443", "/q"), lu("quic", "[::ffff:192.0.2.1]:8853", "")},
			&x509.Certificate{DNSNames: []string{"localhost"}},
			[]string{
				`_dns.resolver.arpa.	300	IN	SVCB	1 . alpn="dot" port="8853" ipv4hint="192.0.2.1"`,
				`_dns.resolver.arpa.	300	IN	SVCB	2 . alpn="h2` + withQUIC(",h3") + `" port="8443" ipv6hint="2001:db8::1" dohpath="/q{?dns}"`,
				`_dns.resolver.arpa.	300	IN	SVCB	3 . alpn="doq" port="8853" ipv4hint="192.0.2.1"`,
			}},
		{"unnamed wildcard: no record", []listenURL{lu("tls", "0.0.0.0:853", ""), lu("tls", "127.0.0.1:853", "")}, nil,
			[]string{`_dns.resolver.arpa.	300	IN	SVCB	1 . alpn="dot" ipv4hint="127.0.0.1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, rr := range designatedResolvers(tt.urls, tt.leaf) {
				got = append(got, rr.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestServeDDR asks a running hush for _dns.resolver.arpa SVCB over its
// own TLS listener and gets that listener back.
func TestServeDDR(t *testing.T) {
	addr, _ := startHushTLS(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	code, out, errOut := queryHush(t, "--server", "tls://"+addr, "--insecure", "--short", "_dns.resolver.arpa.", "SVCB")
	want := `1 . alpn="dot" port="` + port + `" ipv4hint="127.0.0.1"`
	if code != exitOK || strings.TrimSpace(out) != want {
		t.Errorf("got %d %q (%s), want %q", code, out, errOut, want)
	}
}
