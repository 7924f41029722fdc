//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchedReads says whether UDP readers use recvmmsg and sendmmsg.
const batchedReads = true

// udpBatch is how many datagrams one recvmmsg may return and one sendmmsg
// may send. Under load one wake-up of the reader serves up to this many
// queries; idle, a batch holds the one query that woke it.
const udpBatch = 32

// udpBatchBuf is the read buffer of each slot of a batch: any query a
// client sends in practice (a query is a header, one question and an OPT
// record). A longer datagram is cut to it, and a query cut so does not
// unpack: it gets FORMERR, as a malformed query does.
const udpBatchBuf = 4096

// batchConn is what ipv4.PacketConn and ipv6.PacketConn both offer: their
// Message types are one type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// newBatchConn wraps uc for recvmmsg and sendmmsg, as IPv4 or IPv6 by the
// address it is bound to.
func newBatchConn(uc *net.UDPConn) batchConn {
	if a, ok := uc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		return ipv4.NewPacketConn(uc)
	}
	return ipv6.NewPacketConn(uc)
}

// readBatches is the reader loop of one socket on Linux: recvmmsg and
// sendmmsg through golang.org/x/net, so that under load one wake-up serves
// many datagrams. Answers ready without the handler (cache hits, errors)
// are sent together after each batch is read; queries for the handler
// start a goroutine each, as in read.
func (s *UDPServer) readBatches(conn net.PacketConn, uc *net.UDPConn) error {
	bc := newBatchConn(uc)
	in := make([]ipv4.Message, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	scs := make([]*scratch, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpBatchBuf)}
		out[i].Buffers = make([][]byte, 1)
		scs[i] = newScratch()
	}
	q := new(dns.Msg)
	var backoff time.Duration
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if s.life.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("transport: udp read: %w", err)
			}
			s.pipe.logSocketError("transport: udp read", err)
			backoff = nextBackoff(backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.batches.Add(1)
		s.datagrams.Add(uint64(n))
		replies := 0
		for i := range in[:n] {
			m := &in[i]
			ua, _ := m.Addr.(*net.UDPAddr)
			if ua == nil {
				continue
			}
			ap := ua.AddrPort()
			var req request
			client := ap.Addr()
			res, act := s.pipe.prepareFrom(scs[i], m.Buffers[0][:m.N], q, &req, protoUDP, client, s.pipe.allowed(client))
			switch act {
			case actReply:
				if res != nil {
					out[replies].Buffers[0] = res
					out[replies].Addr = m.Addr
					replies++
				}
			case actHandle:
				if s.inflight.Add(1) > int64(s.cfg.MaxUDPInFlight) {
					s.inflight.Add(-1)
					if s.cfg.Events != nil {
						s.cfg.Events.Limited()
					}
					continue
				}
				s.dispatch(udpJob{conn, uc, q, req, ap, nil})
				q = new(dns.Msg) // q now belongs to the handler
			}
		}
		s.writeBatch(bc, out[:replies])
		for i := range out[:replies] {
			out[i].Buffers[0], out[i].Addr = nil, nil
		}
	}
}

// writeBatch sends ms with as few sendmmsg calls as the kernel allows. A
// failed send drops the rest of the batch: the clients will retry.
func (s *UDPServer) writeBatch(bc batchConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := bc.WriteBatch(ms, 0)
		if err != nil {
			if !s.life.closing.Load() {
				s.pipe.logSocketError("transport: udp write", err)
			}
			return
		}
		if n <= 0 {
			return
		}
		ms = ms[n:]
	}
}
