package transport

import (
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Handler goroutines that outlive their query.
//
// A query the cache cannot answer runs on a goroutine of its own while the
// reader goes on. A goroutine starts with a small stack, and the walk of
// an uncached query is deep: every one grew its stack two or three times,
// each growth a copy that walks every frame (runtime.copystack: 13 % of
// the CPU under a flood of uncached names, perf record). So a handler,
// once its query is answered, waits a while for the next one, with the
// stack it grew; the reader hands a query to a waiting handler when there
// is one and starts a goroutine only when there is none. (The collector
// halves the stack of a waiting handler that uses less than a quarter of
// it at each cycle, so under frequent collections some of the copying
// comes back; most does not.)

const (
	// udpWorkerIdle is how long a handler waits for another query
	// (UDPServer.idleFor, which tests may raise).
	udpWorkerIdle = time.Second
	// maxIdleUDPWorkers bounds the handlers waiting; MaxUDPInFlight
	// bounds those at work.
	maxIdleUDPWorkers = 64
)

// udpJob is one query for a handler: what handle takes.
type udpJob struct {
	conn  net.PacketConn
	uc    *net.UDPConn
	q     *dns.Msg
	req   request
	ap    netip.AddrPort
	naddr net.Addr
}

// dispatch counts the query as work in flight and gives it to a waiting
// handler, or to a new one.
func (s *UDPServer) dispatch(j udpJob) {
	s.life.enter()
	select {
	case s.jobs <- j:
	default:
		s.spawned.Add(1)
		go s.work(j)
	}
}

// work handles j, then the queries dispatch hands it, until none came for
// udpWorkerIdle, too many others wait already, or Shutdown started.
func (s *UDPServer) work(j udpJob) {
	var idle *time.Timer
	for {
		s.handle(j.conn, j.uc, j.q, j.req, j.ap, j.naddr)
		j = udpJob{} // the query is answered: let it go while waiting
		if s.idleWorkers.Add(1) > maxIdleUDPWorkers {
			s.idleWorkers.Add(-1)
			return
		}
		wait := time.Duration(s.idleFor.Load())
		if idle == nil {
			idle = time.NewTimer(wait)
		} else {
			idle.Reset(wait)
		}
		select {
		case j = <-s.jobs:
			s.idleWorkers.Add(-1)
		case <-idle.C:
			s.idleWorkers.Add(-1)
			return
		case <-s.life.stopping:
			s.idleWorkers.Add(-1)
			idle.Stop()
			return
		}
	}
}
