//go:build !linux

package netwatch

import "context"

func watch(context.Context, chan<- struct{}) error { return ErrUnsupported }
