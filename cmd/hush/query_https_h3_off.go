//go:build noquic && !nohttp

package main

import (
	"errors"
	"net/http"
)

const nextProtoH3 = "h3"

// h3RoundTripper is unreachable in a noquic build: --http3 is refused
// when the options are read.
func (x *httpsExchanger) h3RoundTripper() (http.RoundTripper, func()) {
	return noH3{}, func() {}
}

type noH3 struct{}

func (noH3) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("HTTP/3 is not in this build (built with -tags noquic)")
}
