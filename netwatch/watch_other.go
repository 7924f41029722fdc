//go:build !linux

package netwatch

import "context"

func watch(context.Context, chan<- struct{}, func()) error { return ErrUnsupported }
