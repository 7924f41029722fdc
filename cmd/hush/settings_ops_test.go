//go:build !nohttp

package main

import (
	"bytes"
	"context"
	"time"

	"github.com/hush-dns/hush/metrics"
	"github.com/miekg/dns"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-dns/hush/filter"
)

func TestOpsSettings(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.txt", "ads.example\n")
	for _, tc := range []struct {
		args    []string
		check   func(o opsConfig) bool
		wantErr string
	}{
		{[]string{"--metrics-listen", "http://127.0.0.1:9153"}, func(o opsConfig) bool {
			return o.MetricsListen != nil && o.MetricsListen.Addr == netip.MustParseAddrPort("127.0.0.1:9153") && o.MetricsListen.Path == "/metrics"
		}, ""},
		{[]string{"--metrics-listen", "http://[::1]:9153/stats"}, func(o opsConfig) bool {
			return o.MetricsListen.String() == "http://[::1]:9153/stats"
		}, ""},
		{[]string{}, func(o opsConfig) bool {
			return o.MetricsListen == nil && o.ControlSocket == "" && o.BlockEDE == filter.EDEBlocked && o.LogLevel == logInfo
		}, ""},
		{[]string{"--metrics-listen", "https://127.0.0.1:9153/metrics"}, nil, "want http://ADDR:PORT/PATH"},
		{[]string{"--metrics-listen", "http://localhost:9153/metrics"}, nil, "not an IP address"},
		{[]string{"--metrics-listen", "http://127.0.0.1/metrics"}, nil, "port"},
		{[]string{"--metrics-listen", "http://127.0.0.1:9153/healthz"}, nil, "health check"},
		{[]string{"--control-socket", "/run/hush/c.sock"}, func(o opsConfig) bool { return o.ControlSocket == "/run/hush/c.sock" }, ""},
		{[]string{"--blocklist", list, "--blocklist", list}, func(o opsConfig) bool { return len(o.Blocklists) == 2 }, ""},
		{[]string{"--blocklist", list + ".missing"}, nil, "cannot read"},
		{[]string{"--rpz", dir}, nil, "not a regular file"},
		{[]string{"--local-data", "printer.home.arpa. 300 IN A 192.168.1.9"}, func(o opsConfig) bool { return len(o.LocalData) == 1 }, ""},
		{[]string{"--local-data", "printer.home.arpa. 300 IN A"}, nil, "local-data"},
		{[]string{"--block-answer", "null", "--block-ede", "filtered"}, func(o opsConfig) bool {
			return o.BlockMode == filter.ModeNull && o.BlockEDE == filter.EDEFiltered
		}, ""},
		{[]string{"--block-answer", "drop"}, nil, "want nxdomain, nodata or null"},
		{[]string{"--block-ede", "16"}, nil, "want blocked or filtered"},
		{[]string{"--identity", "ns1.fra", "--version-string", "hush", "--nsid", "fra-1"}, func(o opsConfig) bool {
			return o.Identity == "ns1.fra" && o.Version == "hush" && o.NSID == "fra-1"
		}, ""},
		{[]string{"--identity", "caf\u00e9"}, nil, "printable ASCII"},
		{[]string{"--log-level", "DEBUG"}, func(o opsConfig) bool { return o.LogLevel == logDebug }, ""},
		{[]string{"--log-level", "verbose"}, nil, "want error, warn, info or debug"},
	} {
		res := runHush(t, append([]string{"serve"}, tc.args...)...)
		if tc.wantErr != "" {
			if res.code != exitUsage || !strings.Contains(res.stderr, tc.wantErr) {
				t.Errorf("%v = %d, %q; want 2 and %q", tc.args, res.code, res.stderr, tc.wantErr)
			}
			continue
		}
		if res.code != exitOK || !res.served || !tc.check(res.cfg.Ops) {
			t.Errorf("%v = %d, %q, %+v", tc.args, res.code, res.stderr, res.cfg.Ops)
		}
	}
}

// TestLogLevelQuietsInfo checks that --log-level warn leaves out the
// info lines (serving ..., control socket ...) and keeps hush serving.
func TestLogLevelQuietsInfo(t *testing.T) {
	up := startFakeUpstream(t, 1)
	listen := loopbackAddr(t)
	socket := filepath.Join(t.TempDir(), "ctl.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	stderr := &lockedBuffer{}
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "dns://" + listen, "--forward", up.addr, "--dnssec", "off",
			"--control-socket", socket, "--log-level", "warn"}, &bytes.Buffer{}, stderr)
	}()
	waitFor(t, func() bool {
		code, _, _ := hushCtl(t, socket, "status")
		return code == 0
	}, "hush ctl status answering")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("hush serve exited %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "serving") || strings.Contains(stderr.String(), "control socket") {
		t.Errorf("info lines at --log-level warn: %q", stderr.String())
	}
}

func TestObservedCountsStale(t *testing.T) {
	m := metrics.New(metrics.Options{})
	o := &observed{m: m}
	for _, code := range []uint16{dns.ExtendedErrorCodeStaleAnswer, dns.ExtendedErrorCodeStaleNXDOMAINAnswer, dns.ExtendedErrorCodeBlocked} {
		r := new(dns.Msg)
		r.SetEdns0(1232, false)
		r.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: code}}
		o.answered(r, time.Time{})
	}
	if got := m.Totals().Stale; got != 2 {
		t.Errorf("stale answers: got %d; want 2 (EDE 3 and 19, not 15)", got)
	}
}
