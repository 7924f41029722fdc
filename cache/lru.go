package cache

// lru is one shard's recency list and index, with the behaviour of
// golang-lru's simplelru.LRU that Sharded used: a bound in entries, the
// eviction callback run for every removal (eviction, Remove, Purge), Get
// marking an entry most recently used and Peek not.
//
// It exists for memory: simplelru's list element carries an expiry time,
// an expiry bucket and a pointer to its list besides the links, key and
// value, 96 bytes for the cache's keys; a node here is 48. After the fake
// internet's cold pass 74,000 of them were live, 7 MB, a quarter of the
// cache's heap with the entries themselves.
//
// An lru is not safe for concurrent use: the shard's mutex guards it.
type lru[K comparable, V any] struct {
	items map[K]*node[K, V]
	// root is the list's sentinel: root.next is the most recently used
	// node, root.prev the least.
	root    node[K, V]
	size    int
	onEvict func(K, V)
}

type node[K comparable, V any] struct {
	prev, next *node[K, V]
	key        K
	val        V
}

// newLRU returns an empty lru holding at most size entries (at least 1);
// onEvict, when not nil, is called for every entry removed.
func newLRU[K comparable, V any](size int, onEvict func(K, V)) *lru[K, V] {
	l := &lru[K, V]{items: make(map[K]*node[K, V]), size: max(size, 1), onEvict: onEvict}
	l.root.prev, l.root.next = &l.root, &l.root
	return l
}

func (l *lru[K, V]) unlink(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (l *lru[K, V]) pushFront(n *node[K, V]) {
	n.prev, n.next = &l.root, l.root.next
	l.root.next.prev = n
	l.root.next = n
}

// Add stores v for k as the most recently used entry, replacing the value
// k had, and evicts the least recently used entry when over the bound. It
// reports whether it evicted.
func (l *lru[K, V]) Add(k K, v V) (evicted bool) {
	if n, ok := l.items[k]; ok {
		l.unlink(n)
		l.pushFront(n)
		n.val = v
		return false
	}
	n := &node[K, V]{key: k, val: v}
	l.items[k] = n
	l.pushFront(n)
	if len(l.items) > l.size {
		l.RemoveOldest()
		return true
	}
	return false
}

// Get returns k's value and marks it most recently used.
func (l *lru[K, V]) Get(k K) (v V, ok bool) {
	n, ok := l.items[k]
	if !ok {
		return v, false
	}
	if l.root.next != n {
		l.unlink(n)
		l.pushFront(n)
	}
	return n.val, true
}

// Peek returns k's value without changing its recency.
func (l *lru[K, V]) Peek(k K) (v V, ok bool) {
	n, ok := l.items[k]
	if !ok {
		return v, false
	}
	return n.val, true
}

// Remove deletes k and reports whether it was present.
func (l *lru[K, V]) Remove(k K) bool {
	n, ok := l.items[k]
	if ok {
		l.remove(n)
	}
	return ok
}

// RemoveOldest deletes the least recently used entry, if any.
func (l *lru[K, V]) RemoveOldest() {
	if n := l.root.prev; n != &l.root {
		l.remove(n)
	}
}

func (l *lru[K, V]) remove(n *node[K, V]) {
	l.unlink(n)
	delete(l.items, n.key)
	if l.onEvict != nil {
		l.onEvict(n.key, n.val)
	}
}

// Keys returns the keys, least recently used first.
func (l *lru[K, V]) Keys() []K {
	keys := make([]K, 0, len(l.items))
	for n := l.root.prev; n != &l.root; n = n.prev {
		keys = append(keys, n.key)
	}
	return keys
}

// Len returns the number of entries.
func (l *lru[K, V]) Len() int { return len(l.items) }

// Purge deletes every entry, calling onEvict for each.
func (l *lru[K, V]) Purge() {
	for n := l.root.prev; n != &l.root; {
		prev := n.prev
		l.remove(n)
		n = prev
	}
	// A fresh map: a map never shrinks, and a purge is the time to
	// give back what a full one holds.
	l.items = make(map[K]*node[K, V])
}
