package cache

import "strings"

// RemoveFunc deletes every entry for which remove(k, v) is true and returns
// how many it deleted. It locks one shard at a time, so entries added
// concurrently may survive; it is for rare operator actions (a flush), not
// for the query path: it visits every entry.
//
// remove runs with the shard locked: it must be quick and must not call
// back into s.
func (s *Sharded[K, V]) RemoveFunc(remove func(K, V) bool) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, k := range sh.lru.Keys() {
			if v, ok := sh.lru.Peek(k); ok && remove(k, v) {
				sh.lru.Remove(k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// Range calls f for every entry, one shard at a time, without changing
// their recency, until f returns false. Like RemoveFunc it visits every
// entry and is not for the query path.
//
// f runs with the shard locked: it must be quick and must not call back
// into s.
func (s *Sharded[K, V]) Range(f func(K, V) bool) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, k := range sh.lru.Keys() {
			v, ok := sh.lru.Peek(k)
			if ok && !f(k, v) {
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}

// FlushName drops everything cached for name: client answers of every
// type, class and DO/CD combination, and RRsets. It does not touch what
// other names' entries imply about name: a cached NSEC range that denies
// it (RFC 8198) or a wildcard stays until FlushZone of an enclosing zone.
// It returns the number of entries dropped, for tests: the control
// channel does not show it, since it would tell whether a client had
// asked the name.
func (c *Cache) FlushName(name string) int {
	name = canonicalName(name)
	return c.store.RemoveFunc(func(k key, _ *entry) bool { return k.name == name })
}

// FlushZone drops everything cached for zone and every name below it;
// FlushZone(".") empties the cache like Purge. It returns the number of
// entries dropped, for tests.
func (c *Cache) FlushZone(zone string) int {
	zone = canonicalName(zone)
	if zone == "." {
		n := c.store.Len()
		c.store.Purge()
		return n
	}
	return c.store.RemoveFunc(func(k key, _ *entry) bool {
		return k.name == zone || strings.HasSuffix(k.name, "."+zone)
	})
}
