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
//
// # The signed internet
//
// Signed builds a second, separate internet whose zones are DNSSEC-signed
// in memory with the fixed keys in keys/ (Options.Now sets the signing
// time: valid from an hour before to 30 days after). Its root (KSK and ZSK,
// RSASHA256, NSEC) is served by a.root.hush. 127.53.100.1 and
// b.root.hush. 127.53.100.2 (RootHints); TrustAnchor is the DS of the
// root KSK. Every other zone is served by ns1.<zone> alone: hush.
// 127.53.101.1 (8), sec. 127.53.102.1 (8, NSEC), broken. 127.53.103.1
// (13, NSEC), optout. 127.53.104.1 (13, NSEC3 opt-out, 0 iterations);
// their leaves on 127.53.110.x, 127.53.120.x and 127.53.130.x in the
// order below (the second column is the address after 127.53.). Every
// signed zone has a KSK and a ZSK of its algorithm and a DS (SHA-256) in
// its parent; every zone but the root has www A/AAAA and txt TXT;
// nx.<zone> does not exist. What a validating resolver should conclude,
// with the Extended DNS Error (RFC 8914) it should give for Bogus
// (SignedExpectations lists the questions as data for table tests;
// TestSignedChainOfTrust walks the table with a minimal validator):
//
//	zone / name          127.53.     alg  denial            expected
//	alg8.sec.            110.1       8    NSEC              Secure
//	alg10.sec.           110.2       10   NSEC              Secure
//	alg13.sec.           110.3       13   NSEC              Secure
//	alg14.sec.           110.4       14   NSEC              Secure
//	alg15.sec.           110.5       15   NSEC              Secure
//	alg16.sec.           110.6       16   NSEC              Secure (Ed448; Insecure if unsupported, EDE 1)
//	alg5.sec.            110.7       5    NSEC              Secure (RSASHA1; RFC 8624 allows Insecure)
//	alg7.sec.            110.8       7    NSEC3 0 it.       Secure (as alg5)
//	nsec3.sec.           110.9       13   NSEC3 0 it.       Secure: RFC 9276 parameters, no salt
//	nsec3salt.sec.       110.10      13   NSEC3 10 it.      Secure: salt aabbccdd (RFC 9276 allows
//	                                                        treating iterations > 0 as Insecure)
//	wild.sec.            110.11      13   NSEC              Secure
//	  (also nsec3.sec., nsec3salt.sec. and wildnoproof.broken. hold this data)
//	  x.<zone> A, TXT                wildcard answer, proof of no exact match
//	  x.<zone> MX                    wildcard NODATA
//	  host.<zone>, x.host.<zone>     exists; below it NXDOMAIN (no synthesis)
//	  ent.<zone>                     empty non-terminal (a.ent exists): NODATA
//	  x.ent.<zone>                   NXDOMAIN (wildcard at ent. none)
//	  x.nodata.<zone> A              wildcard *.nodata (TXT only): NODATA
//	cname.sec.           110.12      13   NSEC              Secure
//	  to-www.cname.sec. A            in-zone signed CNAME chain: Secure
//	  to-insecure.cname.sec. A       signed CNAME to www.insecure.sec.: Insecure
//	insecure.sec.        110.13      -    (unsigned)        Insecure: NSEC in sec. proves no DS
//	  to-secure.insecure.sec. A      unsigned CNAME to www.alg13.sec.: Insecure
//	signed.optout.       130.1       13   NSEC              Secure
//	unsigned.optout.     130.2       -    (unsigned)        Insecure: opt-out NSEC3 in optout.
//	good.broken.         120.1       13   NSEC              Secure: the control for the zones below
//	expired.broken.      120.2       13   NSEC              Bogus, EDE 7: every RRSIG expired
//	                                                        (inception Now-60d, expiration Now-30d)
//	notyet.broken.       120.3       13   NSEC              Bogus, EDE 8: every RRSIG from Now+30d
//	dsmismatch.broken.   120.4       13   NSEC              Bogus, EDE 9: the DS names a key the zone
//	                                                        does not publish (the rogue key)
//	nosig.broken.        120.5       13   NSEC              www A: Bogus, EDE 10 (no RRSIG); the rest
//	                                                        of the zone is Secure
//	wrongkey.broken.     120.6       13   NSEC              www A: Bogus, EDE 6 (signed by a key not
//	                                                        in the DNSKEY set; some validators say 9)
//	badsig.broken.       120.7       13   NSEC              www A: Bogus, EDE 6 (signature corrupted)
//	nonsec.broken.       120.8       13   none              nx.nonsec.broken., www MX: Bogus, EDE 12
//	                                                        (denial without NSEC); www A Secure
//	wildnoproof.broken.  120.9       13   none              x.wildnoproof.broken. A: Bogus, EDE 12
//	                                                        (wildcard answer without NSEC proof)
//	dsa.broken.          120.10      3    NSEC              Insecure, EDE 1: DS and DNSKEY only of
//	                                                        algorithm 3 (DSA, correctly signed;
//	                                                        RFC 8624: MUST NOT validate)
//	digest.broken.       120.11      13   NSEC              Insecure, EDE 2: the only DS has digest
//	                                                        type 200 (unassigned)
//
// All of this is baked into the zone data, so a real NSD serving the
// files of WriteZoneFiles gives the same answers (TestSignedMatchesNSD);
// WriteUnsignedZoneFiles writes the zones before signing, with the keys,
// for signing with other tools. The engine adds DNSSEC records only for
// queries with DO set, as NSD does (see authsec.go). For flaws the data
// cannot hold, the StripRRSIG and StripNSEC faults take signatures or
// denial records out of any server's replies.
package resolvertest
