package transport

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// slotsUnderTest is a connSlots on a clock the test moves, with the
// connections it closed recorded by name.
type slotsUnderTest struct {
	t      *testing.T
	s      *connSlots
	clock  time.Duration
	slots  map[string]*slot
	closed []string
}

func newSlotsUnderTest(t *testing.T, max, perClient int, idle, fresh time.Duration) *slotsUnderTest {
	st := &slotsUnderTest{t: t, s: newConnSlots(max, perClient, idle, fresh), slots: make(map[string]*slot)}
	st.s.now = func() int64 { return int64(st.clock) }
	return st
}

// open takes a slot for connection name from client 192.0.2.<client>.
func (st *slotsUnderTest) open(name string, client byte) bool {
	sl, ok := st.s.acquire(netip.AddrFrom4([4]byte{192, 0, 2, client}), func() { st.closed = append(st.closed, name) })
	if ok {
		st.slots[name] = sl
	}
	return ok
}

// takeClosed returns the connections closed since the last call.
func (st *slotsUnderTest) takeClosed() []string {
	c := st.closed
	st.closed = nil
	return c
}

// TestConnSlots drives connSlots through the cases of its contract: who is
// closed to make room, who is never closed, when a new connection is
// refused, and how pressure shrinks the timeouts.
func TestConnSlots(t *testing.T) {
	type step struct {
		at     time.Duration
		do     string // open, seen, hold, done, release
		conn   string
		client byte
		// For open: whether it gets a slot and whom it closes.
		refused bool
		closes  []string
	}
	tests := []struct {
		name        string
		max, per    int
		idle, fresh time.Duration
		steps       []step
		open        int
	}{{
		name: "full: the one that never asked goes first, oldest first",
		max:  3, per: 10, idle: time.Hour, fresh: time.Hour,
		steps: []step{
			{at: 1, do: "open", conn: "a", client: 1},
			{at: 2, do: "open", conn: "b", client: 2},
			{at: 3, do: "open", conn: "c", client: 3},
			{at: 4, do: "seen", conn: "a"},
			{at: 5, do: "open", conn: "d", client: 4, closes: []string{"b"}},
			{at: 6, do: "open", conn: "e", client: 5, closes: []string{"c"}},
			// a asked at 4, before d and e came.
			{at: 7, do: "open", conn: "f", client: 6, closes: []string{"a"}},
		},
		open: 3,
	}, {
		name: "full: idle the longest, an answer counts as activity",
		max:  2, per: 10, idle: time.Hour, fresh: time.Hour,
		steps: []step{
			{at: 1, do: "open", conn: "a", client: 1},
			{at: 2, do: "open", conn: "b", client: 2},
			{at: 3, do: "hold", conn: "a"},
			{at: 4, do: "seen", conn: "b"},
			{at: 5, do: "done", conn: "a"},
			{at: 6, do: "open", conn: "c", client: 3, closes: []string{"b"}},
		},
		open: 2,
	}, {
		name: "full of queries in flight: refused, and nobody closed",
		max:  2, per: 10, idle: time.Hour, fresh: time.Hour,
		steps: []step{
			{at: 1, do: "open", conn: "a", client: 1},
			{at: 2, do: "open", conn: "b", client: 2},
			{at: 3, do: "hold", conn: "a"},
			{at: 4, do: "hold", conn: "b"},
			{at: 5, do: "open", conn: "c", client: 3, refused: true},
			{at: 6, do: "done", conn: "b"},
			{at: 7, do: "open", conn: "d", client: 3, closes: []string{"b"}},
		},
		open: 2,
	}, {
		name: "per-client cap refuses even with idle connections",
		max:  2, per: 1, idle: time.Hour, fresh: time.Hour,
		steps: []step{
			{at: 1, do: "open", conn: "a", client: 1},
			{at: 2, do: "open", conn: "b", client: 1, refused: true},
			{at: 3, do: "open", conn: "c", client: 2},
			// Full: c's client may take a's slot only below its cap.
			{at: 4, do: "open", conn: "d", client: 2, refused: true},
			{at: 5, do: "open", conn: "e", client: 3, closes: []string{"a"}},
		},
		open: 2,
	}, {
		name: "released and evicted slots count once",
		max:  2, per: 10, idle: time.Hour, fresh: time.Hour,
		steps: []step{
			{at: 1, do: "open", conn: "a", client: 1},
			{at: 2, do: "open", conn: "b", client: 2},
			{at: 3, do: "open", conn: "c", client: 3, closes: []string{"a"}},
			{at: 4, do: "release", conn: "a"},
			{at: 5, do: "release", conn: "b"},
			{at: 6, do: "release", conn: "b"},
			{at: 7, do: "open", conn: "d", client: 4},
		},
		open: 2,
	}, {
		name: "no pressure below half: timeouts as configured",
		max:  8, per: 10, idle: 8 * time.Second, fresh: 16 * time.Second,
		steps: []step{
			{at: 0, do: "open", conn: "a", client: 1},
			{at: 0, do: "open", conn: "b", client: 2},
			{at: 0, do: "open", conn: "c", client: 3},
			{at: time.Minute, do: "open", conn: "d", client: 4},
		},
		open: 4,
	}, {
		name: "from half on, timeouts shrink by 8",
		max:  8, per: 10, idle: 8 * time.Second, fresh: 16 * time.Second,
		steps: []step{
			{at: 0, do: "open", conn: "new", client: 1},
			{at: 0, do: "open", conn: "asked", client: 2},
			{at: 0, do: "open", conn: "busy", client: 3},
			{at: 1, do: "open", conn: "young", client: 4},
			{at: 1, do: "seen", conn: "asked"},
			{at: 1, do: "hold", conn: "busy"},
			// Idle 1 s + 1 ns: past 8 s / 8 for one that asked, not
			// past 16 s / 8 for one that never asked.
			{at: time.Second + 2, do: "open", conn: "e", client: 5, closes: []string{"asked"}},
			{at: 2*time.Second + 2, do: "open", conn: "f", client: 6, closes: []string{"new", "young"}},
		},
		open: 3,
	}, {
		name: "from three quarters on, by 64, down to the floors",
		max:  4, per: 10, idle: 8 * time.Second, fresh: 16 * time.Second,
		steps: []step{
			{at: 0, do: "open", conn: "a", client: 1},
			{at: 0, do: "open", conn: "b", client: 2},
			{at: 1, do: "open", conn: "c", client: 3},
			{at: 1, do: "seen", conn: "a"},
			{at: minPressureIdle + 2, do: "open", conn: "d", client: 4, closes: []string{"a"}},
			{at: minPressureFresh + 2, do: "open", conn: "e", client: 5, closes: []string{"b", "c"}},
		},
		open: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newSlotsUnderTest(t, tt.max, tt.per, tt.idle, tt.fresh)
			for i, s := range tt.steps {
				st.clock = s.at
				switch s.do {
				case "open":
					if got := st.open(s.conn, s.client); got == s.refused {
						t.Fatalf("step %d: open %s: got a slot %v; want %v", i, s.conn, got, !s.refused)
					}
					if got := st.takeClosed(); !slices.Equal(got, s.closes) {
						t.Fatalf("step %d: open %s closed %q; want %q", i, s.conn, got, s.closes)
					}
				case "seen":
					st.slots[s.conn].seen()
				case "hold":
					st.slots[s.conn].hold()
				case "done":
					st.slots[s.conn].done()
				case "release":
					st.slots[s.conn].release()
				}
			}
			if got := st.s.open(); got != tt.open {
				t.Errorf("open connections: got %d; want %d", got, tt.open)
			}
		})
	}
}

// BenchmarkSlotSeen is the per-query cost of a connection's slot on the
// cache-hit path: one atomic store.
func BenchmarkSlotSeen(b *testing.B) {
	s := newConnSlots(1000, 32, time.Second, time.Second)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		sl, ok := s.acquire(netip.AddrFrom4([4]byte{192, 0, 2, 1}), func() {})
		if !ok {
			b.Fatal("no slot")
		}
		for pb.Next() {
			sl.seen()
		}
		sl.release()
	})
}
