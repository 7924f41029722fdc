package transport

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// lifecycle is what every server shares between Serve and Shutdown: the
// sockets, listeners and connections it serves, the flag Shutdown sets, the
// count of the work Shutdown waits for, and the base context of the
// handlers. UDPServer, TCPServer (and so TLSServer), DoQServer and
// DoHServer each hold one; they differ only in what their members are and
// in what they do around shutdown.
type lifecycle struct {
	// base is the parent of every handler context. It lives as long as
	// the server, which is why it is kept here (the rule against contexts
	// in structs is about request scope); Shutdown cancels it when it
	// ends, early if its own ctx runs out.
	base       context.Context
	cancelBase context.CancelFunc

	// closing is set once Shutdown starts; the serving loops read it
	// without a lock.
	closing atomic.Bool
	// stopping is closed when closing is set, for those who must select
	// on it.
	stopping chan struct{}

	// active counts the work Shutdown waits for: readers, connections,
	// handler goroutines, HTTP requests. drained is closed (once, by
	// drain) when closing is set and active is 0. An atomic count rather
	// than a sync.WaitGroup, because work may still enter after Shutdown
	// has started waiting (an HTTP/2 stream already on its way).
	active    atomic.Int64
	drained   chan struct{}
	drainOnce sync.Once

	mu        sync.Mutex
	listeners map[member]struct{} // mu guards; sockets and listeners served
	conns     map[member]struct{} // mu guards; connections served
}

// member is a socket, listener or connection a server serves, as
// Shutdown sees it.
type member interface {
	// stop is called when Shutdown starts: take no new work (stop
	// reading, stop accepting); the work in flight goes on.
	stop()
	// close releases it. Shutdown calls it at its end on every socket
	// and listener, and on the connections still open only when its ctx
	// ran out first.
	close()
}

func newLifecycle() *lifecycle {
	l := &lifecycle{
		stopping:  make(chan struct{}),
		drained:   make(chan struct{}),
		listeners: make(map[member]struct{}),
		conns:     make(map[member]struct{}),
	}
	l.base, l.cancelBase = context.WithCancel(context.Background())
	return l
}

// addListener registers a socket or listener for Shutdown, and when
// counted is true also counts one piece of work (the caller's reader loop,
// which must call leave). It reports false, registering nothing, once
// Shutdown has started.
func (l *lifecycle) addListener(m member, counted bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.listeners[m] = struct{}{}
	if counted {
		l.active.Add(1)
	}
	return true
}

// removeListener forgets a listener that stopped serving by itself.
func (l *lifecycle) removeListener(m member) {
	l.mu.Lock()
	delete(l.listeners, m)
	l.mu.Unlock()
}

// addConn registers a connection and counts it as work; the caller must
// call removeConn and then leave when it ends. It reports false,
// registering nothing, once Shutdown has started.
func (l *lifecycle) addConn(m member) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.conns[m] = struct{}{}
	l.active.Add(1)
	return true
}

// removeConn forgets a connection. It does not leave: the caller does
// that once the connection's last work is done.
func (l *lifecycle) removeConn(m member) {
	l.mu.Lock()
	delete(l.conns, m)
	l.mu.Unlock()
}

// enter counts one piece of work; leave ends it. Work that enters after
// Shutdown started is counted but may not be waited for.
func (l *lifecycle) enter() { l.active.Add(1) }

func (l *lifecycle) leave() {
	if l.active.Add(-1) == 0 && l.closing.Load() {
		l.drain()
	}
}

func (l *lifecycle) drain() { l.drainOnce.Do(func() { close(l.drained) }) }

// begin starts a Shutdown: it sets closing and stops every member. It may
// be called more than once.
func (l *lifecycle) begin() {
	l.mu.Lock()
	if !l.closing.Load() {
		l.closing.Store(true)
		close(l.stopping)
	}
	for m := range l.listeners {
		m.stop()
	}
	for m := range l.conns {
		m.stop()
	}
	l.mu.Unlock()
	if l.active.Load() == 0 {
		l.drain()
	}
}

// wait waits for the work counted to end, or for ctx, and returns ctx's
// error in the latter case.
func (l *lifecycle) wait(ctx context.Context) error {
	select {
	case <-l.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end finishes a Shutdown: it cancels the base context, closes the
// connections still open if aborted, and then every socket and listener.
func (l *lifecycle) end(aborted bool) {
	l.cancelBase()
	l.mu.Lock()
	if aborted {
		for m := range l.conns {
			m.close()
		}
	}
	listeners := l.listeners
	l.listeners = make(map[member]struct{})
	l.mu.Unlock()
	// Connections first: closing a QUIC transport would drop its
	// connections without telling the peers.
	for m := range listeners {
		m.close()
	}
}

// shutdown is the Shutdown of the servers that need nothing more: stop
// every member, wait for the work in flight or ctx, then end.
func (l *lifecycle) shutdown(ctx context.Context) error {
	l.begin()
	err := l.wait(ctx)
	l.end(err != nil)
	if err != nil {
		return fmt.Errorf("transport: shutdown: %w", err)
	}
	return nil
}

// aLongTimeAgo is a deadline in the past, which makes blocked reads return
// at once.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }

// nextBackoff paces retries after socket errors that do not close the
// socket (ENOBUFS, EMFILE), so that a persistent error does not spin.
func nextBackoff(d time.Duration) time.Duration {
	const lo, hi = 5 * time.Millisecond, time.Second
	if d == 0 {
		return lo
	}
	return min(2*d, hi)
}
