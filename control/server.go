package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Limits of the server. A control client is the operator, but the socket
// is still an input: nothing it sends may hold hush's resources for long.
const (
	// MaxLine is the longest request line.
	MaxLine = 1024
	// MaxConns is how many requests are served at once; more are told
	// "busy".
	MaxConns = 8
	// ReadTimeout bounds the wait for the request line.
	ReadTimeout = 5 * time.Second
	// RunTimeout bounds a verb's work (a reload that reads a million-name
	// blocklist takes seconds).
	RunTimeout = 2 * time.Minute
)

// Server serves the control protocol for a Backend.
type Server struct {
	backend Backend
	now     func() time.Time

	sem  chan struct{}
	wg   sync.WaitGroup
	base context.Context
	stop context.CancelFunc

	// mu guards lns, conns and closed.
	mu     sync.Mutex
	lns    map[net.Listener]bool
	conns  map[net.Conn]bool
	closed bool
}

// NewServer returns a Server for b. now is the clock NTA expiries count
// from (nil means time.Now).
func NewServer(b Backend, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	base, stop := context.WithCancel(context.Background())
	return &Server{
		backend: b, now: now, sem: make(chan struct{}, MaxConns),
		base: base, stop: stop,
		lns: make(map[net.Listener]bool), conns: make(map[net.Conn]bool),
	}
}

// ErrInUse is returned by Listen when another process serves the socket.
var ErrInUse = errors.New("control socket in use by another process")

// Listen creates the Unix socket at path, readable and writable by its
// owner only. A socket file left by a process that is gone is replaced; a
// live one (ErrInUse) or any other kind of file is an error. The socket is
// bound inside a fresh directory of mode 0700, given mode 0600 and only
// then renamed to path, so there is no moment at which another user could
// connect (narrowing the umask instead would touch every goroutine's
// files). Closing the listener removes the socket file.
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control: %s: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: removing stale socket: %w", err)
		}
	}
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	return ln, nil
}

func listenPrivate(path string) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".hush-control-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, err
	}
	return &socketListener{Listener: ln, path: path}, nil
}

// socketListener removes its socket file when closed.
type socketListener struct {
	net.Listener
	path string
	once sync.Once
}

func (l *socketListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("control: server closed")

// Serve accepts connections on ln until Shutdown, serving one request on
// each. It always returns a non-nil error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns[ln] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("control: accept: %w", err)
		}
		if !s.track(c) {
			c.Close()
			return ErrServerClosed
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.serveConn(c)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = true
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) serveConn(c net.Conn) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		reply(c, "", errors.New("busy: too many control requests at once"))
		return
	}
	if !peerAllowed(c) {
		reply(c, "", errors.New("permission denied: not the owner of the socket"))
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(ReadTimeout))
	r := bufio.NewReaderSize(c, MaxLine+1)
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			reply(c, "", usage("request longer than %d octets", MaxLine))
		}
		return
	}
	req, err := parse(strings.Fields(string(line)), s.now())
	if err != nil {
		reply(c, "", err)
		return
	}
	ctx, cancel := context.WithTimeout(s.base, RunTimeout)
	defer cancel()
	out, err := run(ctx, s.backend, req)
	reply(c, out, err)
}

// reply writes the status line and the output. Errors are flattened to
// one line: the client prints them as they are.
func reply(c net.Conn, out string, err error) {
	_ = c.SetWriteDeadline(time.Now().Add(ReadTimeout))
	if err != nil {
		_, _ = fmt.Fprintf(c, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	_, _ = fmt.Fprintf(c, "ok\n%s", out)
}

// Shutdown stops accepting, cancels the context of the requests being
// served and waits for them to finish or for ctx to be done, when it closes
// their connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.stop()
		return nil
	case <-ctx.Done():
	}
	s.stop()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}
