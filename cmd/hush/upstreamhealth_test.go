package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver"
	"github.com/hush-dns/hush/upstream"
	"github.com/miekg/dns"
)

func TestHintsWarning(t *testing.T) {
	parse := func(text string) []dns.RR {
		rrs, err := resolver.ParseRootHints(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return rrs
	}
	const loop = ". 3600000 IN NS a.root-servers.net.\na.root-servers.net. 3600000 IN A 127.53.0.1\n"
	const mixed = loop + ". 3600000 IN NS b.root-servers.net.\nb.root-servers.net. 3600000 IN A 198.41.0.4\n"
	for _, tc := range []struct {
		name  string
		hints string // "" = built-in
		allow []string
		fwd   bool
		want  []string // substrings; none means no warning
	}{
		{name: "built-in hints"},
		{name: "loopback root, not allowed", hints: loop, want: []string{"127.53.0.1", "every query will fail with EDE 22", "--allow-upstream 127.53.0.1/32"}},
		{name: "loopback root, allowed", hints: loop, allow: []string{"127.0.0.0/8"}},
		{name: "loopback root, other prefix allowed", hints: loop, allow: []string{"10.0.0.0/8"}, want: []string{"127.53.0.1"}},
		{name: "mixed root", hints: mixed, want: []string{"127.53.0.1", "those servers are never queried"}},
		{name: "root forwarded", hints: loop, fwd: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultServeConfig()
			if tc.hints != "" {
				cfg.hints = parse(tc.hints)
			}
			for _, p := range tc.allow {
				cfg.AllowUpstream = append(cfg.AllowUpstream, netip.MustParsePrefix(p))
			}
			if tc.fwd {
				cfg.Forward = []upstream.Spec{{Scheme: "dns", Addr: netip.MustParseAddrPort("127.0.0.1:53")}}
			}
			got := hintsWarning(cfg)
			if len(tc.want) == 0 {
				if got != "" {
					t.Errorf("got warning %q, want none", got)
				}
				return
			}
			if strings.Contains(got, "\n") {
				t.Errorf("warning %q is more than one line", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("warning %q does not contain %q", got, w)
				}
			}
		})
	}
}

// TestHintsWarningAtStart runs hush serve with loopback root hints and no
// --allow-upstream: it must say so on stderr when it starts.
func TestHintsWarningAtStart(t *testing.T) {
	hints := writeFile(t, t.TempDir(), "root.hints", ". 3600000 IN NS a.root-servers.net.\na.root-servers.net. 3600000 IN A 127.53.0.1\n")
	addr := loopbackAddr(t)
	startHushServe(t, []string{"hush: serving dns://" + addr + " ", "hush: warning: the root hints name loopback or private addresses that --allow-upstream does not cover (127.53.0.1)"},
		"--listen", "dns://"+addr, "--root-hints", hints)
}

func TestUpstreamHealth(t *testing.T) {
	unreach := &net.OpError{Op: "dial", Net: "udp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	type step struct {
		at   time.Duration // since start
		err  error         // observed at that time, unless check
		ok   bool          // an answer observed
		want string        // check's line, when check
		chk  bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{name: "silent while answering", steps: []step{
			{at: 0, ok: true}, {at: 40 * time.Second, ok: true}, {at: 80 * time.Second, chk: true},
		}},
		{name: "dead network", steps: []step{
			{at: 0, err: unreach}, {at: 29 * time.Second, err: unreach}, {at: 29 * time.Second, chk: true},
			{at: 31 * time.Second, err: unreach},
			{at: 31 * time.Second, chk: true, want: "hush: no upstream answered in the last 30 s: network unreachable"},
			// Rate-limited: once per 30 s.
			{at: 40 * time.Second, err: unreach}, {at: 40 * time.Second, chk: true},
			{at: 62 * time.Second, err: unreach},
			{at: 62 * time.Second, chk: true, want: "hush: no upstream answered in the last 30 s: network unreachable"},
			{at: 70 * time.Second, ok: true}, {at: 70 * time.Second, chk: true, want: "hush: upstreams answer again"},
			{at: 75 * time.Second, chk: true},
		}},
		{name: "one server failing among answering ones", steps: []step{
			{at: 0, err: context.DeadlineExceeded}, {at: 20 * time.Second, ok: true},
			{at: 35 * time.Second, err: context.DeadlineExceeded}, {at: 40 * time.Second, chk: true},
		}},
		{name: "idle after failures", steps: []step{
			{at: 0, err: context.DeadlineExceeded}, {at: 5 * time.Second, err: context.DeadlineExceeded},
			{at: 40 * time.Second, chk: true},
		}},
		{name: "timeouts", steps: []step{
			{at: 0, err: context.DeadlineExceeded}, {at: 30 * time.Second, err: fmt.Errorf("udp: %w", context.DeadlineExceeded)},
			{at: 30 * time.Second, chk: true, want: "hush: no upstream answered in the last 30 s: timed out"},
		}},
		{name: "cancelled queries say nothing", steps: []step{
			{at: 0, err: context.Canceled}, {at: 31 * time.Second, err: context.Canceled}, {at: 31 * time.Second, chk: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1e9, 0)
			now := start
			h := newUpstreamHealth(func() time.Time { return now })
			for i, s := range tc.steps {
				now = start.Add(s.at)
				switch {
				case s.chk:
					if got := h.check(); got != s.want {
						t.Errorf("step %d at %v: check = %q, want %q", i, s.at, got, s.want)
					}
				case s.ok:
					h.observe(nil)
				default:
					h.observe(s.err)
				}
			}
		})
	}
}

func TestClassifyUpstreamError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, "network unreachable"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "host unreachable"},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNREFUSED)}, "connection refused"},
		{fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), "certificate not trusted"},
		{context.DeadlineExceeded, "timed out"},
		{errors.New("something else"), "errors"},
	} {
		if got := classify(tc.err).String(); got != tc.want {
			t.Errorf("classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
