package cache

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// TestLRUDifferential runs the same random operations on an lru and on
// golang-lru's simplelru.LRU, which Sharded used before, and wants the same
// results, the same evictions (through the callbacks) and the same order.
func TestLRUDifferential(t *testing.T) {
	for _, size := range []int{1, 2, 7, 64} {
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		var gotEv, wantEv []int
		l := newLRU(size, func(k, v int) { gotEv = append(gotEv, k, v) })
		ref, err := simplelru.NewLRU(size, func(k, v int) { wantEv = append(wantEv, k, v) })
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20000 {
			k, v := rng.IntN(3*size+2), rng.Int()
			switch op := rng.IntN(10); op {
			case 0, 1, 2, 3:
				if got, want := l.Add(k, v), ref.Add(k, v); got != want {
					t.Fatalf("size %d op %d: Add(%d) = %v, want %v", size, i, k, got, want)
				}
			case 4, 5:
				g, gok := l.Get(k)
				w, wok := ref.Get(k)
				if g != w || gok != wok {
					t.Fatalf("size %d op %d: Get(%d) = %d, %v, want %d, %v", size, i, k, g, gok, w, wok)
				}
			case 6:
				g, gok := l.Peek(k)
				w, wok := ref.Peek(k)
				if g != w || gok != wok {
					t.Fatalf("size %d op %d: Peek(%d) = %d, %v, want %d, %v", size, i, k, g, gok, w, wok)
				}
			case 7:
				if got, want := l.Remove(k), ref.Remove(k); got != want {
					t.Fatalf("size %d op %d: Remove(%d) = %v, want %v", size, i, k, got, want)
				}
			case 8:
				l.RemoveOldest()
				ref.RemoveOldest()
			case 9:
				if rng.IntN(50) == 0 {
					l.Purge()
					ref.Purge()
					// Purge's callbacks come in map order in simplelru.
					slices.Sort(gotEv)
					slices.Sort(wantEv)
				}
			}
			if l.Len() != ref.Len() || !slices.Equal(l.Keys(), ref.Keys()) {
				t.Fatalf("size %d op %d: keys %v, want %v", size, i, l.Keys(), ref.Keys())
			}
			if !slices.Equal(gotEv, wantEv) {
				t.Fatalf("size %d op %d: evictions %v, want %v", size, i, gotEv, wantEv)
			}
		}
	}
}

// TestLRUGetAllocs: a hit moves a node, it allocates nothing.
func TestLRUGetAllocs(t *testing.T) {
	l := newLRU[key, *entry](8, nil)
	k1, k2 := key{name: "a.example."}, key{name: "b.example."}
	l.Add(k1, &entry{})
	l.Add(k2, &entry{})
	if n := testing.AllocsPerRun(100, func() { l.Get(k1); l.Get(k2) }); n != 0 {
		t.Errorf("Get allocates %v times, want 0", n)
	}
}
