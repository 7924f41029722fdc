//go:build !nohttp

package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go/http3"
)

// bigHeaders answers a DoH query well, after 256 KiB of response headers.
func bigHeaders(w http.ResponseWriter, r *http.Request) {
	for i := range 64 {
		w.Header().Set("X-Filler-"+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("x", 4096))
	}
	q, err := readQuery(r)
	if err != nil {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	reply, _ := (&zone{}).ServeDNS(context.Background(), q)
	wire, _ := reply.Pack()
	w.Header().Set("Content-Type", dnsMessage)
	w.Write(wire)
}

// TestDoHResponseHeaderLimit: what an upstream can make hush hold is
// bounded on HTTP/2 and HTTP/3 alike: a response whose headers run to
// hundreds of KiB (quic-go's HTTP/3 client takes 10 MiB by default, per
// query in flight) is a failed exchange.
func TestDoHResponseHeaderLimit(t *testing.T) {
	c := newCert(t)
	t.Run("h2", func(t *testing.T) {
		s := httptest.NewUnstartedServer(http.HandlerFunc(bigHeaders))
		s.EnableHTTP2 = true
		s.TLS = serverTLS(c)
		s.StartTLS()
		t.Cleanup(s.Close)
		u := mustUp(t, "https://"+s.Listener.Addr().String()+"/dns-query?pin="+c.pin, Options{})
		if r, err := ask(t, u, "www.test"); err == nil {
			t.Errorf("got %v, want a failed exchange", r)
		}
	})
	t.Run("h3", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &http3.Server{Handler: http.HandlerFunc(bigHeaders), TLSConfig: http3.ConfigureTLSConfig(serverTLS(c))}
		go s.Serve(pc)
		t.Cleanup(func() { s.Close(); pc.Close() })
		u := mustUp(t, "https://"+pc.LocalAddr().String()+"/dns-query?http3=1&pin="+c.pin, Options{})
		if r, err := ask(t, u, "www.test"); err == nil {
			t.Errorf("got %v, want a failed exchange", r)
		}
	})
}

// readQuery reads a DoH POST's query.
func readQuery(r *http.Request) (*dns.Msg, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 65536))
	if err != nil {
		return nil, err
	}
	q := new(dns.Msg)
	return q, q.Unpack(b)
}
