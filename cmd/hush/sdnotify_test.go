package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeNotifySocket listens where systemd would and points $NOTIFY_SOCKET
// at it. name "" makes a path in a temporary directory.
func fakeNotifySocket(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	if name == "" {
		name = filepath.Join(t.TempDir(), "notify")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return conn
}

// readNotify returns the next datagram; the deadline only keeps a broken
// hush from hanging the test.
func readNotify(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestSdNotify(t *testing.T) {
	tests := []struct {
		name   string
		socket string // "" = a path; "@..." = abstract
	}{
		{"path", ""},
		{"abstract", "@hush-test-notify-" + strings.ReplaceAll(t.Name(), "/", "-")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := fakeNotifySocket(t, tc.socket)
			sent, err := sdNotify("READY=1")
			if !sent || err != nil {
				t.Fatalf("sdNotify = %v, %v; want true, nil", sent, err)
			}
			if got := readNotify(t, conn); got != "READY=1" {
				t.Errorf("got %q, want READY=1", got)
			}
		})
	}
}

func TestSdNotifyNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := sdNotify("READY=1"); sent || err != nil {
		t.Errorf("sdNotify without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}

func TestSdNotifyBadSocket(t *testing.T) {
	for _, name := range []string{"vsock:2:1234", "relative/path", filepath.Join(t.TempDir(), "nobody-listens")} {
		t.Setenv("NOTIFY_SOCKET", name)
		if sent, err := sdNotify("READY=1"); sent || err == nil {
			t.Errorf("NOTIFY_SOCKET=%q: sdNotify = %v, %v; want false and an error", name, sent, err)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	if _, err := sdNotify("READY=1"); !errors.Is(err, errNotifySocket) {
		t.Errorf("vsock: got %v, want errNotifySocket", err)
	}
}

// TestReadyAfterListen: hush sends READY=1 only when its
// listeners answer: a query sent as soon as READY=1 arrives is answered.
// hush demo serves through the same code as hush serve, without the
// real root servers.
func TestReadyAfterListen(t *testing.T) {
	requireDemo(t)
	conn := fakeNotifySocket(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo"}, pw, io.Discard)
		pw.Close()
	}()
	addrc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`dns://(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
				break
			}
		}
		close(addrc)
		io.Copy(io.Discard, pr)
	}()

	if got := readNotify(t, conn); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	// The address is printed before the listeners are served, so it is
	// there by now.
	addr, ok := <-addrc
	if !ok {
		t.Fatal("demo printed no address")
	}
	for _, network := range []string{"udp", "tcp"} {
		q := new(dns.Msg)
		q.SetQuestion("www.alg13.sec.", dns.TypeA)
		c := &dns.Client{Net: network, Timeout: 10 * time.Second}
		r, _, err := c.Exchange(q, addr)
		if err != nil {
			t.Fatalf("%s query right after READY=1: %v", network, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s: got %s with %d answers, want NOERROR with an answer", network, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exit status %d, want 0", code)
	}
}
