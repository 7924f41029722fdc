package main

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/hush-dns/hush/resolver"
)

// TestRebindDNS64Settings: --private-address (with the private shorthand),
// --private-domain and --dns64 parse into the resolver's settings, and
// bad values are one line and exit 2.
func TestRebindDNS64Settings(t *testing.T) {
	flags := map[string]rawValue{
		"private-address": {vals: []string{"private", "192.0.2.0/24", "2001:db8::1"}},
		"private-domain":  {vals: []string{"Home.Arpa", "lan."}},
		"dns64":           {vals: []string{"on"}},
	}
	cfg, err := buildServeConfig(serveSettings(), nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	want := append(resolver.PrivateRanges(), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128"))
	if fmt.Sprint(cfg.PrivateAddresses) != fmt.Sprint(want) {
		t.Errorf("private-address: got %v, want %v", cfg.PrivateAddresses, want)
	}
	if fmt.Sprint(cfg.PrivateDomains) != "[home.arpa. lan.]" {
		t.Errorf("private-domain: got %v", cfg.PrivateDomains)
	}
	if cfg.DNS64 != resolver.DNS64WellKnown {
		t.Errorf("dns64 on: got %v, want %v", cfg.DNS64, resolver.DNS64WellKnown)
	}
	for v, want := range map[string]string{"off": "invalid Prefix", "2001:db8:64::/96": "2001:db8:64::/96"} {
		cfg, err := buildServeConfig(serveSettings(), nil, map[string]rawValue{"dns64": {vals: []string{v}}})
		if err != nil || cfg.DNS64.String() != want {
			t.Errorf("dns64 %s: got %v (%v), want %s", v, cfg.DNS64, err, want)
		}
	}
	if cfg, _ := buildServeConfig(serveSettings(), nil, nil); cfg.DNS64.IsValid() || len(cfg.PrivateAddresses) != 0 {
		t.Errorf("defaults: dns64 %v, private-address %v; want both off", cfg.DNS64, cfg.PrivateAddresses)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--private-address", "10.0.0/8"}, `hush: --private-address "10.0.0/8": want a CIDR prefix or private`},
		{[]string{"--private-domain", "bad..name"}, `hush: --private-domain "bad..name": not a domain name`},
		{[]string{"--dns64", "64:ff9b::/64"}, `hush: --dns64 "64:ff9b::/64": want on, off or an IPv6 /96 such as 64:ff9b::/96`},
		{[]string{"--dns64", "::ffff:0:0/96"}, `hush: --dns64 "::ffff:0:0/96": want on, off or an IPv6 /96 such as 64:ff9b::/96`},
	}
	for _, tt := range tests {
		res := runHush(t, append([]string{"serve"}, tt.args...)...)
		line := oneErrorLine(t, res.stderr)
		if res.code != exitUsage || line != tt.want {
			t.Errorf("%v: got %d, %q\nwant %d, %q", tt.args, res.code, line, exitUsage, tt.want)
		}
	}
}
