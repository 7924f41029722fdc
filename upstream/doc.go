// Package upstream is hush's outbound side towards recursive resolvers it
// forwards to: one Upstream per server, spoken to over plain DNS (dns://),
// DNS over TLS (tls://, RFC 7858), DNS over HTTPS (https://, RFC 8484, on
// HTTP/2 or HTTP/3) or DNS over QUIC (quic://, RFC 9250), and a Pool that
// spreads queries over several of them and fails over.
//
// The package is kept apart from the resolver so that the resolver's
// dependencies stay free of net/http: the resolver defines the small
// interface it needs, and cmd/hush hands it a Pool.
//
// # Upstream URLs
//
// The spellings below are a contract: scripts outside hush use them.
//
//	dns://ADDR[:PORT]                plain DNS (UDP, TCP when truncated); port 53
//	ADDR[:PORT]                      the same as dns://
//	tls://ADDR[:PORT][#NAME]         DNS over TLS; port 853
//	https://ADDR[:PORT][/PATH][#NAME] DNS over HTTPS; port 443, path /dns-query
//	quic://ADDR[:PORT][#NAME]        DNS over QUIC; port 853
//
// ADDR is an IP address, an IPv6 one in brackets. A host name is refused:
// an upstream's own name is never looked up, so that no plaintext query
// leaks where the operator asked for an encrypted channel.
//
// NAME is the host name the server's certificate must prove (the "#" form
// Unbound and stubby use). Without it the certificate must name ADDR, as
// 1.1.1.1's does. Certificates are checked against the system's roots, or
// against Options.RootCAs when set (hush's --forward-ca).
//
// Parameters after "?" (before or after "#NAME"):
//
//	pin=sha256/BASE64   the SPKI pin `hush query --pin` prints; repeatable,
//	                    any one matching is enough (a key rollover lists two).
//	                    A pin replaces the chain and name check (RFC 7858
//	                    §4.2, out-of-band key-pinned privacy profile).
//	http3=1             https:// only: speak HTTP/3 (quic-go's http3) from
//	                    the first query, instead of HTTP/2 until the server
//	                    offers h3 with Alt-Svc.
//
// A pin's base64 may be written as is ("+", "/" and "=" are taken
// literally, not as form encoding) or percent-encoded.
//
// # What an Upstream does not do
//
// It never falls back to plaintext when an encrypted exchange fails, never
// resolves a name to find its server, and never logs a query: errors name
// the upstream's address, never the question.
package upstream
