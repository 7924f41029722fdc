package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runResult is what one command line produced.
type runResult struct {
	code           int
	stdout, stderr string
	// cfg is the configuration serve was called with; served reports
	// whether it was called at all.
	cfg    serveConfig
	served bool
}

// runHush runs a command line with serve replaced by a recorder, so that
// tests see the configuration without opening sockets.
func runHush(t *testing.T, args ...string) runResult {
	t.Helper()
	var out, errOut bytes.Buffer
	var res runResult
	e := &env{
		stdout:  &out,
		stderr:  &errOut,
		version: "v1.2.3-test",
		serve: func(_ context.Context, cfg serveConfig, _, _ io.Writer) error {
			// The reload source (the config file's path and a function)
			// is the reload tests' business, not the settings'.
			cfg.Ops.file, cfg.Ops.load = "", nil
			res.cfg, res.served = cfg, true
			return nil
		},
		demo: runDemo,
	}
	res.code = e.run(t.Context(), args)
	res.stdout, res.stderr = out.String(), errOut.String()
	return res
}

// oneErrorLine checks that stderr is exactly one line and returns it.
func oneErrorLine(t *testing.T, stderr string) string {
	t.Helper()
	if !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("stderr = %q; want exactly one line", stderr)
	}
	return strings.TrimSuffix(stderr, "\n")
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string // the whole stderr line
	}{
		{"no command", nil, `hush: missing command (see hush --help)`},
		{"unknown command", []string{"serv"}, `hush: unknown command "serv" (see hush --help)`},
		{"unknown command with flags", []string{"serv", "--listen", "x"}, `hush: unknown command "serv" (see hush --help)`},
		{"unknown root flag", []string{"--bogus"}, `hush: unknown flag: --bogus (see hush --help)`},
		{"serve unknown flag", []string{"serve", "--cach-size", "3"}, `hush: serve: unknown flag: --cach-size`},
		{"serve missing value", []string{"serve", "--listen"}, `hush: serve: flag needs an argument: --listen`},
		{"serve extra arg", []string{"serve", "now"}, `hush: serve: unexpected argument "now"`},
		{"bad CIDR", []string{"serve", "--allow-client", "10.0.0/8"}, `hush: --allow-client "10.0.0/8": invalid CIDR`},
		{"bad forwarder", []string{"serve", "--forward", "dns.example"}, `hush: --forward "dns.example": want an IP address, optionally with :port ([v6]:port)`},
		{"forwarder port 0", []string{"serve", "--forward", "192.0.2.1:0"}, `hush: --forward "192.0.2.1:0": port 0`},
		{"bad upstream CIDR", []string{"serve", "--allow-upstream", "fe80::/129"}, `hush: --allow-upstream "fe80::/129": invalid CIDR`},
		{"bad listen scheme", []string{"serve", "--listen", "ftp://127.0.0.1:53"}, `hush: --listen "ftp://127.0.0.1:53": unknown scheme "ftp" (want dns://, tls://` + withHTTP(", https://") + withQUIC(", quic://") + ")"},
		{"listen host name", []string{"serve", "--listen", "dns://localhost:53"}, `hush: --listen "dns://localhost:53": host "localhost" is not an IP address`},
		{"listen second bad", []string{"serve", "--listen", "dns://127.0.0.1:5300", "--listen", "127.0.0.1:53"}, `hush: --listen "127.0.0.1:53": missing scheme (want dns://HOST:PORT, tls://HOST:PORT` + withHTTP(", https://HOST:PORT") + withQUIC(", quic://HOST:PORT") + ")"},
		{"cache size zero", []string{"serve", "--cache-size", "0"}, `hush: --cache-size "0": must be greater than 0`},
		{"cache size text", []string{"serve", "--cache-size", "lots"}, `hush: --cache-size "lots": want a size with a unit (64MiB, 512KiB, 1GB) or a number of entries`},
		{"bad bool", []string{"serve", "--qname-minimisation=maybe"}, `hush: --qname-minimisation "maybe": want true or false`},
		{"bad duration", []string{"serve", "--min-ttl", "5 minutes"}, `hush: --min-ttl "5 minutes": not a duration (want e.g. 30s, 5m, 1h or seconds)`},
		{"negative duration", []string{"serve", "--max-ttl", "-1s"}, `hush: --max-ttl "-1s": must not be negative`},
		{"min over max", []string{"serve", "--min-ttl", "2h", "--max-ttl", "1h"}, `hush: --min-ttl "2h": min-ttl (2h0m0s) is greater than max-ttl (1h0m0s)`},
		{"zero timeout", []string{"serve", "--timeout", "0"}, `hush: --timeout "0": must be greater than 0`},
		{"bad port", []string{"serve", "--upstream-port", "70000"}, `hush: --upstream-port "70000": want a port number from 1 to 65535`},
		{"port zero", []string{"serve", "--upstream-port", "0"}, `hush: --upstream-port "0": want a port number from 1 to 65535`},
		{"missing root hints", []string{"serve", "--root-hints", filepath.Join(dir, "nope")}, `hush: --root-hints "` + filepath.Join(dir, "nope") + `": cannot read: no such file or directory`},
		{"root hints dir", []string{"serve", "--root-hints", dir}, `hush: --root-hints "` + dir + `": not a regular file`},
		{"missing config", []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, `hush: config: open ` + filepath.Join(dir, "nope.yaml") + `: no such file or directory`},
		{"empty config name", []string{"serve", "--config="}, `hush: --config "": empty file name`},
		{"query no name", []string{"query"}, `hush: query: want NAME [TYPE], got 0 arguments`},
		{"query too many", []string{"query", "a.", "A", "IN"}, `hush: query: want NAME [TYPE], got 3 arguments`},
		{"query bad type", []string{"query", "example.", "AAA"}, `hush: query: unknown type "AAA"`},
		{"query bad name", []string{"query", "a..b"}, `hush: query: invalid name "a..b"`},
		{"query unknown scheme", []string{"query", "example.", "--server", "ftp://127.0.0.1"}, `hush: --server "ftp://127.0.0.1": unknown scheme "ftp" (want dns://, tls://` + withHTTP(", https://") + withQUIC(", quic://") + ")"},
		{"query bad timeout", []string{"query", "example.", "--timeout", "soon"}, `hush: --timeout "soon": not a duration (want e.g. 30s, 5m, 1h or seconds)`},
		{"query bad bool", []string{"query", "example.", "--tcp=maybe"}, `hush: query: invalid argument "maybe" for "--tcp" flag: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"version extra arg", []string{"version", "x"}, `hush: version: unexpected argument "x"`},
		{"demo extra arg", []string{"demo", "x"}, `hush: demo: unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runHush(t, tt.args...)
			if res.code != exitUsage {
				t.Errorf("exit status = %d; want %d", res.code, exitUsage)
			}
			if got := oneErrorLine(t, res.stderr); got != tt.want {
				t.Errorf("stderr line\n got %s\nwant %s", got, tt.want)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q; want nothing", res.stdout)
			}
			if res.served {
				t.Errorf("serve was called; want it not called")
			}
		})
	}
}

func TestVersion(t *testing.T) {
	want := "hush v1.2.3-test\n" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if tags := buildTags(); tags != "" {
		want += "built with -tags " + tags + "\n"
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		res := runHush(t, args...)
		if res.code != exitOK || res.stdout != want || res.stderr != "" {
			t.Errorf("hush %v = %d, %q, %q; want 0, %q, \"\"", args, res.code, res.stdout, res.stderr, want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"query", "-h"}, {"help", "serve"}} {
		res := runHush(t, args...)
		if res.code != exitOK || res.stderr != "" || !strings.Contains(res.stdout, "Usage:") {
			t.Errorf("hush %v = %d, stderr %q, stdout has Usage: %v; want 0, \"\", true",
				args, res.code, res.stderr, strings.Contains(res.stdout, "Usage:"))
		}
	}
}

// TestREADMEDocumentsEveryFlag keeps the README's flags table in step with
// the settings table.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range serveSettings() {
		row := "| `--" + s.name + "` | `" + s.name + "` |"
		if !bytes.Contains(readme, []byte(row)) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}
