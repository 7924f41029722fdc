package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBackend records the calls it gets, one string per call.
type fakeBackend struct {
	mu      sync.Mutex
	calls   []string
	fail    error
	started chan struct{} // when set, Reload signals and waits on release
	release chan struct{}
}

func (f *fakeBackend) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.fail
}

func (f *fakeBackend) Status(context.Context) (Status, error) {
	return Status{Version: "v1.2.3", Uptime: 90*time.Minute + 400*time.Millisecond, ConfigFile: "/etc/hush.yaml",
		CacheEntries: 12, CacheBytes: 3456, Counters: []Counter{{"queries", 100}, {"cache-hits", 60}}}, f.record("status")
}
func (f *fakeBackend) Flush(_ context.Context, n string) error     { return f.record("flush " + n) }
func (f *fakeBackend) FlushZone(_ context.Context, n string) error { return f.record("flushzone " + n) }
func (f *fakeBackend) FlushAll(context.Context) error              { return f.record("flushall") }
func (f *fakeBackend) FlushInfra(context.Context) error            { return f.record("flushinfra") }
func (f *fakeBackend) Reload(ctx context.Context) error {
	if f.started != nil {
		f.started <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.record("reload")
}
func (f *fakeBackend) NTAAdd(_ context.Context, n string, until time.Time) error {
	return f.record("ntaadd " + n + " " + until.UTC().Format(time.RFC3339))
}
func (f *fakeBackend) NTARemove(_ context.Context, n string) error { return f.record("ntaremove " + n) }
func (f *fakeBackend) NTAList(context.Context) ([]NTA, error) {
	return []NTA{{"broken.example.", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}, f.record("ntalist")
}
func (f *fakeBackend) CacheStats(context.Context) (CacheStats, error) {
	return CacheStats{Entries: 12, Bytes: 3456, Capacity: 100000, Hits: 60, Misses: 40}, f.record("cachestats")
}

var testNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// start serves b on a socket in a temporary directory and returns its
// path; the server is shut down when the test ends.
func start(t *testing.T, b Backend) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(b, func() time.Time { return testNow })
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: got %v; want ErrServerClosed", err)
		}
	})
	return path
}

func (f *fakeBackend) PortalOpen(_ context.Context, p Portal) error {
	return f.record(fmt.Sprintf("portalopen %s %s %v", p.Resolver, p.Until.UTC().Format(time.RFC3339), p.Zones))
}
func (f *fakeBackend) PortalClose(context.Context) error { return f.record("portalclose") }

func TestVerbs(t *testing.T) {
	b := &fakeBackend{}
	path := start(t, b)
	for _, tc := range []struct {
		words    string
		wantOut  string
		wantCall string
		wantErr  string
	}{
		{"status", "version: v1.2.3\nuptime: 1h30m0s\nconfig: /etc/hush.yaml\ncache-entries: 12\ncache-bytes: 3456\nqueries: 100\ncache-hits: 60\n", "status", ""},
		{"flush Example.COM", "", "flush example.com.", ""},
		{"flush all.", "", "flush all.", ""},
		{"flush zone example.com.", "", "flushzone example.com.", ""},
		{"flush zone .", "", "flushzone .", ""},
		{"flush all", "", "flushall", ""},
		{"flush infra", "", "flushinfra", ""},
		{"reload", "", "reload", ""},
		{"nta add broken.example", "broken.example. until 2030-01-02T00:00:00Z\n", "ntaadd broken.example. 2030-01-02T00:00:00Z", ""},
		{"nta add broken.example 90m", "broken.example. until 2030-01-01T01:30:00Z\n", "ntaadd broken.example. 2030-01-01T01:30:00Z", ""},
		{"nta add broken.example 3d", "broken.example. until 2030-01-04T00:00:00Z\n", "ntaadd broken.example. 2030-01-04T00:00:00Z", ""},
		{"nta add broken.example 2030-01-05T00:00:00Z", "broken.example. until 2030-01-05T00:00:00Z\n", "ntaadd broken.example. 2030-01-05T00:00:00Z", ""},
		{"nta add broken.example 8d", "", "", "more than"},
		// 213504 days overflow time.Duration to about 25 minutes.
		{"nta add broken.example 213504d", "", "", "more than"},
		{"nta add broken.example -1h", "", "", "not in the future"},
		{"nta add broken.example 2029-01-01T00:00:00Z", "", "", "not in the future"},
		{"nta add broken.example soon", "", "", "want a duration"},
		{"nta remove broken.example", "", "ntaremove broken.example.", ""},
		{"nta list", "broken.example. until 2030-01-02T03:04:05Z\n", "ntalist", ""},
		{"cache stats", "entries: 12\nbytes: 3456\ncapacity-bytes: 100000\nhits: 60\nmisses: 40\n", "cachestats", ""},
		{"portal open 10.20.0.1", "portal window: every name to 10.20.0.1:53, unvalidated, until 2030-01-01T00:05:00Z\n", "portalopen 10.20.0.1:53 2030-01-01T00:05:00Z []", ""},
		{"portal open [fe80::1%wlan0]:53", "", "", "want the network's resolver"},
		{"portal open 192.168.1.1:5353 10m Portal.Example wifi.example.", "portal window: portal.example. wifi.example. to 192.168.1.1:5353, unvalidated, until 2030-01-01T00:10:00Z\n", "portalopen 192.168.1.1:5353 2030-01-01T00:10:00Z [portal.example. wifi.example.]", ""},
		{"portal open 10.20.0.1 31m", "", "", "at most 30m"},
		{"portal open 10.20.0.1 0s", "", "", "at most 30m"},
		{"portal open 0.0.0.0", "", "", "not a unicast"},
		{"portal open portal.example", "", "", "want the network's resolver"},
		{"portal open 10.20.0.1 a..b", "", "", "not a domain name"},
		{"portal open ::ffff:0.0.0.0", "", "", "not a unicast"},
		{"portal open 255.255.255.255", "", "", "not a unicast"},
		{"portal open 10.20.0.1:0", "", "", "not a unicast"},
		{"portal open fe80::1", "", "", "link-local"},
		{"portal open 10.20.0.1 5min", "", "", "want a duration"},
		{"portal open 10.20.0.1 10", "", "", "want a duration"},
		{"portal open 10.20.0.1 163.com", "portal window: 163.com. to 10.20.0.1:53, unvalidated, until 2030-01-01T00:05:00Z\n", "portalopen 10.20.0.1:53 2030-01-01T00:05:00Z [163.com.]", ""},
		{"portal open 10.20.0.1 2m a.example a.example. A.EXAMPLE", "portal window: a.example. to 10.20.0.1:53, unvalidated, until 2030-01-01T00:02:00Z\n", "portalopen 10.20.0.1:53 2030-01-01T00:02:00Z [a.example.]", ""},
		{"portal close", "", "portalclose", ""},
		{"portal", "", "", "verbs are"},
		{"dump_cache", "", "", "verbs are"},
		{"cache dump", "", "", "verbs are"},
		{"flush", "", "", "verbs are"},
		{"flush a..b", "", "", "not a domain name"},
		{"status now", "", "", "verbs are"},
	} {
		b.calls = nil
		out, err := Do(context.Background(), path, strings.Fields(tc.words))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.words, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrRemote)):
			t.Errorf("%q: got error %v; want a hush error containing %q", tc.words, err, tc.wantErr)
		}
		if out != tc.wantOut {
			t.Errorf("%q: got output %q; want %q", tc.words, out, tc.wantOut)
		}
		b.mu.Lock()
		calls := strings.Join(b.calls, ",")
		b.mu.Unlock()
		if calls != tc.wantCall {
			t.Errorf("%q: backend got %q; want %q", tc.words, calls, tc.wantCall)
		}
	}
}

func TestBackendErrorIsOneLine(t *testing.T) {
	b := &fakeBackend{fail: errors.New("config.yaml:3: unknown key \"cach-size\"\nmore detail")}
	path := start(t, b)
	_, err := Do(context.Background(), path, []string{"reload"})
	if err == nil || !errors.Is(err, ErrRemote) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "cach-size") {
		t.Errorf("got %v; want a one-line hush error naming the key", err)
	}
}

func TestClientRejectsBadWords(t *testing.T) {
	for _, words := range [][]string{{"flush", "a b"}, {"flush", "a\nreload"}, {"flush", ""}, {strings.Repeat("x", MaxLine+1)}} {
		if _, err := Do(context.Background(), "/nonexistent", words); !errors.Is(err, ErrUsage) {
			t.Errorf("Do(%q): got %v; want ErrUsage", words, err)
		}
	}
}

func TestLongLine(t *testing.T) {
	path := start(t, &fakeBackend{})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Repeat("x", 2*MaxLine) + "\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); !strings.HasPrefix(got, "error: usage: request longer") {
		t.Errorf("got %q; want a usage error", got)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctl.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode: got %v; want 0600", got)
	}
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Errorf("second Listen: got %v; want ErrInUse", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the socket", len(entries))
	}
	ln.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("after Close: socket file still there (%v)", err)
	}

	// A socket file left behind by a process that died is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()

	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(regular); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: got %v", err)
	}
}

func TestBusyAndShutdown(t *testing.T) {
	b := &fakeBackend{started: make(chan struct{}), release: make(chan struct{})}
	path := start(t, b)
	var wg sync.WaitGroup
	errs := make(chan error, MaxConns)
	for range MaxConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Do(context.Background(), path, []string{"reload"})
			errs <- err
		}()
		<-b.started
	}
	if _, err := Do(context.Background(), path, []string{"status"}); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("request %d: got %v; want busy", MaxConns+1, err)
	}
	close(b.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("reload: %v", err)
		}
	}
}

func TestShutdownCancelsWork(t *testing.T) {
	b := &fakeBackend{started: make(chan struct{}), release: make(chan struct{})}
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(b, nil)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	res := make(chan error, 1)
	go func() {
		_, err := Do(context.Background(), path, []string{"reload"})
		res <- err
	}()
	<-b.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace: the running reload is cancelled
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: got %v; want context.Canceled", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: got %v", err)
	}
	if err := <-res; err == nil {
		t.Errorf("reload during shutdown: got no error")
	}
}
