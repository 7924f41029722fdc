// Command ampmeter measures what a UDP resolver sends back to one source
// address for a burst of queries: the response/query byte ratio a
// spoofed-source flood would get onto its victim (the victim being this
// socket's address). It talks to the address given and nothing else; use
// it on loopback:
//
//	go run ./tools/ampmeter -server 127.0.0.1:5300 -name big.example. -type TXT -n 4000 -qps 2000
package main

import (
	"flag"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:53991", "resolver")
	name := flag.String("name", "big.test.", "name")
	qtype := flag.String("type", "TXT", "type")
	n := flag.Int("n", 5000, "queries")
	qps := flag.Int("qps", 2000, "send rate")
	flag.Parse()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	dst, _ := net.ResolveUDPAddr("udp", *server)
	var inBytes, inPkts, tc, full atomic.Int64
	go func() {
		buf := make([]byte, 65535)
		for {
			k, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			inBytes.Add(int64(k))
			inPkts.Add(1)
			m := new(dns.Msg)
			if m.Unpack(buf[:k]) == nil {
				if m.Truncated {
					tc.Add(1)
				} else if len(m.Answer) > 0 {
					full.Add(1)
				}
			}
		}
	}()
	q := new(dns.Msg)
	q.SetQuestion(*name, dns.StringToType[*qtype])
	q.SetEdns0(4096, false)
	var outBytes int64
	tick := time.NewTicker(time.Second / time.Duration(*qps))
	start := time.Now()
	for i := 0; i < *n; i++ {
		<-tick.C
		q.Id = uint16(i)
		w, _ := q.Pack()
		c.WriteTo(w, dst)
		outBytes += int64(len(w))
	}
	el := time.Since(start)
	time.Sleep(time.Second)
	c.Close()
	fmt.Printf("sent %d queries (%d bytes) in %.1fs; got %d responses (%d full, %d TC) = %d bytes; ratio %.2f\n",
		*n, outBytes, el.Seconds(), inPkts.Load(), full.Load(), tc.Load(), inBytes.Load(), float64(inBytes.Load())/float64(outBytes))
}
