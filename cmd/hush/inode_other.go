//go:build !unix

package main

import "io/fs"

// inode is 0 where the platform does not expose one; size and
// modification time still tell most changes.
func inode(fs.FileInfo) uint64 { return 0 }
