package transport

import (
	"container/heap"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Pressure levels of connSlots: from half the slots taken, and again from
// three quarters, the idle and handshake timeouts shrink by these factors
// (Unbound shrinks its tcp-idle-timeout the same way, by 100 and 500),
// down to the floors below.
const (
	pressureShrink     = 8
	highPressureShrink = 64

	// minPressureIdle is the shortest idle timeout pressure gives a
	// connection that has asked something (Unbound's 200 ms floor).
	minPressureIdle = 200 * time.Millisecond
	// minPressureFresh is the shortest time pressure gives a new
	// connection to finish its handshake and ask its first question:
	// a few round trips of a slow mobile link.
	minPressureFresh = time.Second

	// maxReapVisits bounds the work of one acquire on the queues, so
	// that the accept loop never walks all connections under the lock.
	maxReapVisits = 32
)

// connSlots holds the open connections of one connection-oriented server
// (TCP, DoT, DoH, DoQ), counted in total (MaxConns) and per client
// (MaxConnsPerClient, a client being an IPv4 address or an IPv6 /64), so
// that no attacker can keep a real client out by holding the slots:
//
//   - when all MaxConns are taken, a new connection does not get refused:
//     the connection that has been idle the longest is closed instead.
//     A connection is idle from its accept, from the last question it
//     asked and from the last answer it got, and not while a query of
//     its own is in flight, which is never closed for room. So the
//     connections that never sent a whole query (a TLS handshake never
//     started, a header trickled a byte at a time) go first, in the order
//     they came, and a client that asks real questions gets in and stays;
//   - from half the slots taken on, and more from three quarters, the
//     idle timeout and the time a new connection has to ask its first
//     question shrink (see pressureShrink), and a new connection
//     closes the ones past them, as Unbound's tcp-idle-timeout adapts to
//     load. This frees slots while there are still some, so that the pool
//     is rarely full.
//
// Only the per-client cap and a pool of connections that all have queries
// in flight refuse a new one.
//
// One mutex guards the counts and the queues; it is taken when a
// connection comes, asks its first question and goes, never per query
// after that: a query records its connection's activity with atomics.
// The queues are heaps keyed by the activity they last saw, a key that
// only grows: when the head turns out to have been active since, its key
// is raised and the next head looked at, so that the one found is truly
// the least recently active, at O(log n) per connection and per look.
type connSlots struct {
	max, perClient int    // mu guards
	ev             Events // nil: nobody counts
	// idle and fresh are the unshrunk timeouts: the idle timeout of a
	// connection that asked something, and the time a new one has to
	// ask its first question (handshake included).
	idle, fresh time.Duration
	// epoch is the origin of the times kept in slots: monotonic
	// nanoseconds since, so that a time fits an atomic int64.
	epoch time.Time
	// now is the clock, in nanoseconds since epoch; tests replace it.
	now func() int64

	evicted atomic.Int64 // closed to make room when full
	reaped  atomic.Int64 // closed past a timeout shrunk by pressure

	mu       sync.Mutex
	total    int                  // mu guards
	byClient map[netip.Prefix]int // mu guards
	newQ     slotQueue            // mu guards; never asked anything
	idleQ    slotQueue            // mu guards; asked at least once
}

// newConnSlots returns slots for max connections in all and perClient per
// client. idle is the idle timeout of a connection that asked something,
// fresh the time a new one has to ask its first question; both only
// matter under pressure, when they shrink.
func newConnSlots(max, perClient int, idle, fresh time.Duration) *connSlots {
	t := &connSlots{
		max:       max,
		perClient: perClient,
		idle:      idle,
		fresh:     fresh,
		epoch:     time.Now(),
		byClient:  make(map[netip.Prefix]int),
	}
	t.now = func() int64 { return int64(time.Since(t.epoch)) }
	return t
}

// setLimits replaces the caps. Connections already over them stay.
func (t *connSlots) setLimits(max, perClient int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.max, t.perClient = max, perClient
}

// slot is one connection's place in a connSlots. The connection reports
// its activity with seen, hold and done, and gives the slot back with
// release; the slots may close it first by calling evict.
type slot struct {
	t      *connSlots
	client netip.Prefix
	// evict closes the connection; it must not block (close the socket,
	// not a TLS session, which would write an alert).
	evict func()

	// last is when the connection was last active (ns since epoch),
	// 0 if it never asked anything.
	last atomic.Int64
	// busy counts the connection's queries in flight.
	busy atomic.Int32

	// mu of t guards the rest.
	q     *slotQueue // the queue the slot is in; nil once gone
	idx   int        // its index in q
	since int64      // when it was last known active (q's key)
	gone  bool       // released or evicted
}

// acquire takes a slot for a connection from a, whose evict closes it.
// It closes connections past their pressure timeouts, and when all slots
// are taken the one idle the longest, to make room. It reports false when
// a's cap is reached or when every connection has a query in flight.
func (t *connSlots) acquire(a netip.Addr, evict func()) (*slot, bool) {
	k := clientKey(a)
	now := t.now()
	var victims [maxReapVisits + 1]*slot
	n := 0
	t.mu.Lock()
	if t.byClient[k] >= t.perClient {
		t.limitedLocked()
		t.mu.Unlock()
		return nil, false
	}
	n = t.reapLocked(now, victims[:0])
	if t.total >= t.max {
		v := t.oldestIdleLocked(now)
		if v == nil {
			t.limitedLocked()
			t.mu.Unlock()
			t.closeAll(victims[:n])
			return nil, false
		}
		t.dropLocked(v)
		victims[n] = v
		n++
		t.evicted.Add(1)
	}
	s := &slot{t: t, client: k, evict: evict}
	t.total++
	t.byClient[k]++
	t.newQ.push(s, now)
	if t.ev != nil {
		t.ev.ConnOpened()
	}
	t.mu.Unlock()
	t.closeAll(victims[:n])
	return s, true
}

func (t *connSlots) limitedLocked() {
	if t.ev != nil {
		t.ev.Limited()
	}
}

// withEvents has t report to ev (which may be nil) and returns t: a
// connection that gets a slot is opened, one that gives it back or is
// closed to make room is closed, one refused is limited.
func (t *connSlots) withEvents(ev Events) *connSlots {
	t.ev = ev
	return t
}

func (t *connSlots) closeAll(vs []*slot) {
	for _, v := range vs {
		v.evict()
	}
}

// timeoutsLocked returns the idle and fresh timeouts at the current load, 0
// when there is no pressure.
func (t *connSlots) timeoutsLocked() (idle, fresh time.Duration) {
	var shrink time.Duration
	switch {
	case 4*t.total >= 3*t.max:
		shrink = highPressureShrink
	case 2*t.total >= t.max:
		shrink = pressureShrink
	default:
		return 0, 0
	}
	return max(t.idle/shrink, minPressureIdle), max(t.fresh/shrink, minPressureFresh)
}

// reapLocked closes (appends to vs, for the caller to evict) the
// connections past the timeouts of the current pressure, visiting at most
// maxReapVisits of them.
func (t *connSlots) reapLocked(now int64, vs []*slot) int {
	idle, fresh := t.timeoutsLocked()
	if idle == 0 {
		return 0
	}
	visits := maxReapVisits
	for _, qt := range [...]struct {
		q *slotQueue
		d time.Duration
	}{{&t.newQ, fresh}, {&t.idleQ, idle}} {
		cutoff := now - int64(qt.d)
		for visits > 0 {
			s := qt.q.head()
			if s == nil || s.since >= cutoff {
				break
			}
			visits--
			if t.requeueLocked(s, now) {
				continue
			}
			t.dropLocked(s)
			vs = append(vs, s)
			t.reaped.Add(1)
		}
	}
	return len(vs)
}

// oldestIdleLocked returns the connection idle the longest, or nil if
// every connection it visits has a query in flight.
func (t *connSlots) oldestIdleLocked(now int64) *slot {
	for range maxReapVisits {
		s := t.newQ.head()
		if o := t.idleQ.head(); s == nil || (o != nil && o.since < s.since) {
			s = o
		}
		if s == nil {
			return nil
		}
		if !t.requeueLocked(s, now) {
			return s
		}
	}
	return nil
}

// requeueLocked raises s's key in the queue it belongs in, and reports
// true, if it was active since it was queued or has a query in flight.
func (t *connSlots) requeueLocked(s *slot, now int64) bool {
	last := s.last.Load()
	busy := s.busy.Load() > 0
	if last <= s.since && !busy {
		return false
	}
	at := last
	if busy {
		// Active now: not a candidate until it has been idle again.
		at = now
	}
	if s.q == &t.idleQ || last == 0 {
		s.since = at
		heap.Fix(s.q, s.idx)
		return true
	}
	s.q.remove(s)
	t.idleQ.push(s, at)
	return true
}

// dropLocked takes s out of the counts and queues.
func (t *connSlots) dropLocked(s *slot) {
	s.gone = true
	s.q.remove(s)
	s.q = nil
	t.total--
	if t.ev != nil {
		t.ev.ConnClosed()
	}
	if n := t.byClient[s.client] - 1; n > 0 {
		t.byClient[s.client] = n
	} else {
		delete(t.byClient, s.client)
	}
}

// seen records that the connection asked a question, or got an answer.
// The first time, it moves the slot to the queue of those that asked.
func (s *slot) seen() {
	now := max(s.t.now(), 1)
	if s.last.Swap(now) == 0 {
		s.t.asked(s, now)
	}
}

// asked moves s to idleQ, once it has asked something.
func (t *connSlots) asked(s *slot, now int64) {
	t.mu.Lock()
	if !s.gone && s.q == &t.newQ {
		s.q.remove(s)
		t.idleQ.push(s, now)
	}
	t.mu.Unlock()
}

// hold records a query in flight: the connection is not idle until done.
func (s *slot) hold() {
	s.busy.Add(1)
	s.seen()
}

// done ends a query of hold.
func (s *slot) done() {
	s.seen()
	s.busy.Add(-1)
}

// release gives the slot back when the connection ends. It may be called
// more than once, and after the slots evicted the connection.
func (s *slot) release() {
	t := s.t
	t.mu.Lock()
	if !s.gone {
		t.dropLocked(s)
	}
	t.mu.Unlock()
}

// open reports the connections counted, for tests.
func (t *connSlots) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// slotQueue is a min-heap of slots by since: the head is the one idle
// the longest, as far as the queue knows.
type slotQueue []*slot

func (q slotQueue) Len() int           { return len(q) }
func (q slotQueue) Less(i, j int) bool { return q[i].since < q[j].since }
func (q slotQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx = i
	q[j].idx = j
}

func (q *slotQueue) Push(x any) {
	s := x.(*slot)
	s.idx = len(*q)
	*q = append(*q, s)
}

func (q *slotQueue) Pop() any {
	old := *q
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return s
}

// head returns the slot with the smallest since, or nil.
func (q slotQueue) head() *slot {
	if len(q) == 0 {
		return nil
	}
	return q[0]
}

func (q *slotQueue) push(s *slot, since int64) {
	s.q = q
	s.since = since
	heap.Push(q, s)
}

func (q *slotQueue) remove(s *slot) { heap.Remove(q, s.idx) }
