package resolver

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// The server statistics follow Unbound's infra cache: a smoothed RTT and
// its variance per address (RFC 6298 style), a retransmission timeout from
// them, and memory of which servers reject EDNS or are lame for a zone.
const (
	unknownRTT     = 376 * time.Millisecond // Unbound's UNKNOWN_SERVER_NICENESS
	minRTO         = 50 * time.Millisecond
	serverStatsTTL = 15 * time.Minute
	// exploreChance is how often selection tries a server other than the
	// fastest, so that a server that was slow once gets measured again.
	exploreChance = 0.05
	// holdDownAfter consecutive timeouts put a server aside for holdDown.
	holdDownAfter = 3
	holdDown      = 30 * time.Second
	maxLameZones  = 4096
	serverShards  = 32
)

type serverStats struct {
	srtt, rttvar time.Duration
	timeouts     int // consecutive
	heldUntil    time.Time
	noEDNS       bool
	updated      time.Time
}

type lameKey struct {
	addr netip.Addr
	zone string
}

// servers keeps per-address statistics, sharded so that no query takes a
// global lock.
type servers struct {
	shards [serverShards]serverShard
}

type serverShard struct {
	mu    sync.Mutex // guards the maps
	stats map[netip.Addr]*serverStats
	lame  map[lameKey]time.Time
}

func newServers() *servers {
	s := &servers{}
	for i := range s.shards {
		s.shards[i].stats = make(map[netip.Addr]*serverStats)
		s.shards[i].lame = make(map[lameKey]time.Time)
	}
	return s
}

func (s *servers) shard(a netip.Addr) *serverShard {
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return &s.shards[h%serverShards]
}

// statsLocked returns the entry for a, creating it; expired entries start over.
func (sh *serverShard) statsLocked(a netip.Addr, now time.Time) *serverStats {
	st := sh.stats[a]
	if st == nil || now.Sub(st.updated) > serverStatsTTL {
		if len(sh.stats) > 64*1024 {
			clear(sh.stats)
		}
		st = &serverStats{srtt: unknownRTT, rttvar: unknownRTT / 2, updated: now}
		sh.stats[a] = st
	}
	return st
}

// rto is how long to wait for a reply from a before trying another server.
func (s *servers) rto(a netip.Addr, now time.Time, max time.Duration) time.Duration {
	sh := s.shard(a)
	sh.mu.Lock()
	rto := unknownRTT + 4*(unknownRTT/2)
	if st := sh.stats[a]; st != nil && now.Sub(st.updated) <= serverStatsTTL {
		rto = st.srtt + 4*st.rttvar
	}
	sh.mu.Unlock()
	return min(max, rto)
}

func (s *servers) success(a netip.Addr, rtt time.Duration, now time.Time) {
	sh := s.shard(a)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.statsLocked(a, now)
	rtt = max(rtt, minRTO/4)
	if st.timeouts > 0 || st.srtt == unknownRTT {
		st.srtt, st.rttvar = rtt, rtt/2
	} else {
		diff := st.srtt - rtt
		if diff < 0 {
			diff = -diff
		}
		st.rttvar = (3*st.rttvar + diff) / 4
		st.srtt = (7*st.srtt + rtt) / 8
	}
	st.rttvar = max(st.rttvar, minRTO/2)
	st.timeouts = 0
	st.heldUntil = time.Time{}
	st.updated = now
}

// timeout records a lost query: the RTT estimate backs off, and a server
// that keeps timing out is held down for a while.
func (s *servers) timeout(a netip.Addr, cap time.Duration, now time.Time) {
	sh := s.shard(a)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.statsLocked(a, now)
	st.timeouts++
	st.srtt = min(2*st.srtt, cap)
	if st.timeouts >= holdDownAfter {
		st.heldUntil = now.Add(holdDown)
	}
	st.updated = now
}

func (s *servers) setNoEDNS(a netip.Addr, now time.Time) {
	sh := s.shard(a)
	sh.mu.Lock()
	sh.statsLocked(a, now).noEDNS = true
	sh.mu.Unlock()
}

func (s *servers) noEDNS(a netip.Addr, now time.Time) bool {
	sh := s.shard(a)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.stats[a]
	return st != nil && now.Sub(st.updated) <= serverStatsTTL && st.noEDNS
}

func (s *servers) setLame(a netip.Addr, zone string, now time.Time) {
	sh := s.shard(a)
	sh.mu.Lock()
	if len(sh.lame) >= maxLameZones {
		clear(sh.lame)
	}
	sh.lame[lameKey{a, zone}] = now.Add(serverStatsTTL)
	sh.mu.Unlock()
}

// order returns the candidate addresses in the order to try them: usable
// servers by smoothed RTT (with an occasional exploratory pick first), then
// held-down and lame ones as a last resort.
func (s *servers) order(addrs []netip.Addr, zone string, now time.Time) []netip.Addr {
	type cand struct {
		a    netip.Addr
		srtt time.Duration
		bad  bool
	}
	cands := make([]cand, 0, len(addrs))
	for _, a := range addrs {
		sh := s.shard(a)
		sh.mu.Lock()
		// Only servers actually contacted get an entry: referrals can name
		// any number of addresses.
		c := cand{a: a, srtt: unknownRTT}
		if st := sh.stats[a]; st != nil && now.Sub(st.updated) <= serverStatsTTL {
			c.srtt, c.bad = st.srtt, now.Before(st.heldUntil)
		}
		if until, ok := sh.lame[lameKey{a, zone}]; ok && now.Before(until) {
			c.bad = true
		}
		sh.mu.Unlock()
		cands = append(cands, c)
	}
	// Shuffle first so that ties (unknown servers) are broken at random.
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	slices.SortStableFunc(cands, func(x, y cand) int {
		if x.bad != y.bad {
			if x.bad {
				return 1
			}
			return -1
		}
		return cmp.Compare(x.srtt, y.srtt)
	})
	good := 0
	for good < len(cands) && !cands[good].bad {
		good++
	}
	if good > 1 && rand.Float64() < exploreChance {
		j := 1 + rand.IntN(good-1)
		cands[0], cands[j] = cands[j], cands[0]
	}
	out := make([]netip.Addr, len(cands))
	for i, c := range cands {
		out[i] = c.a
	}
	return out
}
