package upstream

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/miekg/dns"
)

// plain is a dns:// upstream: each query on a fresh connected UDP socket
// (a random source port from the kernel) with a random ID, the reply
// matched by address, ID and question; a truncated reply is asked again
// over TCP. Datagrams that do not match are ignored while the wait goes
// on, so a spoofed one cannot end the exchange.
type plain struct {
	spec Spec
	opts Options
	counters
}

func newPlain(s Spec, opts Options) *plain { return &plain{spec: s, opts: opts} }

func (p *plain) String() string { return p.spec.String() }
func (p *plain) Close() error   { return nil }

// randomID returns a random message ID.
func randomID() uint16 {
	var b [2]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

// Exchange implements Upstream.
func (p *plain) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	id := randomID()
	wire, err := prepare(q, id, false, false)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", p, err)
	}
	r, err := p.udp(ctx, q, wire, id)
	if err == nil && r.Truncated {
		r, err = p.tcp(ctx, q, wire, id)
	}
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", p, err)
	}
	p.exchanges.Add(1)
	return r, nil
}

// deadline applies ctx's deadline and cancellation to conn.
func deadline(ctx context.Context, conn net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (p *plain) udp(ctx context.Context, q *dns.Msg, wire []byte, id uint16) (*dns.Msg, error) {
	conn, err := p.opts.dialer().DialContext(ctx, "udp", p.spec.Addr.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer deadline(ctx, conn)()
	if _, err := conn.Write(wire); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("write: %w", err))
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("read: %w", err))
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != id {
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			if n >= 12 && buf[2]&0x02 != 0 {
				// TC set and cut short: TCP will tell.
				r = new(dns.Msg)
				r.SetReply(q)
				r.Truncated = true
				return r, nil
			}
			continue
		}
		if checkReply(q, r, id) != nil {
			continue
		}
		return r, nil
	}
}

func (p *plain) tcp(ctx context.Context, q *dns.Msg, wire []byte, id uint16) (*dns.Msg, error) {
	conn, err := p.opts.dialer().DialContext(ctx, "tcp", p.spec.Addr.String())
	if err != nil {
		return nil, err
	}
	p.dials.Add(1)
	defer conn.Close()
	defer deadline(ctx, conn)()
	if _, err := conn.Write(frame(wire)); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("write: %w", err))
	}
	raw, err := readFrame(conn, nil)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkReply(q, r, id); err != nil {
		return nil, err
	}
	return r, nil
}

// frame prefixes wire with its 2-octet length (RFC 1035 §4.2.2).
func frame(wire []byte) []byte {
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	return out
}

// readFrame reads one length-prefixed message into buf (grown as
// needed). A length under 12 octets, a DNS header's, is malformed.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n < 12 {
		return nil, fmt.Errorf("%w: %d-octet frame", ErrMalformed, n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return buf, nil
}
