//go:build !nohttp

package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// libLogCanary is the name the child process asks for; the parent looks
// for it in everything the child wrote.
const libLogCanary = "leak-canary"

// TestLibraryDebugLogsSilenced runs hush serve with the environment that
// turns on the libraries' own debug logs (net/http's HTTP/2 frame dumps,
// quic-go's packet log), which write to the standard logger and quote
// what clients send, and checks that nothing the process writes names the
// query a DoH client made.
func TestLibraryDebugLogsSilenced(t *testing.T) {
	if os.Getenv("HUSH_TEST_LIBLOG_CHILD") == "1" {
		libLogChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLibraryDebugLogsSilenced$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HUSH_TEST_LIBLOG_CHILD=1", "GODEBUG=http2debug=2", "QUIC_GO_LOG_LEVEL=debug")
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skip("cannot run the test binary again here (qemu-user without binfmt_misc)")
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLibraryDebugLogsSilenced") {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if i := strings.Index(string(out), libLogCanary); i >= 0 {
		t.Errorf("the query name is in the output at %d:\n%s", i, out)
	}
}

// libLogChild serves DoH and asks it one query over HTTP/2 (POST, so the
// query is in a DATA frame) and one over HTTP/1.1.
func libLogChild(t *testing.T) {
	h := startHushDoH(t)
	if want := "hush: ignoring QUIC_GO_LOG_LEVEL and GODEBUG=http2debug"; !strings.Contains(h.stderr.String(), want) {
		t.Errorf("hush serve did not say %q:\n%s", want, h.stderr)
	}
	for _, http1 := range []bool{false, true} {
		q := new(dns.Msg)
		q.SetQuestion(libLogCanary+".plain.example.", dns.TypeA)
		if resp, _ := goDoH(t, h, http1, q); resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
}
