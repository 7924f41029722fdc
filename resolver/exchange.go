package resolver

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Exchanger is the resolver's one outbound seam: it sends a query to an
// authoritative server and returns what came back. The real one uses the
// network (NetExchanger); tests use resolvertest's simulated internet.
//
// network is "udp" or "tcp". Exchange does not retry a failed query, does
// not fall back to TCP on truncation, and does not check that the reply
// matches the query: the resolver does all three, so that they behave the
// same over every Exchanger.
type Exchanger interface {
	Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error)
}

// NetExchanger is the Exchanger that uses the network. Each UDP query goes
// out on a fresh connected socket, so the kernel picks a random source port
// and drops datagrams from any other address; replies whose ID or question
// do not match are ignored while the wait goes on, so a spoofed datagram
// cannot end the exchange.
type NetExchanger struct {
	// Dialer sets the local address and control hooks; nil means the zero
	// net.Dialer.
	Dialer *net.Dialer
}

// maxUDPReply bounds the datagram NetExchanger reads. hush advertises
// 1232 bytes; a server that ignores that and sends more than this gets its
// reply treated as truncated, so the query goes to TCP, and an in-flight
// query holds little memory.
const maxUDPReply = 4096

var udpBufPool = sync.Pool{New: func() any { b := make([]byte, maxUDPReply); return &b }}

// queryBufPool holds the buffers queries are packed into: one question
// and an OPT fit; a larger query (padded, say) gets a buffer of its own.
var queryBufPool = sync.Pool{New: func() any { b := make([]byte, 512); return &b }}

// zeroDialer is the net.Dialer of a NetExchanger without one: a plain
// socket, which dialUDP opens without a Dialer's address parsing.
var zeroDialer net.Dialer

// dialUDP opens a connected UDP socket to server with d. The zero Dialer
// (the resolver's own) takes net.DialUDP: no address string made and
// parsed again for every uncached query (a UDP connect does not wait, so
// the context matters only if it is done already).
func dialUDP(ctx context.Context, d *net.Dialer, server netip.AddrPort) (net.Conn, error) {
	if d == &zeroDialer {
		// DialContext would fail on a context already done, and nothing
		// is sent then; DialUDP does not look. The lookups a query
		// started beside its walk are cancelled when it ends, and must
		// not put a query on the wire after that.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	}
	return d.DialContext(ctx, "udp", server.String())
}

// Exchange implements Exchanger.
func (x *NetExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	d := x.Dialer
	if d == nil {
		d = &zeroDialer
	}
	// Packed into a buffer of the pool: the query is written and done
	// with before Exchange returns.
	bp := queryBufPool.Get().(*[]byte)
	defer queryBufPool.Put(bp)
	wire, err := q.PackBuffer(*bp)
	if err != nil {
		return nil, fmt.Errorf("exchange: pack: %w", err)
	}
	switch network {
	case "udp":
		return exchangeUDP(ctx, d, server, q, wire)
	case "tcp":
		return exchangeTCP(ctx, d, server, wire)
	}
	return nil, fmt.Errorf("exchange: unknown network %q", network)
}

func exchangeUDP(ctx context.Context, d *net.Dialer, server netip.AddrPort, q *dns.Msg, wire []byte) (*dns.Msg, error) {
	conn, err := dialUDP(ctx, d, server)
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(wire); err != nil {
		return nil, fmt.Errorf("exchange: write: %w", err)
	}
	bp := udpBufPool.Get().(*[]byte)
	defer udpBufPool.Put(bp)
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("exchange: %w", ctx.Err())
			}
			return nil, fmt.Errorf("exchange: read: %w", err)
		}
		// Only whole, matching replies end the wait.
		if n < 12 || binary.BigEndian.Uint16(buf) != q.Id {
			continue
		}
		if n == len(buf) {
			// Possibly cut short by the buffer: ask again over TCP.
			r := new(dns.Msg)
			r.SetReply(q)
			r.Truncated = true
			return r, nil
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			continue
		}
		if !r.Response || !sameQuestion(r, q) {
			continue
		}
		return r, nil
	}
}

func exchangeTCP(ctx context.Context, d *net.Dialer, server netip.AddrPort, wire []byte) (*dns.Msg, error) {
	conn, err := d.DialContext(ctx, "tcp", server.String())
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	if _, err := conn.Write(out); err != nil {
		return nil, fmt.Errorf("exchange: write: %w", err)
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, fmt.Errorf("exchange: read: %w", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("exchange: read: %w", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf); err != nil {
		return nil, fmt.Errorf("exchange: unpack: %w", err)
	}
	return r, nil
}

// sameQuestion reports whether r answers q's question (names compared
// without regard to case).
func sameQuestion(r, q *dns.Msg) bool {
	if len(r.Question) != 1 || len(q.Question) != 1 {
		return false
	}
	a, b := r.Question[0], q.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
