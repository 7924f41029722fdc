package main

import (
	"testing"

	"github.com/hush-dns/hush/transport"
)

// Tests run in the full build (make test) and in the router builds'
// (-tags nodemo litemetrics noquic: packaging/ci.bash under qemu). These
// helpers say what each build has.

// withQUIC is s in a build with QUIC, "" in one without.
func withQUIC(s string) string {
	if transport.QUIC {
		return s
	}
	return ""
}

// withHTTP is s in a build with HTTP (DNS over HTTPS), "" in one
// without.
func withHTTP(s string) string {
	if transport.HTTP {
		return s
	}
	return ""
}

// dohProtocols is how hush serve names an https:// listener's protocols.
var dohProtocols = "HTTP/1.1, HTTP/2" + withQUIC(", HTTP/3")

func requireQUIC(t testing.TB) {
	t.Helper()
	if !transport.QUIC {
		t.Skip("no QUIC in this build (-tags noquic)")
	}
}

// requireHTTP skips a test that serves or forwards over https://, in a
// build without DNS over HTTPS.
func requireHTTP(t testing.TB) {
	t.Helper()
	if !transport.HTTP {
		t.Skip("no DNS over HTTPS in this build (-tags nohttp)")
	}
}

func requireDemo(t testing.TB) {
	t.Helper()
	if !demoBuilt {
		t.Skip("no hush demo in this build (-tags nodemo)")
	}
}

// quicListen is --listen quic://ADDR in a build with QUIC, nothing in
// one without.
func quicListen(addr string) []string {
	if !transport.QUIC {
		return nil
	}
	return []string{"--listen", "quic://" + addr}
}
