// Package resolvertest is a simulated internet for testing the resolver,
// in the spirit of net/http/httptest: a root, TLDs and leaf zones, each
// served by authoritative servers on their own addresses in
// 127.53.0.0/16, answering as NSD does.
//
// The servers are built from plain RFC 1035 master files (the embedded
// zones/*.zone for Default, any zone text for New). A zone is served on
// the addresses of the names in its apex NS set, wherever those addresses
// are defined: glue in the parent, data in the zone, or another zone for a
// glueless delegation. The same files therefore work unchanged in a real
// NSD bound to the same addresses (see Servers; run it with
// "minimal-responses: yes").
//
// A Network answers in-process through Exchange, which has the shape of
// resolver.Exchanger and routes by destination address without sockets,
// or on real loopback sockets through Serve. Both count and log the
// queries, and both honour per-address faults (SetFault): dropped,
// delayed, truncated, lame, refusing, failing, spoofing and otherwise
// broken servers.
//
// Nothing here ever sends a packet: Exchange refuses any destination
// outside 127.0.0.0/8 and records it (Outside), so that a resolver bug
// cannot reach the real internet from a test.
//
// # The default internet
//
// Root servers a.root.hush. 127.53.0.1 and b.root.hush. 127.53.0.2
// (RootHints); TLDs hush. (127.53.1.1-2), test. (127.53.2.1-2) and
// example. (127.53.3.1-2). The names a resolver test asks, by case:
//
//	www.plain.example. A/AAAA, plain.example. MX/TXT/NS, txt TXT  plain data (127.53.10.1-2)
//	alias.plain.example. A              in-zone CNAME chain, followed by the server
//	dangling.plain.example. A           CNAME to a missing name: NXDOMAIN with the CNAME
//	loop1.plain.example. A              in-zone CNAME loop (server stops after one round)
//	b.c.plain.example., c.plain.example. empty non-terminals (a.b.c exists): NODATA
//	nx.plain.example. A                 NXDOMAIN; www.plain.example. MX is NODATA
//	short.plain.example. A              TTL 300
//	a.chain.example. A                  CNAME chain over three zones: -> b.other.test.
//	                                    -> c.third.example. A 192.0.2.13
//	loop.chain.example. A               CNAME loop over two zones (<-> loop.other.test.)
//	b.sub.dname.example. A              DNAME sub.dname.example. -> other.test., then the chain
//	www.local.dname.example. A          DNAME inside the zone, followed by the server
//	*.wild.example.                     wildcard A and TXT; host.wild.example. exists,
//	                                    ent.wild.example. is an ENT, x.alias.wild.example.
//	                                    a wildcard CNAME (in zone), x.out.wild.example. a
//	                                    wildcard CNAME to www.plain.example.,
//	                                    x.nodata.wild.example. A a wildcard NODATA
//	txt.big.example. TXT                about 2 KB: truncated over UDP, whole over TCP
//	www.glueless.example. A             servers ns1/ns2.hosts.test.: no glue
//	www.deep.example. A                 doubly glueless (ns.glueless.example.)
//	www.deeper.example. A               triply glueless (ns.deep.example.)
//	www.cycle1.example., www.cycle2.test. glueless cycle: unresolvable
//	www.lame.example. A                 lame: the only server answers REFUSED
//	www.partlame.example. A             one good server, one lame (REFUSED)
//	www.half.example. A                 one good server, one dead (127.53.24.2)
//	www.mixed.example. A                one server with glue, one in hosts.test.
package resolvertest
