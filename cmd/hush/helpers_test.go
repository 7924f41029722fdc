package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
// for a server started later (hush serve, or a program nobody here
// wrote). It is chosen below the kernel's ephemeral range (32768-60999
// on Linux): a port the kernel handed out and took back would soon be
// handed to another test's socket (go test runs packages at once), and
// the server would fail with "address already in use" at random.
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port between 20000 and 32000")
	return 0
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
