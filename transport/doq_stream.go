//go:build !noquic

package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"

	"github.com/miekg/dns"
)

// doqStreamState is what a stream's goroutine reuses from earlier
// streams: the read buffer, and the query message when no handler kept it.
type doqStreamState struct {
	buf []byte
	q   *dns.Msg
}

// doqKeepBuf is the largest read buffer a doqStreamState keeps for the
// next stream: a pool of buffers grown for rare large queries would hand
// each of them to streams that do not need them.
const doqKeepBuf = 4096

func (s *DoQServer) putStreamState(st *doqStreamState) {
	if cap(st.buf) > doqKeepBuf {
		st.buf = nil
	}
	s.streams.Put(st)
}

// doqPrepare is prepare for a query read from a DoQ stream, with DoQ's
// own rules first: a message ID other than 0 (RFC 9250 §4.2.1), a message
// prepare would drop (a response) and the edns-tcp-keepalive option
// (§5.5.2) are protocol errors, reported in why. Otherwise it returns
// what prepare returned. q may be reused from an earlier query.
func (pl *pipeline) doqPrepare(sc *scratch, raw []byte, q *dns.Msg, req *request, allowed bool) (out []byte, act action, why string) {
	if binary.BigEndian.Uint16(raw) != 0 {
		return nil, actDrop, "message ID is not 0"
	}
	// An earlier query's records must not count as this one's: prepare
	// does not unpack a query it rejects from its header alone.
	clear(q.Extra)
	q.Extra = q.Extra[:0]
	out, act = pl.prepare(sc, raw, q, req, protoQUIC, allowed)
	switch {
	case act == actDrop:
		return nil, actDrop, "not a query"
	case hasKeepalive(q):
		return nil, actDrop, "edns-tcp-keepalive is not allowed"
	}
	return out, act, ""
}

// hasKeepalive reports whether q, as prepare unpacked it, carries the
// edns-tcp-keepalive option. A query prepare did not unpack (rejected from
// its header) has no additional records here.
func hasKeepalive(q *dns.Msg) bool {
	for _, rr := range q.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			for _, o := range opt.Option {
				if o.Option() == dns.EDNS0TCPKEEPALIVE {
					return true
				}
			}
		}
	}
	return false
}

// Why readDoQQuery failed, for the peer (in CONNECTION_CLOSE).
var (
	errDoQTruncated = errors.New("transport: doq: stream ended inside a message")
	errDoQTrailing  = errors.New("transport: doq: more than one message on a stream")
	errDoQTiny      = errors.New("transport: doq: message shorter than a DNS header")
)

// doqMinBuf is the size readDoQQuery's buffer starts from: most queries
// fit.
const doqMinBuf = 512

// readDoQQuery reads a stream's one query: a 2-octet length, that many
// octets, and then the end of the stream (the client's FIN). It returns
// the message, in *buf, or errDoQTruncated when the stream ends early (a
// length prefix that lies), errDoQTrailing when data follows the message,
// errDoQTiny for a length below 12, or r's error (a reset stream, a
// deadline, a closed connection). *buf grows as the message arrives,
// doubling from doqMinBuf, never from the length prefix alone: a client
// that sends only a large prefix costs no more than a small one.
func readDoQQuery(r io.Reader, buf *[]byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, truncatedIfEOF(err)
	}
	size := int(binary.BigEndian.Uint16(hdr[:]))
	if size < headerSize {
		return nil, errDoQTiny
	}
	raw := (*buf)[:0]
	for len(raw) < size {
		if len(raw) == cap(raw) {
			raw = slices.Grow(raw, min(size, max(2*cap(raw), doqMinBuf))-len(raw))
			*buf = raw
		}
		n, err := io.ReadFull(r, raw[len(raw):min(size, cap(raw))])
		raw = raw[:len(raw)+n]
		if err != nil {
			return nil, truncatedIfEOF(err)
		}
	}
	// The FIN usually came with the message, and then this returns at
	// once; otherwise it waits for it (or for the deadline).
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		switch {
		case n > 0:
			return nil, errDoQTrailing
		case err == io.EOF:
			return raw, nil
		case err != nil:
			return nil, err
		}
	}
}

func truncatedIfEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errDoQTruncated
	}
	return err
}

// doqReadProblem is the CONNECTION_CLOSE reason for a failed read.
func doqReadProblem(err error) string {
	switch {
	case errors.Is(err, errDoQTruncated):
		return "stream ended inside a message"
	case errors.Is(err, errDoQTrailing):
		return "more than one message on a stream"
	case errors.Is(err, errDoQTiny):
		return "message shorter than a DNS header"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "query or FIN not sent in time"
	}
	return "unreadable stream"
}
