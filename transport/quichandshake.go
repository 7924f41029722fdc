//go:build !noquic

package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// quicHandshakes bounds the QUIC connections of one server whose handshake
// is still in progress. Until the handshake completes, the client's
// address is not proven: anyone can send an Initial packet with a forged
// source address, and quic-go keeps state for it (and hands the connection
// to Accept, for 0-RTT) until the handshake times out. Such connections
// therefore take no connLimiter slot, which is keyed by client and would let
// forged addresses lock out real ones; they are counted here instead, in
// one global count, and once that count reaches retryAt the server demands
// a Retry (RFC 9000 §8.1.2) from every new client without an address
// token: a Retry is stateless, and only a client that can read it comes
// back. A client that comes back with a valid token (Retry or NEW_TOKEN)
// has proven its address, so its handshakes are counted per client.
//
// Wire it into a quic.Transport with verifySourceAddress and connContext,
// and call handshakeDone when a connection's handshake completes; a
// connection that ends first is released by itself.
type quicHandshakes struct {
	max     atomic.Int64 // handshakes from unproven addresses at most
	retryAt atomic.Int64 // from this many on, unproven addresses must Retry

	pending atomic.Int64 // handshakes from unproven addresses
	retries atomic.Int64 // Retries demanded, for tests
	proven  *connLimiter // handshakes from addresses a token proved
}

// newQUICHandshakes bounds handshakes to n from unproven addresses
// (Retry from n/8 on, at least 1) and to n in total and perClient per
// client from addresses proven by a token.
func newQUICHandshakes(n, perClient int) *quicHandshakes {
	h := &quicHandshakes{proven: newConnLimiter(n, perClient)}
	h.setLimits(n, perClient)
	return h
}

// setLimits replaces the bounds for the handshakes that start from now
// on.
func (h *quicHandshakes) setLimits(n, perClient int) {
	h.max.Store(int64(n))
	h.retryAt.Store(int64(max(1, n/8)))
	h.proven.setLimits(n, perClient)
}

// errTooManyHandshakes refuses a connection (CONNECTION_REFUSED) when the
// handshakes in progress are at their cap.
var errTooManyHandshakes = errors.New("transport: too many QUIC handshakes in progress")

// verifySourceAddress is quic.Transport.VerifySourceAddress: true (send a
// Retry) when the handshakes from unproven addresses are many. The address
// itself is not looked at: it may be forged.
func (h *quicHandshakes) verifySourceAddress(net.Addr) bool {
	if h.pending.Load() < h.retryAt.Load() {
		return false
	}
	h.retries.Add(1)
	return true
}

// connContext is quic.Transport.ConnContext: it counts the new connection
// as in handshake, or refuses it when there are too many, and returns a
// context that carries its ticket for handshakeDone. The count is given
// back when handshakeDone is called or when ctx, which quic-go cancels when
// the connection ends, is done.
func (h *quicHandshakes) connContext(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
	t := &handshakeTicket{h: h}
	if ci.AddrVerified {
		t.addr = addrOf(ci.RemoteAddr)
		if !h.proven.acquire(t.addr) {
			return nil, errTooManyHandshakes
		}
		t.proven = true
	} else if h.pending.Add(1) > h.max.Load() {
		h.pending.Add(-1)
		return nil, errTooManyHandshakes
	}
	context.AfterFunc(ctx, t.release)
	return context.WithValue(ctx, handshakeKey{}, t), nil
}

// inProgress reports the handshakes counted, for tests.
func (h *quicHandshakes) inProgress() int {
	return int(h.pending.Load()) + h.proven.open()
}

// handshakeDone gives back conn's count once its handshake is complete.
// It is a no-op for a connection counted by no quicHandshakes, and when
// called again.
func handshakeDone(conn *quic.Conn) {
	if t, ok := conn.Context().Value(handshakeKey{}).(*handshakeTicket); ok {
		t.release()
	}
}

type handshakeKey struct{}

// handshakeTicket is one connection's place in a quicHandshakes count.
type handshakeTicket struct {
	h      *quicHandshakes
	proven bool
	addr   netip.Addr // when proven
	once   sync.Once
}

func (t *handshakeTicket) release() {
	t.once.Do(func() {
		if t.proven {
			t.h.proven.release(t.addr)
		} else {
			t.h.pending.Add(-1)
		}
	})
}
