//go:build !noquic && !nohttp

package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3Client is the HTTP/3 side of a doh upstream.
type h3Client interface {
	// roundTrip sends req over HTTP/3; reused says whether a connection
	// was already there.
	roundTrip(req *http.Request) (resp *http.Response, reused bool, err error)
	Close() error
	CloseIdleConnections()
}

type h3Transport struct{ *http3.Transport }

func (t h3Transport) roundTrip(req *http.Request) (*http.Response, bool, error) {
	// An HTTP/3 connection already there counts as reused.
	resp, err := t.RoundTripOpt(req, http3.RoundTripOpt{OnlyCachedConn: true})
	if errors.Is(err, http3.ErrNoCachedConn) {
		resp, err = t.RoundTrip(req)
		return resp, false, err
	}
	return resp, true, err
}

// newH3 is u's HTTP/3 client, dialling on demand.
func newH3(u *doh, conf *tls.Config) h3Client {
	opts := u.opts
	return h3Transport{&http3.Transport{
		TLSClientConfig: conf.Clone(),
		QUICConfig: &quic.Config{
			MaxIdleTimeout:       opts.idle(),
			HandshakeIdleTimeout: 5 * time.Second,
		},
		DisableCompression: true,
		// As on HTTP/2: quic-go would take 10 MiB of headers per
		// response, which an upstream could make hush hold for every
		// query in flight.
		MaxResponseHeaderBytes: 16 << 10,
		Dial: func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			c, err := quic.DialAddrEarly(ctx, addr, tc, qc)
			if err == nil {
				u.dials.Add(1)
				if c.ConnectionState().TLS.DidResume {
					u.resumed.Add(1)
				}
			}
			return c, err
		},
	}}
}
