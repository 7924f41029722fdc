package netwatch

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const netnsChildEnv = "HUSH_NETWATCH_NETNS_CHILD"

// TestWatchNetns changes a network for real, in a network namespace of
// its own (unshare --net, which needs root) so that the host's is never
// touched: the test binary runs TestWatchNetnsChild there.
func TestWatchNetns(t *testing.T) {
	if os.Getenv(netnsChildEnv) != "" {
		t.Skip("in the child")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) for a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	cmd := exec.CommandContext(t.Context(), unshare, "--net", "--", os.Args[0], "-test.run", "^TestWatchNetnsChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), "=== RUN   TestWatchNetnsChild") {
		// No namespaces here (a container without the privilege), or a
		// test binary that runs only under an emulator (qemu-user's
		// -exec), which unshare cannot start.
		t.Skipf("could not run the test binary in a network namespace: %v\n%s", err, out)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWatchNetnsChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestWatchNetnsChild runs inside the namespace: an address added after
// the watch has primed is reported once; nothing is reported before.
func TestWatchNetnsChild(t *testing.T) {
	if os.Getenv(netnsChildEnv) == "" {
		t.Skip("run by TestWatchNetns inside a network namespace")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("link", "set", "lo", "up") // before the watch: part of the start state
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan struct{}, 1)
	primed := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- watch(ctx, events, func() { close(primed) }) }()
	// Bounds against a hang, not synchronisation: a failure if exceeded.
	const bound = 20 * time.Second
	select {
	case <-primed:
	case err := <-done:
		t.Fatalf("watch: %v", err)
	case <-time.After(bound):
		t.Fatal("the dumps never finished")
	}
	select {
	case <-events:
		t.Fatal("a change reported before anything changed")
	default:
	}
	ip("addr", "add", "10.99.0.1/24", "dev", "lo")
	select {
	case <-events:
	case err := <-done:
		t.Fatalf("watch: %v", err)
	case <-time.After(bound):
		t.Fatal("an added address was not reported")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("watch returned %v, want context.Canceled", err)
	}
}
