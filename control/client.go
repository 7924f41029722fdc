package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// DefaultSocket is the control socket path of the packages (systemd's
// RuntimeDirectory=hush, OpenWRT's /var/run).
const DefaultSocket = "/run/hush/control.sock"

// ErrRemote is matched (errors.Is) by the errors hush reported for a
// request, as opposed to failing to reach it.
var ErrRemote = errors.New("error reported by hush")

// remoteError is hush's one-line reason, shown as it is.
type remoteError struct{ reason string }

func (e *remoteError) Error() string        { return e.reason }
func (e *remoteError) Is(target error) bool { return target == ErrRemote }

// Do sends one request (a verb and its arguments, as words) to the
// control socket at path and returns the output. An error reported by
// hush wraps ErrRemote and holds hush's one-line reason. Do waits no
// longer than ctx allows, and at most RunTimeout plus a little when ctx
// has no deadline.
func Do(ctx context.Context, path string, words []string) (string, error) {
	for _, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\r\n") {
			return "", usage("argument %q is empty or holds a space or newline", w)
		}
	}
	line := strings.Join(words, " ") + "\n"
	if len(line) > MaxLine {
		return "", usage("request longer than %d octets", MaxLine)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, RunTimeout+10*time.Second)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("control: is hush serving --control-socket %s? %w", path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	// A server that refuses the request (busy, not the owner) answers
	// and closes without reading it, so a failed write may still have an
	// answer waiting: read it before blaming the write.
	_, werr := io.WriteString(c, line)
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		if werr != nil {
			return "", fmt.Errorf("control: sending request: %w", werr)
		}
		return "", fmt.Errorf("control: reading answer: %w", err)
	}
	status = strings.TrimSuffix(status, "\n")
	if reason, ok := strings.CutPrefix(status, "error: "); ok {
		return "", &remoteError{reason: reason}
	}
	if status != "ok" {
		return "", fmt.Errorf("control: unexpected answer %q", status)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return string(out), fmt.Errorf("control: reading answer: %w", err)
	}
	return string(out), nil
}
