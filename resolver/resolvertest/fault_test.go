package resolvertest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
)

func TestFaults(t *testing.T) {
	plain := netip.MustParseAddr("127.53.10.1")
	tests := []struct {
		name    string
		fault   Fault
		network string
		qname   string
		qtype   uint16
		edns    uint16
		check   func(t *testing.T, q, r *dns.Msg)
	}{
		{
			name: "Refuse", fault: Fault{Refuse: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeRefused || len(r.Answer)+len(r.Ns) != 0 {
					t.Errorf("got %s with %d answers, want empty REFUSED", dns.RcodeToString[r.Rcode], len(r.Answer))
				}
			},
		},
		{
			name: "ServFail", fault: Fault{ServFail: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
					t.Errorf("got %s with %d answers, want empty SERVFAIL", dns.RcodeToString[r.Rcode], len(r.Answer))
				}
			},
		},
		{
			name: "Lame refers up to the root", fault: Fault{Lame: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeSuccess || r.Authoritative || len(r.Answer) != 0 {
					t.Errorf("got %s AA=%v %d answers, want NOERROR, no AA, no answer", dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
				}
				if got, want := rrs(t, r.Ns), rrs(t, []string{". 86400 NS a.root.hush.", ". 86400 NS b.root.hush."}); !slices.Equal(got, want) {
					t.Errorf("authority = %v, want %v", got, want)
				}
			},
		},
		{
			name: "Truncate over udp", fault: Fault{Truncate: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if !r.Truncated || len(r.Answer) != 0 {
					t.Errorf("TC=%v with %d answers, want TC and none", r.Truncated, len(r.Answer))
				}
			},
		},
		{
			name: "Truncate leaves tcp alone", fault: Fault{Truncate: true}, network: "tcp",
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Truncated || len(r.Answer) != 1 {
					t.Errorf("TC=%v with %d answers, want no TC and 1", r.Truncated, len(r.Answer))
				}
			},
		},
		{
			name: "WrongID", fault: Fault{WrongID: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Id == q.Id {
					t.Errorf("ID = %d, want anything but the query's", r.Id)
				}
			},
		},
		{
			name: "WrongQuestion", fault: Fault{WrongQuestion: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Question[0].Name == q.Question[0].Name {
					t.Errorf("question = %q, want another name", r.Question[0].Name)
				}
			},
		},
		{
			name: "NoEDNS: FORMERR to EDNS", fault: Fault{NoEDNS: true}, edns: 1232,
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeFormatError || r.IsEdns0() != nil {
					t.Errorf("got %s, OPT %v; want FORMERR without OPT", dns.RcodeToString[r.Rcode], r.IsEdns0() != nil)
				}
			},
		},
		{
			name: "NoEDNS: plain DNS answered", fault: Fault{NoEDNS: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					t.Errorf("got %s with %d answers, want an answer", dns.RcodeToString[r.Rcode], len(r.Answer))
				}
			},
		},
		{
			name: "MinimisationBroken: ENT is NXDOMAIN", fault: Fault{MinimisationBroken: true}, qname: "c.plain.example.",
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeNameError {
					t.Errorf("rcode = %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
				}
			},
		},
		{
			name: "MinimisationBroken: real NODATA stays", fault: Fault{MinimisationBroken: true}, qtype: dns.TypeMX,
			check: func(t *testing.T, q, r *dns.Msg) {
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
					t.Errorf("rcode = %s with %d answers, want NODATA", dns.RcodeToString[r.Rcode], len(r.Answer))
				}
			},
		},
		{
			name: "SpoofGlue adds out-of-bailiwick junk only", fault: Fault{SpoofGlue: true},
			check: func(t *testing.T, q, r *dns.Msg) {
				want := rrs(t, []string{"ns.spoof.hush. 86400 A 127.53.66.6", "a.root.hush. 86400 A 127.53.66.6"})
				if got := rrs(t, r.Extra); !slices.Equal(got, want) {
					t.Errorf("additional = %v, want %v", got, want)
				}
				if len(r.Ns) != 0 {
					t.Errorf("authority = %v, want none (plain.example. NS is in bailiwick here)", r.Ns)
				}
				if got := rrs(t, r.Answer); !slices.Equal(got, rrs(t, []string{"www.plain.example. 3600 A 192.0.2.1"})) {
					t.Errorf("answer = %v, want the real one", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := defaultNet(t)
			n.SetFault(plain, tc.fault)
			if tc.network == "" {
				tc.network = "udp"
			}
			if tc.qname == "" {
				tc.qname = "www.plain.example."
			}
			if tc.qtype == 0 {
				tc.qtype = dns.TypeA
			}
			q := query(tc.qname, tc.qtype, tc.edns)
			tc.check(t, q, exchange(t, n, tc.network, plain.String(), q))

			// The other server of the zone stays healthy.
			r := exchange(t, n, tc.network, "127.53.10.2", query("www.plain.example.", dns.TypeA, tc.edns))
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Truncated {
				t.Errorf("healthy server: %s, %d answers, TC %v", dns.RcodeToString[r.Rcode], len(r.Answer), r.Truncated)
			}
		})
	}
}

func TestSpoofGlueFromLeafOfAnotherZone(t *testing.T) {
	n := defaultNet(t)
	third := netip.MustParseAddr("127.53.13.1")
	n.SetFault(third, Fault{SpoofGlue: true})
	r := exchange(t, n, "udp", third.String(), query("c.third.example.", dns.TypeA, 1232))
	if got, want := rrs(t, r.Ns), rrs(t, []string{"plain.example. 86400 NS ns.spoof.hush."}); !slices.Equal(got, want) {
		t.Errorf("authority = %v, want %v", got, want)
	}
	if got, want := len(r.Extra), 4; got != want { // three A and the OPT
		t.Errorf("additional has %d records, want %d: %v", got, want, r.Extra)
	}
}

func TestDropWaitsForContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := defaultNet(t)
		a := netip.MustParseAddr("127.53.10.1")
		n.SetFault(a, Fault{Drop: true})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := n.Exchange(ctx, "udp", at(a.String()), query("www.plain.example.", dns.TypeA, 0))
			done <- err
		}()
		synctest.Wait() // the query is now held by the server
		select {
		case err := <-done:
			t.Fatalf("Exchange returned before ctx was done: %v", err)
		default:
		}
		if got, want := n.Queries(a), 1; got != want {
			t.Errorf("Queries = %d, want %d", got, want)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := defaultNet(t)
		a := netip.MustParseAddr("127.53.10.1")
		n.SetFault(a, Fault{Delay: 5 * time.Second})

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		r, err := n.Exchange(ctx, "udp", at(a.String()), query("www.plain.example.", dns.TypeA, 0))
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("Exchange = %v, %v; want an answer", r, err)
		}
		if got, want := time.Since(start), 5*time.Second; got != want {
			t.Errorf("answered after %v, want %v", got, want)
		}

		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := n.Exchange(ctx, "udp", at(a.String()), query("www.plain.example.", dns.TypeA, 0)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want DeadlineExceeded", err)
		}
	})
}

func TestDropOnDeadAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := defaultNet(t)
		dead := netip.MustParseAddr("127.53.24.2")
		n.SetFault(dead, Fault{Drop: true})
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		_, err := n.Exchange(ctx, "udp", at(dead.String()), query("www.half.example.", dns.TypeA, 0))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want DeadlineExceeded (a dropped dead server times out)", err)
		}
	})
}

func TestClearFaults(t *testing.T) {
	n := defaultNet(t)
	a := netip.MustParseAddr("127.53.10.1")
	n.SetFault(a, Fault{Refuse: true})
	n.ClearFaults()
	r := exchange(t, n, "udp", a.String(), query("www.plain.example.", dns.TypeA, 0))
	if r.Rcode != dns.RcodeSuccess {
		t.Errorf("after ClearFaults rcode = %s, want NOERROR", dns.RcodeToString[r.Rcode])
	}
	n.SetFault(a, Fault{Refuse: true})
	n.SetFault(a, Fault{})
	r = exchange(t, n, "udp", a.String(), query("www.plain.example.", dns.TypeA, 0))
	if r.Rcode != dns.RcodeSuccess {
		t.Errorf("after SetFault(zero) rcode = %s, want NOERROR", dns.RcodeToString[r.Rcode])
	}
}

func TestFaultsConcurrent(t *testing.T) {
	n := defaultNet(t)
	a := netip.MustParseAddr("127.53.10.1")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if i%2 == 0 {
					n.SetFault(a, Fault{Refuse: j%2 == 0})
					continue
				}
				if _, err := n.Exchange(context.Background(), "udp", at(a.String()), query("www.plain.example.", dns.TypeA, 0)); err != nil {
					t.Errorf("Exchange: %v", err)
				}
				_ = n.Log()
			}
		})
	}
	wg.Wait()
	if got, want := n.Queries(a), 4*50; got != want {
		t.Errorf("Queries = %d, want %d", got, want)
	}
}
