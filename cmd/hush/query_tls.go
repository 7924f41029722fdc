package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
)

// tlsExchanger speaks DNS over TLS (RFC 7858) on one new connection. It
// verifies the server's certificate against the system's roots and the
// server's host name or IP address, unless --insecure or --pin say
// otherwise; it does not reuse sessions across runs.
type tlsExchanger struct {
	ep   endpoint
	conf *tls.Config
}

func newTLSExchanger(o queryOptions) *tlsExchanger {
	return &tlsExchanger{ep: o.server, conf: clientTLSConfig(o, transport.ALPNDoT)}
}

// clientTLSConfig is the TLS configuration of the tls:// and quic://
// clients: the server's certificate checked against the system's roots
// and its name, unless --insecure or --pin say otherwise.
func clientTLSConfig(o queryOptions, alpn string) *tls.Config {
	conf := &tls.Config{
		ServerName: o.server.Host,
		NextProtos: []string{alpn},
		MinVersion: tls.VersionTLS12,
		RootCAs:    o.ca, // nil: the system's
	}
	switch {
	case o.pin != "":
		// The pin is the whole check: the chain and the name do not
		// matter (RFC 7858 §4.2, out-of-band key-pinned privacy profile).
		conf.InsecureSkipVerify = true
		pin := o.pin
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			if got := spkiPin(cs.PeerCertificates[0]); got != pin {
				return fmt.Errorf("certificate pin %s does not match --pin", got)
			}
			return nil
		}
	case o.insecure:
		conf.InsecureSkipVerify = true
	}
	return conf
}

func (x *tlsExchanger) exchange(ctx context.Context, q *dns.Msg) (*queryResult, error) {
	addr := net.JoinHostPort(x.ep.Host, strconv.Itoa(int(x.ep.Port)))
	d := &tls.Dialer{Config: x.conf}
	start := time.Now()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, noResponse(x.ep, "TLS", err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	tc := nc.(*tls.Conn)
	proto := strings.ReplaceAll(tls.VersionName(tc.ConnectionState().Version), " ", "")
	return exchangeConn(&dns.Conn{Conn: tc}, x.ep, proto, q, false, start)
}
