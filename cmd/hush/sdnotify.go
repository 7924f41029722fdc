package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// errNotifySocket is returned for a $NOTIFY_SOCKET hush cannot send to.
var errNotifySocket = errors.New("unsupported NOTIFY_SOCKET")

// sdNotify sends state (such as "READY=1") to the service manager that
// started hush, as sd_notify(3) does: one datagram to the Unix socket
// named by $NOTIFY_SOCKET, a path or, with a leading '@', an abstract
// name (the net package maps '@' to the abstract namespace). Without
// $NOTIFY_SOCKET hush was not started by systemd with Type=notify, and
// sdNotify does nothing and reports false.
//
// It does not unset $NOTIFY_SOCKET, so later states (STOPPING=1) reach
// the manager too, and it does not support vsock addresses, which only
// virtual machines' managers use.
//
// It is written here rather than imported from go-systemd: a dozen lines
// are not worth a dependency on every router.
func sdNotify(state string) (sent bool, err error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "@") {
		return false, fmt.Errorf("sd_notify: %w %q", errNotifySocket, name)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	return true, nil
}

// notifyReady tells a systemd that started hush with Type=notify that
// every listener is bound and served, so units ordered after hush (and
// nss-lookup.target) start only once queries can be answered. A failure
// is printed, not returned: hush serves all the same, and systemd,
// which waits for READY=1, says why it gave up.
func notifyReady(stderr io.Writer) {
	if _, err := sdNotify("READY=1"); err != nil {
		fmt.Fprintf(stderr, "hush: %v\n", err)
	}
}
