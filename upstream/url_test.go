package upstream

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const testPin = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		str  string
	}{
		{"127.0.0.1", Spec{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}, "dns://127.0.0.1:53"},
		{"127.0.0.1:5353", Spec{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:5353")}, "dns://127.0.0.1:5353"},
		{"::1", Spec{Scheme: "dns", Addr: netip.MustParseAddrPort("[::1]:53")}, "dns://[::1]:53"},
		{"[::1]:5353", Spec{Scheme: "dns", Addr: netip.MustParseAddrPort("[::1]:5353")}, "dns://[::1]:5353"},
		{"dns://192.0.2.1", Spec{Scheme: "dns", Addr: netip.MustParseAddrPort("192.0.2.1:53")}, "dns://192.0.2.1:53"},
		{"DNS://192.0.2.1:54", Spec{Scheme: "dns", Addr: netip.MustParseAddrPort("192.0.2.1:54")}, "dns://192.0.2.1:54"},
		{"tls://1.1.1.1", Spec{Scheme: "tls", Addr: netip.MustParseAddrPort("1.1.1.1:853")}, "tls://1.1.1.1:853"},
		{"tls://1.1.1.1#cloudflare-dns.com", Spec{Scheme: "tls", Addr: netip.MustParseAddrPort("1.1.1.1:853"), Name: "cloudflare-dns.com"}, "tls://1.1.1.1:853#cloudflare-dns.com"},
		{"tls://[2606:4700:4700::1111]:8853#One.One.One.One.", Spec{Scheme: "tls", Addr: netip.MustParseAddrPort("[2606:4700:4700::1111]:8853"), Name: "one.one.one.one"}, "tls://[2606:4700:4700::1111]:8853#one.one.one.one"},
		{"tls://1.1.1.1?pin=" + testPin, Spec{Scheme: "tls", Addr: netip.MustParseAddrPort("1.1.1.1:853"), Pins: []string{testPin}}, "tls://1.1.1.1:853"},
		{"tls://1.1.1.1#a.example?pin=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(testPin), Spec{Scheme: "tls", Addr: netip.MustParseAddrPort("1.1.1.1:853"), Name: "a.example", Pins: []string{testPin}}, "tls://1.1.1.1:853#a.example"},
		{"https://1.1.1.1", Spec{Scheme: "https", Addr: netip.MustParseAddrPort("1.1.1.1:443"), Path: "/dns-query"}, "https://1.1.1.1:443/dns-query"},
		{"https://9.9.9.9:5443/q#dns.quad9.net", Spec{Scheme: "https", Addr: netip.MustParseAddrPort("9.9.9.9:5443"), Path: "/q", Name: "dns.quad9.net"}, "https://9.9.9.9:5443/q#dns.quad9.net"},
		{"https://1.1.1.1/dns-query?http3=1&pin=" + testPin + "#cloudflare-dns.com", Spec{Scheme: "https", Addr: netip.MustParseAddrPort("1.1.1.1:443"), Path: "/dns-query", Name: "cloudflare-dns.com", Pins: []string{testPin}, HTTP3: true}, "https://1.1.1.1:443/dns-query#cloudflare-dns.com"},
		{"quic://94.140.14.140", Spec{Scheme: "quic", Addr: netip.MustParseAddrPort("94.140.14.140:853")}, "quic://94.140.14.140:853"},
		{"quic://[::1]:784#dns.adguard-dns.com", Spec{Scheme: "quic", Addr: netip.MustParseAddrPort("[::1]:784"), Name: "dns.adguard-dns.com"}, "quic://[::1]:784#dns.adguard-dns.com"},
		{"tls://::ffff:1.2.3.4", Spec{Scheme: "tls", Addr: netip.MustParseAddrPort("1.2.3.4:853")}, "tls://1.2.3.4:853"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !quicBuilt && errors.Is(err, errNoQUIC) || !httpBuilt && errors.Is(err, errNoHTTP) {
			continue // noquic_test.go checks the refusal
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q): got %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.str {
			t.Errorf("Parse(%q).String(): got %q, want %q", tt.in, got.String(), tt.str)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"dns.google", "not an IP address"},
		{"tls://dns.google#dns.google", "not an IP address"},
		{"h3://1.1.1.1", "unknown scheme"},
		{"sdns://AQ", "unknown scheme"},
		{"tls://1.1.1.1:0", "port"},
		{"tls://1.1.1.1:65536", "port"},
		{"tls://1.1.1.1:", "empty port"},
		{"tls://[1.1.1.1]:853", "not an IPv6"},
		{"tls://[::1", "unclosed"},
		{"tls://1.1.1.1#bad_name", "not a host name"},
		{"tls://1.1.1.1#-x.example", "not a host name"},
		{"tls://1.1.1.1#a..b", "not a host name"},
		{"tls://1.1.1.1#1.1.1.1", "an IP address"},
		{"tls://1.1.1.1#", "empty"},
		{"dns://1.1.1.1#x.example", "#NAME is for"},
		{"dns://1.1.1.1?pin=" + testPin, "pin is for"},
		{"tls://1.1.1.1?pin=sha1/abc", "want sha256/"},
		{"tls://1.1.1.1?pin=sha256/abc", "32 bytes"},
		{"tls://1.1.1.1?http3=1", "http3 is for"},
		{"https://1.1.1.1?http3=maybe", "want 1 or 0"},
		{"https://1.1.1.1?foo=bar", "unknown parameter"},
		{"tls://1.1.1.1/dns-query", "a path is for"},
		{"tls://0.0.0.0", "cannot be an upstream"},
		{"tls://[fe80::1%25eth0]", "zones"},
		{"tls://1.1.1.1 ", "white space"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q): no error, want one with %q", tt.in, tt.want)
			continue
		}
		if !httpBuilt && errors.Is(err, errNoHTTP) || !quicBuilt && errors.Is(err, errNoQUIC) {
			continue // refused for the build before its parameters are read
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q): got %q, want one line with %q", tt.in, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "tls://[::1]:853#a.b?pin=" + testPin, "https://1.1.1.1/x?http3=1#y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		// The canonical form parses to the same upstream, pins aside.
		again, err := Parse(sp.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, sp.String(), err)
		}
		sp.Pins, sp.HTTP3 = nil, false
		if !reflect.DeepEqual(again, sp) {
			t.Fatalf("round trip of %q: got %+v, want %+v", s, again, sp)
		}
	})
}

// TestPadding: queries over encrypted transports are padded to a
// multiple of 128 octets (RFC 8467 §4.1).
func TestPadding(t *testing.T) {
	for _, name := range []string{"a.", "www.example.com.", strings.Repeat("x", 63) + "." + strings.Repeat("y", 63) + "."} {
		q := query(name, 1)
		wire, err := prepare(q, 7, true, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(wire)%paddingBlock != 0 {
			t.Errorf("%s: %d octets, want a multiple of %d", name, len(wire), paddingBlock)
		}
	}
}
