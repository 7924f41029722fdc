//go:build !unix

package main

import (
	"errors"
	"os"
)

// inheritedFile: socket activation is systemd's, on Linux.
func inheritedFile(fd int) (*os.File, bool, error) {
	return nil, false, errors.New("socket activation is not supported on this system")
}
