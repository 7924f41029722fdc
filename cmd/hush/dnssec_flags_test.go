package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver"
	"github.com/miekg/dns"
)

func TestDNSSECFlags(t *testing.T) {
	anchor := writeFile(t, t.TempDir(), "anchor", ". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
	empty := writeFile(t, t.TempDir(), "empty", "; nothing\n")
	tests := []struct {
		name  string
		args  []string
		check func(serveConfig) bool
		err   string // substring of the one error line; "" for success
	}{
		{"default validates", nil, func(c serveConfig) bool { return c.DNSSEC && !c.NoSHA1 && c.anchors == nil }, ""},
		{"off", []string{"--dnssec", "off"}, func(c serveConfig) bool { return !c.DNSSEC }, ""},
		{"bad mode", []string{"--dnssec", "maybe"}, nil, `--dnssec "maybe": want validate or off`},
		{"no sha1", []string{"--dnssec-sha1=false"}, func(c serveConfig) bool { return c.NoSHA1 }, ""},
		{"anchor file", []string{"--trust-anchor", anchor}, func(c serveConfig) bool { return c.anchors != nil && c.anchors.Len() == 1 }, ""},
		{"empty anchor file", []string{"--trust-anchor", empty}, nil, "no DS or DNSKEY records"},
		{"NTA", []string{"--insecure-domain", "Example.COM"}, func(c serveConfig) bool {
			return len(c.InsecureDomains) == 1 && c.InsecureDomains[0].Name == "example.com." && c.InsecureDomains[0].Expires.IsZero()
		}, ""},
		{"NTA with a date", []string{"--insecure-domain", "example.com@2026-12-31"}, func(c serveConfig) bool {
			return c.InsecureDomains[0].Expires.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		}, ""},
		{"NTA bad expiry", []string{"--insecure-domain", "example.com@soon"}, nil, "expiry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runHush(t, append([]string{"serve"}, tc.args...)...)
			if tc.err != "" {
				if res.code != exitUsage {
					t.Errorf("exit status %d, want %d", res.code, exitUsage)
				}
				if line := oneErrorLine(t, res.stderr); !strings.Contains(line, tc.err) {
					t.Errorf("stderr %q, want it to contain %q", line, tc.err)
				}
				return
			}
			if res.code != exitOK || !res.served {
				t.Fatalf("exit status %d, stderr %q", res.code, res.stderr)
			}
			if !tc.check(res.cfg) {
				t.Errorf("config %+v does not satisfy the check", res.cfg)
			}
		})
	}
}

func TestPrivateRoot(t *testing.T) {
	parse := func(text string) []dns.RR {
		rrs, err := resolver.ParseRootHints(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return rrs
	}
	tests := []struct {
		name  string
		hints []dns.RR
		want  bool
	}{
		{"built-in", resolver.DefaultRootHints(), false},
		{"lab on loopback", parse(". 1 IN NS a.root.test.\na.root.test. 1 IN A 127.53.0.1\n"), true},
		{"private and public", parse(". 1 IN NS a.\n. 1 IN NS b.\na. 1 IN A 10.0.0.1\nb. 1 IN A 198.41.0.4\n"), false},
	}
	for _, tc := range tests {
		if got := privateRoot(tc.hints); got != tc.want {
			t.Errorf("%s: privateRoot = %v, want %v", tc.name, got, tc.want)
		}
	}
}
