package main

import (
	"github.com/hush-dns/hush/upstream"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	const hintsText = ". 3600000 IN NS a.root-servers.net.\na.root-servers.net. 3600000 IN A 127.53.0.1\n"
	hints := writeFile(t, dir, "root.hints", hintsText)
	otherHints := writeFile(t, t.TempDir(), "other.hints", hintsText)
	writeFile(t, dir, "bad.hints", "; no root servers\n")
	hintRRs, err := resolver.ParseRootHints(strings.NewReader(hintsText))
	if err != nil {
		t.Fatal(err)
	}

	// full sets every key; the tests below start from it.
	full := defaultServeConfig()
	full.Listen = []listenURL{
		{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:5300")},
		{Scheme: "dns", Addr: netip.MustParseAddrPort("[::1]:5300")},
	}
	full.RootHints, full.hints = hints, hintRRs
	full.AllowUpstream = []netip.Prefix{netip.MustParsePrefix("127.53.0.0/16")}
	full.Forward = []upstream.Spec{
		{Scheme: "dns", Addr: netip.MustParseAddrPort("192.168.1.1:53")},
		{Scheme: "dns", Addr: netip.MustParseAddrPort("[::1]:5353")},
	}
	full.AllowClient = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	full.CacheSize = 5000
	full.QNameMin = false
	full.MinTTL = 30 * time.Second
	full.MaxTTL = time.Hour
	full.Timeout = 3 * time.Second
	full.UpstreamPort = 5353

	const fullFile = `# every key
listen:
  - dns://127.0.0.1:5300
  - "dns://[::1]:5300"
root-hints: root.hints
allow-upstream: [127.53.0.0/16]
forward: [192.168.1.1, "[::1]:5353"]
allow-client:
  - 10.1.2.3/8
  - 192.0.2.7
cache-size: 5000
qname-minimisation: false
min-ttl: 30
max-ttl: 1h
timeout: 3s
upstream-port: 5353
`
	with := func(f func(c *serveConfig)) serveConfig {
		c := full
		f(&c)
		return c
	}

	tests := []struct {
		name  string
		file  string   // config file content
		flags []string // extra flags after --config
		want  serveConfig
		err   string // the stderr line; empty: success
	}{
		{name: "every key", file: fullFile, want: full},
		{name: "comments only", file: "# nothing\n", want: defaultServeConfig()},
		{name: "explicit empty document", file: "---\n", want: defaultServeConfig()},
		{
			name: "single value for a list key",
			file: "listen: dns://127.0.0.1:5300\n",
			want: func() serveConfig {
				c := defaultServeConfig()
				c.Listen = []listenURL{{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:5300")}}
				return c
			}(),
		},
		{
			name:  "flags override file",
			file:  fullFile,
			flags: []string{"--cache-size", "7", "--listen", "dns://127.0.0.2:53", "--qname-minimisation", "--root-hints", otherHints},
			want: with(func(c *serveConfig) {
				c.CacheSize = 7
				c.Listen = []listenURL{{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.2:53")}}
				c.QNameMin = true
				c.RootHints, c.hints = otherHints, hintRRs
			}),
		},
		{
			name:  "flag fixes a file's min over max",
			file:  "min-ttl: 2h\nmax-ttl: 1h\n",
			flags: []string{"--max-ttl", "3h"},
			want: func() serveConfig {
				c := defaultServeConfig()
				c.MinTTL, c.MaxTTL = 2*time.Hour, 3*time.Hour
				return c
			}(),
		},
		{name: "unknown key", file: "listen: [dns://127.0.0.1:5300]\n\ncach-size: 3\n", err: `hush: config: unknown key "cach-size" (line 3); did you mean "cache-size"?`},
		{name: "key with underscores", file: "cache_size: 3\n", err: `hush: config: unknown key "cache_size" (line 1); did you mean "cache-size"?`},
		{name: "key in capitals", file: "Cache-Size: 3\n", err: `hush: config: unknown key "Cache-Size" (line 1); did you mean "cache-size"?`},
		{name: "unknown key like none", file: "frobnicate: 3\n", err: `hush: config: unknown key "frobnicate" (line 1)`},
		{name: "empty file", file: "", err: `hush: config: ` + filepath.Join(dir, "hush.yaml") + ` is empty: give it at least one key (see hush.example.yaml) or a comment, or leave out --config`},
		{name: "blank file", file: "\n  \n", err: `hush: config: ` + filepath.Join(dir, "hush.yaml") + ` is empty: give it at least one key (see hush.example.yaml) or a comment, or leave out --config`},
		{name: "tab indentation", file: "listen:\n\t- dns://127.0.0.1:53\n", err: `hush: config: yaml: line 2: found character that cannot start any token (YAML indents with spaces, not tabs)`},
		{name: "unquoted IPv6 listen", file: "listen:\n  - [::1]:53\n", err: `hush: config: yaml: line 1: did not find expected node content (quote IPv6 addresses: "[::1]:53", "fd00::/8")`},
		{name: "unquoted IPv6 list", file: "allow-client: [::1/128, fd00::/8]\n", err: `hush: config: yaml: did not find expected node content (quote IPv6 addresses: "[::1]:53", "fd00::/8")`},
		{name: "config key in file", file: "config: other.yaml\n", err: `hush: config: unknown key "config" (line 1)`},
		{name: "bad CIDR", file: "allow-client:\n  - 127.0.0.0/8\n  - 10.0.0/8\n", err: `hush: config: allow-client "10.0.0/8" (line 3): invalid CIDR`},
		{name: "bad duration", file: "max-ttl: forever\n", err: `hush: config: max-ttl "forever" (line 1): not a duration (want e.g. 30s, 5m, 1h or seconds)`},
		{name: "negative duration", file: "timeout: -3s\n", err: `hush: config: timeout "-3s" (line 1): must not be negative`},
		{name: "min over max", file: "min-ttl: 2h\nmax-ttl: 1h\n", err: `hush: config: min-ttl "2h" (line 1): min-ttl (2h0m0s) is greater than max-ttl (1h0m0s)`},
		{name: "bad cache size", file: "cache-size: -1\n", err: `hush: config: cache-size "-1" (line 1): must be greater than 0`},
		{name: "bad bool", file: "qname-minimisation: sometimes\n", err: `hush: config: qname-minimisation "sometimes" (line 1): want true or false`},
		{name: "bad listen", file: "listen: [dns://127.0.0.1:53/x]\n", err: `hush: config: listen "dns://127.0.0.1:53/x" (line 1): a path is not allowed in dns:// URLs`},
		{name: "root hints without addresses", file: "root-hints: bad.hints\n", err: `hush: config: root-hints "bad.hints" (line 1): root hints: no NS records for the root`},
		{name: "missing root hints", file: "root-hints: nope.hints\n", err: `hush: config: root-hints "nope.hints" (line 1): cannot read: no such file or directory`},
		{name: "missing value", file: "cache-size:\n", err: `hush: config: cache-size (line 1): missing value`},
		{name: "list for a scalar", file: "cache-size: [1, 2]\n", err: `hush: config: cache-size (line 1): want a single value`},
		{name: "mapping for a list", file: "listen: {a: b}\n", err: `hush: config: listen (line 1): want a value or a list of values`},
		{name: "empty list", file: "allow-client: []\n", err: `hush: config: allow-client (line 1): empty list`},
		{name: "nested list item", file: "allow-client:\n  - [10.0.0.0/8]\n", err: `hush: config: allow-client (line 2): list items must be single values`},
		{name: "duplicate key", file: "timeout: 1s\ntimeout: 2s\n", err: `hush: config: duplicate key "timeout" (line 2, first on line 1)`},
		{name: "not a mapping", file: "- listen\n", err: `hush: config: want a mapping of keys to values (line 1)`},
		{name: "two documents", file: "timeout: 1s\n---\ntimeout: 2s\n", err: `hush: config: only one YAML document is allowed (line 2)`},
		{name: "bad flag over good file", file: fullFile, flags: []string{"--allow-client", "10.0.0/8"}, err: `hush: --allow-client "10.0.0/8": invalid CIDR`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, dir, "hush.yaml", tt.file)
			res := runHush(t, append([]string{"serve", "--config", p}, tt.flags...)...)
			if tt.err != "" {
				if res.code != exitUsage {
					t.Errorf("exit status = %d; want %d", res.code, exitUsage)
				}
				if got := oneErrorLine(t, res.stderr); got != tt.err {
					t.Errorf("stderr line\n got %s\nwant %s", got, tt.err)
				}
				return
			}
			if res.code != exitOK || res.stderr != "" {
				t.Fatalf("exit status %d, stderr %q; want 0, \"\"", res.code, res.stderr)
			}
			if !res.served {
				t.Fatal("serve was not called")
			}
			if !reflect.DeepEqual(res.cfg, tt.want) {
				t.Errorf("config\n got %+v\nwant %+v", res.cfg, tt.want)
			}
		})
	}
}

func TestYAMLSyntaxErrorIsOneLine(t *testing.T) {
	p := writeFile(t, t.TempDir(), "hush.yaml", "listen: [dns://127.0.0.1:53\ntimeout: 1s\n")
	res := runHush(t, "serve", "--config", p)
	line := oneErrorLine(t, res.stderr)
	if res.code != exitUsage || !strings.HasPrefix(line, "hush: config: yaml: ") {
		t.Errorf("got %d, %q; want %d, a line starting %q", res.code, line, exitUsage, "hush: config: yaml: ")
	}
}

// TestSettingDefaults checks that the defaults --help and the README show
// are the defaults hush uses.
func TestSettingDefaults(t *testing.T) {
	for _, s := range serveSettings() {
		if s.def == "" || s.def == "built-in" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			vals := []string{s.def}
			if s.kind == listSetting {
				vals = strings.Split(s.def, ",")
			}
			got := defaultServeConfig()
			if err := s.apply(&got, s.name, rawValue{vals: vals}); err != nil {
				t.Fatalf("apply(%q) = %v", s.def, err)
			}
			if want := defaultServeConfig(); !reflect.DeepEqual(got, want) {
				t.Errorf("default %q gives\n %+v\nwant %+v", s.def, got, want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{"86400", 24 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"250ms", 250 * time.Millisecond, true},
		{"0s", 0, true},
		{"-1s", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{"1d", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means an error
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"::1", "::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"10.0.0/8", ""},
		{"10.0.0.0/33", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
		{"example.com", ""},
	}
	for _, tt := range tests {
		p, err := parsePrefix(tt.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("parsePrefix(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
