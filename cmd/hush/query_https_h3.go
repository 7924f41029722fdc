//go:build !noquic && !nohttp

package main

import (
	"context"
	"crypto/tls"
	"net/http"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

const nextProtoH3 = http3.NextProtoH3

// h3RoundTripper is roundTripper for --http3.
func (x *httpsExchanger) h3RoundTripper() (http.RoundTripper, func()) {
	tr := &http3.Transport{
		TLSClientConfig: x.conf,
		Dial: func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			c, err := quic.DialAddrEarly(ctx, addr, tc, qc)
			if err == nil {
				x.setRemote(c.RemoteAddr())
			}
			return c, err
		},
	}
	return tr, func() { tr.Close() }
}
