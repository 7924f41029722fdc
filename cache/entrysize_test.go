package cache

import (
	"testing"
	"unsafe"
)

// TestEntrySize: an entry fits the allocator's 128-byte size class on
// 64-bit platforms; a field added or moved that pushes it to the next
// class (144) costs 16 bytes per cached entry.
func TestEntrySize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if got := unsafe.Sizeof(entry{}); got > 128 {
		t.Errorf("entry is %d bytes, want at most 128", got)
	}
}
