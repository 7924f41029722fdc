package transport

import (
	"net/netip"
	"sync"
)

// connLimiter counts things in total and per client, and refuses more
// than its caps: quicHandshakes counts the QUIC handshakes of proven
// addresses with it (the connections themselves have connSlots). A client
// is an IPv4 address or an IPv6 /64, the block one host or home usually
// has. One mutex guards the counts: it is taken twice per connection,
// never per query.
type connLimiter struct {
	mu             sync.Mutex
	max, perClient int                  // mu guards
	total          int                  // mu guards
	byClient       map[netip.Prefix]int // mu guards
}

func newConnLimiter(max, perClient int) *connLimiter {
	return &connLimiter{max: max, perClient: perClient, byClient: make(map[netip.Prefix]int)}
}

func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// setLimits replaces the caps; what is counted stays.
func (l *connLimiter) setLimits(max, perClient int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max, l.perClient = max, perClient
}

// acquire takes a slot for a connection from a; false means over a cap.
func (l *connLimiter) acquire(a netip.Addr) bool {
	k := clientKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max || l.byClient[k] >= l.perClient {
		return false
	}
	l.total++
	l.byClient[k]++
	return true
}

func (l *connLimiter) release(a netip.Addr) {
	k := clientKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n := l.byClient[k] - 1; n > 0 {
		l.byClient[k] = n
	} else {
		delete(l.byClient, k)
	}
}

// open reports the connections counted, for tests.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
