// Package cache holds hush's DNS cache: a generic sharded LRU (Sharded) and,
// on top of it, the DNS policy (Cache): keys of lowercased name, type, class,
// DO and CD; TTLs clamped and decremented on read; RFC 2308 negative caching;
// RRsets with trust rank for the iterator's delegations and glue.
//
// It is the leaf of the import graph: it knows nothing of the network, of
// DNSSEC validation or of logging.
package cache
