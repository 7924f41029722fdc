//go:build noquic

package main

import (
	"context"
	"errors"

	"github.com/miekg/dns"
)

// quicExchanger in a noquic build: unreachable, as quic:// servers are
// refused when --server is parsed (endpoint.go).
type quicExchanger struct{}

func newQUICExchanger(queryOptions) *quicExchanger { return &quicExchanger{} }

func (x *quicExchanger) exchange(context.Context, *dns.Msg) (*queryResult, error) {
	return nil, errors.New("DNS over QUIC is not in this build (built with -tags noquic)")
}
