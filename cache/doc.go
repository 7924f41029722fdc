// Package cache holds hush's DNS cache: a generic sharded LRU (Sharded) and,
// on top of it, the DNS policy (Cache): keys of lowercased name, type, class,
// DO and CD; TTLs clamped and decremented on read; RFC 2308 negative caching;
// RRsets with trust rank (RFC 2181 §5.4.1) for the iterator's delegations and
// glue.
//
// Client answers are kept packed, with the offset of every TTL noted when
// they are stored, so that a hit is served by copying bytes and patching the
// ID and the TTLs (AppendMsg), with no allocation and no dns.Msg in between.
// Each answer is kept once, as a client with DO gets it; the view of a
// client without DO is cut out of it at hit time. Answers and RRsets (also
// packed) share one LRU and one bound, counted in bytes.
//
// It is the leaf of the import graph: it knows nothing of the network, of
// DNSSEC validation or of logging.
package cache
