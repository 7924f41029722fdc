//go:build nohttp

package main

import (
	"context"
	"errors"

	"github.com/miekg/dns"
)

// httpsExchanger in a nohttp build: unreachable, as https:// servers are
// refused when --server is parsed (endpoint.go).
type httpsExchanger struct{}

func newHTTPSExchanger(queryOptions) *httpsExchanger { return &httpsExchanger{} }

func (x *httpsExchanger) exchange(context.Context, *dns.Msg) (*queryResult, error) {
	return nil, errors.New("DNS over HTTPS is not in this build (built with -tags nohttp)")
}
