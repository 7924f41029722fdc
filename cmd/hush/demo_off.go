//go:build nodemo

package main

import (
	"context"
	"errors"
	"io"
)

// demoBuilt: this build has no hush demo.
const demoBuilt = false

// runDemo in a build without the demo (-tags nodemo, the router builds of
// `make cross`): the simulated internet and its signing code are the
// biggest part of the binary a router does not need.
func runDemo(ctx context.Context, stdout, stderr io.Writer) error {
	return errors.New("demo: not in this build (built with -tags nodemo); run `hush demo` from a full build")
}
