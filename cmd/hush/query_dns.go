package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsExchanger speaks plain DNS: UDP, then TCP when the reply is
// truncated, or TCP only. It does not retry a lost UDP query: --timeout
// bounds the whole exchange.
type dnsExchanger struct {
	ep       endpoint
	forceTCP bool
}

func (x *dnsExchanger) exchange(ctx context.Context, q *dns.Msg) (*queryResult, error) {
	if x.forceTCP {
		return x.once(ctx, "tcp", q)
	}
	res, err := x.once(ctx, "udp", q)
	if err != nil || !res.msg.Truncated {
		return res, err
	}
	res, err = x.once(ctx, "tcp", q)
	if err != nil {
		return nil, fmt.Errorf("retry over TCP after a truncated reply: %w", err)
	}
	res.retriedTCP = true
	return res, nil
}

// once sends q over network and reads the reply whose ID matches. Over
// UDP it skips datagrams with another ID (late replies to other queries,
// spoofing attempts), as dig does; over TCP a wrong ID is an error.
func (x *dnsExchanger) once(ctx context.Context, network string, q *dns.Msg) (*queryResult, error) {
	proto := strings.ToUpper(network)
	addr := net.JoinHostPort(x.ep.Host, strconv.Itoa(int(x.ep.Port)))
	c := &dns.Client{Net: network}
	start := time.Now()
	co, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	defer co.Close()
	if dl, ok := ctx.Deadline(); ok {
		co.SetDeadline(dl)
	}
	// Read buffer, not the size we advertise: a server that sends more
	// than asked for is shown, not cut off.
	co.UDPSize = dns.MaxMsgSize
	return exchangeConn(co, x.ep, proto, q, network == "udp", start)
}
