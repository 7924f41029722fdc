package resolver

import (
	"strings"

	"github.com/hush-dns/hush/cache"
	"github.com/miekg/dns"
)

// The methods in this file serve the operator (hush ctl): they drop what
// the resolver has learnt, by name or all of it. None of them returns what
// was cached, not even how much of it there was for a name, since that
// would tell whether a client had asked it.

// FlushName drops the cached answers and RRsets of name (every type), and
// its validated keys and NSEC chain if it is a zone apex.
func (r *Resolver) FlushName(name string) {
	name = dns.CanonicalName(name)
	r.cache.FlushName(name)
	r.keys.Remove(name)
	r.nsec.Remove(name)
	r.glue.Remove(name)
}

// FlushZone drops everything learnt at or below zone: cached answers and
// RRsets, validated keys, NSEC chains (RFC 8198) and glue.
func (r *Resolver) FlushZone(zone string) {
	zone = dns.CanonicalName(zone)
	if zone == "." {
		r.FlushAll()
		return
	}
	r.cache.FlushZone(zone)
	r.keys.RemoveFunc(func(k string, _ keyEntry) bool { return under(k, zone) })
	r.nsec.RemoveFunc(func(k string, _ *zoneNSEC) bool { return under(k, zone) })
	r.glue.RemoveFunc(func(k string, _ glueEntry) bool { return under(k, zone) })
}

// FlushAll empties the cache and every derived store: validated keys,
// NSEC chains and glue. Server statistics stay (see FlushInfra).
func (r *Resolver) FlushAll() {
	r.cache.Purge()
	r.keys.Purge()
	r.nsec.Purge()
	r.glue.Purge()
}

// FlushInfra forgets what the resolver learnt about servers: RTTs,
// timeouts and hold-downs, EDNS support, lameness, the zones whose servers
// need relaxed QNAME minimisation and the parents' re-ask hold-downs.
func (r *Resolver) FlushInfra() {
	for i := range r.servers.shards {
		sh := &r.servers.shards[i]
		sh.mu.Lock()
		clear(sh.stats)
		clear(sh.lame)
		sh.mu.Unlock()
	}
	r.reasked.Purge()
	r.relaxed.Purge()
}

// Cache returns the resolver's cache, for its size and for sharing it
// with the resolver that replaces this one on a reload.
func (r *Resolver) Cache() *cache.Cache { return r.cache }

// under reports whether name (canonical) is zone or below it.
func under(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
