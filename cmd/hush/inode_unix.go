//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// inode returns a file's inode number, so that a pair replaced by rename
// with the same size and modification time still counts as changed.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
