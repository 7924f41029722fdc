//go:build linux

package transport

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// TestUDPBatches: queries waiting in the socket when the reader starts are
// read by recvmmsg in batches of udpBatch, and every one is answered, with
// its own ID, to its own client; a datagram longer than a batch slot gets
// FORMERR.
func TestUDPBatches(t *testing.T) {
	checkLeaks(t)
	const n = udpBatch + 8
	pc, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]interface {
		Write([]byte) (int, error)
		Read([]byte) (int, error)
	}, 2)
	for i := range clients {
		clients[i] = dialRaw(t, "udp", pc.LocalAddr().String())
	}
	// Loopback delivers at once: the datagrams wait in the socket's
	// buffer before anyone reads it.
	for i := range n {
		m := query("www.example.com.", dns.TypeA, i%2 == 0, 1232, false)
		m.Id = uint16(1000 + i)
		if _, err := clients[i%2].Write(pack(t, m)); err != nil {
			t.Fatal(err)
		}
	}
	long := query("www.example.com.", dns.TypeA, true, 1232, false)
	long.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, udpBatchBuf)}}
	long.Id = 7
	if _, err := clients[0].Write(pack(t, long)); err != nil {
		t.Fatal(err)
	}
	s := NewUDPServer(Config{Handler: newCacheHandler(t)})
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	seen := map[uint16]int{}
	buf := make([]byte, 65535)
	for i := range n + 1 {
		c := clients[1]
		if i < (n+1)/2+1 {
			c = clients[0]
		}
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		var r dns.Msg
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		seen[r.Id] = r.Rcode
	}
	for i := range n {
		if rc, ok := seen[uint16(1000+i)]; !ok || rc != dns.RcodeSuccess {
			t.Errorf("query %d: answered %v with rcode %d, want NOERROR", i, ok, rc)
		}
	}
	if rc, ok := seen[7]; !ok || rc != dns.RcodeFormatError {
		t.Errorf("oversized query: answered %v with rcode %d, want FORMERR", ok, rc)
	}
	st := s.Stats()
	if st.Datagrams != n+1 || st.Reads != 2 {
		t.Errorf("Stats() = %+v, want %d datagrams in 2 reads", st, n+1)
	}
}
