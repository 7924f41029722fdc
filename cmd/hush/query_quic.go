//go:build !noquic

package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// quicExchanger speaks DNS over QUIC (RFC 9250) on one new connection:
// one stream carrying the query, with message ID 0 (§4.2.1), and the
// client's FIN; one framed reply and the server's FIN. It checks the
// server's certificate as tlsExchanger does. It does not use 0-RTT: no
// session is kept across runs.
type quicExchanger struct {
	ep   endpoint
	conf *tls.Config
}

func newQUICExchanger(o queryOptions) *quicExchanger {
	return &quicExchanger{ep: o.server, conf: clientTLSConfig(o, transport.ALPNDoQ)}
}

func (x *quicExchanger) exchange(ctx context.Context, q *dns.Msg) (*queryResult, error) {
	// The wire ID is 0: the stream pairs the query with its reply.
	wire := *q
	wire.Id = 0
	packed, err := wire.Pack()
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	addr := net.JoinHostPort(x.ep.Host, strconv.Itoa(int(x.ep.Port)))
	start := time.Now()
	conn, err := quic.DialAddr(ctx, addr, x.conf, &quic.Config{})
	if err != nil {
		return nil, noResponse(x.ep, "QUIC", err)
	}
	defer conn.CloseWithError(transport.DoQNoError, "")
	proto := "QUIC, " + strings.ReplaceAll(tls.VersionName(conn.ConnectionState().TLS.Version), " ", "")
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		str.SetDeadline(dl)
	}
	frame := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(packed)), uint16(len(packed)))
	if _, err := str.Write(append(frame, packed...)); err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	str.Close()
	// Everything up to the server's FIN: one framed message, no more.
	all, err := io.ReadAll(io.LimitReader(str, 2+dns.MaxMsgSize+1))
	if err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	if len(all) < 2 || int(binary.BigEndian.Uint16(all)) != len(all)-2 {
		return nil, fmt.Errorf("query: malformed reply from %s: %w", x.ep, errNotOneMessage)
	}
	raw := all[2:]
	m, err := unpackReply(x.ep, raw, 0)
	if err != nil {
		return nil, err
	}
	return &queryResult{
		msg:    m,
		size:   len(raw),
		rtt:    time.Since(start),
		server: digServer(conn.RemoteAddr(), x.ep.Host),
		proto:  proto,
	}, nil
}

var errNotOneMessage = errors.New("not exactly one framed message on the stream")
