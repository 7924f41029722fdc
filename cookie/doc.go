// Package cookie implements DNS Cookies (RFC 7873) in both directions.
//
// Server is the inbound side: it makes and verifies the interoperable
// server cookies of RFC 9018 (version 1, a timestamp, SipHash-2-4 over the
// client cookie, version, reserved octets, timestamp and client address,
// keyed by a secret that every instance of one service shares), so that a
// client that has talked to any of them before can prove its address is
// not spoofed. Check is a pure function of (client address, request
// option, time): it decides the action the transport takes (answer,
// FORMERR, BADCOOKIE) and builds the response option, and it neither
// allocates nor keeps state.
//
// Jar is the outbound side, for a resolver talking to authorities: a
// client cookie per server, derived from a secret and the server's
// address, and a bounded memory of the server cookies they returned, so
// that a response whose echoed client cookie is wrong, or that lacks the
// cookie a server is known to send, can be recognised as spoofed.
//
// The package does no I/O and logs nothing; it never sees a query name.
package cookie
