package filter

import (
	"errors"
	"fmt"
	"math/bits"
)

// Action is what a rule does with a query name.
type Action uint8

// The actions, weakest first: when two rules name the same name (both
// exact or both wildcard), the stronger action wins, so local data and
// exceptions (passthru, AdBlock @@) beat blocks whatever the load order.
const (
	None Action = iota
	// Block answers as Options.Mode says, with Options.EDE.
	Block
	// NXDomain answers NXDOMAIN (RPZ "CNAME .").
	NXDomain
	// NoData answers NOERROR with no records (RPZ "CNAME *.").
	NoData
	// Passthru resolves the name as if no rule matched (RPZ
	// "CNAME rpz-passthru.", AdBlock "@@||name^").
	Passthru
	// Local answers from the rule's records.
	Local
)

var actionNames = [...]string{"none", "block", "nxdomain", "nodata", "passthru", "local"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action%d", a)
}

func (a Action) rank() int {
	switch a {
	case NXDomain, NoData:
		return 2 // explicit RPZ verdicts rank together; the first wins
	case Passthru:
		return 3
	case Local:
		return 4
	}
	return int(a)
}

// maxName is the longest name the table holds, without the root's dot
// (RFC 1035 §2.3.4: 255 octets on the wire is 253 in presentation form).
const maxName = 253

// entry is one name: its place in the arena and its two rules, one for
// the name itself and one for the names below it.
type entry struct {
	off   uint32 // into table.arena
	n     uint8  // length of the name
	exact Action // rule for the name itself
	wild  Action // rule for every name below it (*.name)
}

// table is an open-addressing hash set of lowercase names without the
// trailing dot. A slot holds the upper 32 bits of the name's hash (a tag
// that saves most arena comparisons) and the entry index plus one; zero is
// an empty slot. Slots are at most half full, so probe chains are short.
type table struct {
	arena   []byte
	entries []entry
	slots   []uint64
	mask    uint64
}

var errTooMany = errors.New("filter: more than 2^31 names")

// lowerTab maps ASCII upper case to lower case and everything else to
// itself, so that hashing and comparing need no copy of the name.
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fmix is MurmurHash3's finaliser: FNV-1a alone spreads the low bits
// (the slot index) poorly for names that differ in their first byte.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// hashName hashes name from its last byte to its first, ignoring ASCII
// case: the same order Match uses, so that the hash of every suffix falls
// out of one pass over a query name.
func hashName[S ~string | ~[]byte](name S) uint64 {
	h := uint64(fnvOffset)
	for i := len(name) - 1; i >= 0; i-- {
		h = (h ^ uint64(lowerTab[name[i]])) * fnvPrime
	}
	return fmix(h)
}

// equal reports whether the entry's name equals name, ignoring the case of
// name (the arena is lower case already).
func (t *table) equal(e entry, name string) bool {
	if int(e.n) != len(name) {
		return false
	}
	stored := t.arena[e.off : e.off+uint32(e.n)]
	for i := range len(name) {
		if lowerTab[name[i]] != stored[i] {
			return false
		}
	}
	return true
}

// find returns the index of name's entry, or -1. h is hashName(name).
func (t *table) find(name string, h uint64) int {
	if t.slots == nil {
		return -1
	}
	tag := h >> 32
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if s>>32 == tag {
			idx := int(uint32(s)) - 1
			if t.equal(t.entries[idx], name) {
				return idx
			}
		}
	}
}

// insert returns the index of name's entry, adding it if new. name must be
// lower case, without the trailing dot, and at most maxName long.
func (t *table) insert(name []byte) (int, error) {
	if 2*(len(t.entries)+1) > len(t.slots) {
		if err := t.rehash(max(len(t.slots)*2, 1024)); err != nil {
			return 0, err
		}
	}
	h := hashName(name)
	tag := h >> 32
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			if uint64(len(t.arena))+uint64(len(name)) > 1<<32-1 {
				return 0, errTooMany
			}
			t.entries = append(t.entries, entry{off: uint32(len(t.arena)), n: uint8(len(name))})
			t.arena = append(t.arena, name...)
			t.slots[i] = tag<<32 | uint64(len(t.entries))
			return len(t.entries) - 1, nil
		}
		if s>>32 == tag {
			idx := int(uint32(s)) - 1
			if t.equal(t.entries[idx], string(name)) {
				return idx, nil
			}
		}
	}
}

// rehash rebuilds the slots with n of them (a power of two).
func (t *table) rehash(n int) error {
	if uint64(n) > 1<<32 {
		return errTooMany
	}
	t.slots = make([]uint64, n)
	t.mask = uint64(n - 1)
	for idx, e := range t.entries {
		h := hashName(t.arena[e.off : e.off+uint32(e.n)])
		i := h & t.mask
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = h>>32<<32 | uint64(idx+1)
	}
	return nil
}

// compact copies the arena and entries into slices of exactly their
// length, giving back what append's doubling reserved, and shrinks the
// slots if the table was built bigger than it needs.
func (t *table) compact() {
	t.arena = append([]byte(nil), t.arena...)
	t.entries = append([]entry(nil), t.entries...)
	want := 1 << bits.Len(uint(2*len(t.entries)))
	if want < len(t.slots) && len(t.entries) > 0 {
		_ = t.rehash(want) // smaller than before, so within bounds
	}
}

// bytes is the memory the table holds, in bytes.
func (t *table) bytes() int {
	return cap(t.arena) + cap(t.entries)*8 + cap(t.slots)*8
}
