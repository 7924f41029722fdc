// Package ratelimit holds the token buckets hush uses against floods:
// Clients, per client network (an IPv4 /24 or an IPv6 /56), for the UDP
// listeners, so that a spoofed-source flood cannot use hush as an
// amplifier (BIND's response-rate-limiting "slip": over the limit, every
// Nth answer goes out truncated, forcing TCP, and the rest are dropped);
// and Zones, per zone, for the queries the resolver sends toward a zone's
// authorities (Unbound's ratelimit), so that a random-subdomain flood
// against one zone cannot make hush flood its servers.
//
// Both keep their buckets in a fixed table allocated up front: memory is
// bounded by the number of entries (16 octets each) whatever the traffic,
// the table is split into shards each behind its own mutex (no global lock),
// and a check allocates nothing. A full set of the table evicts its most
// idle bucket; a bucket that is over its limit is the last to go, so a
// flood of fresh sources cannot reset a limited one. The buckets are GCRA
// (the "virtual scheduling" form of a token bucket): one timestamp per
// key.
//
// The package keeps no address: a key is a masked prefix packed into an
// integer (Clients) or a keyed hash (Zones), and nothing is logged.
package ratelimit
