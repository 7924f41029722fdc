package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-dns/hush/internal/testport"
)

// Helpers shared by the cmd/hush tests: starting hush serve in-process,
// finding the external programs the interoperability tests run, and free
// loopback ports.

// lockedBuffer is a bytes.Buffer that a running server may write to while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // mu guards
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startHushServe runs hush serve in-process with args and returns its
// stderr once it has printed every line in want.
func startHushServe(t *testing.T, want []string, args ...string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1) // the exit code; put back for the cleanup once read
	stderr := &lockedBuffer{}
	go func() { done <- run(ctx, append([]string{"serve"}, args...), &bytes.Buffer{}, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("hush serve exited %d: %s", code, stderr.String())
		}
	})
	for deadline := time.Now().Add(15 * time.Second); ; {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("hush serve exited %d before serving: %s", code, stderr.String())
		default:
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(stderr.String(), w) {
				missing = w
			}
		}
		if missing == "" {
			return stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("hush serve never said %q: %s", missing, stderr.String())
		}
		// Polling, not synchronisation: the log lines are the only signal.
		time.Sleep(10 * time.Millisecond)
	}
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
}

// freePort returns a loopback port free for UDP and TCP at this moment,
// below the ephemeral range (see package testport for why).
func freePort(t *testing.T) int {
	t.Helper()
	return testport.Free(t)
}

// toolPackages are the Debian packages of the external programs the
// tests run; .ci/run installs them.
var toolPackages = map[string]string{
	"curl":          "curl",
	"dig":           "bind9-dnsutils",
	"dnsmasq":       "dnsmasq-base",
	"kdig":          "knot-dnsutils",
	"ldns-signzone": "ldnsutils",
	"nsd":           "nsd",
	"promtool":      "prometheus",
	"unbound":       "unbound",
}

// findTool returns the path of an external program a test runs, or false
// when it is not installed. Where the environment variable
// HUSH_INTEGRATION is "require" (as CI sets it) a missing program fails
// the test instead: there a skip would hide a failure.
func findTool(t *testing.T, name string) (string, bool) {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("HUSH_INTEGRATION") == "require" {
			t.Fatalf("%s not installed and HUSH_INTEGRATION=require", name)
		}
		return "", false
	}
	return p, true
}

// requireTool is findTool for a test that cannot run without the
// program: it skips the test when the program is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, ok := findTool(t, name)
	if !ok {
		t.Skipf("%s not installed (Debian: %s)", name, toolPackages[name])
	}
	return p
}
