package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// peers starts one upstream of each kind (hush's own listeners) serving
// the same zone and returns their URLs by name.
func peers(t *testing.T, z *zone, c testCert) map[string]string {
	cfg := tconfig(z)
	dns := startDNS(t, cfg)
	dot := startDoT(t, cfg, c)
	doh := startDoH(t, cfg, c, true)
	doq, _ := startDoQ(t, cfg, c, nil)
	return map[string]string{
		"dns":   "dns://" + dns.String(),
		"bare":  dns.String(),
		"tls":   "tls://" + dot.String() + "#upstream.test",
		"https": "https://" + doh.String() + "/dns-query#upstream.test",
		"h3":    "https://" + doh.String() + "/dns-query?http3=1#upstream.test",
		"quic":  "quic://" + doq.String() + "#upstream.test",
	}
}

// TestExchangeEachProtocol: every protocol answers, with the query's ID,
// many queries at once, over few connections.
func TestExchangeEachProtocol(t *testing.T) {
	z := &zone{}
	c := newCert(t, "upstream.test")
	for name, raw := range peers(t, z, c) {
		t.Run(name, func(t *testing.T) {
			u := mustUp(t, raw, Options{RootCAs: c.pool})
			r, err := ask(t, u, "www.test")
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if len(r.Answer) != 1 || r.Rcode != dns.RcodeSuccess {
				t.Fatalf("got %v, want one A record", r)
			}
			if opt := r.IsEdns0(); opt != nil {
				for _, e := range opt.Option {
					if e.Option() == dns.EDNS0PADDING || e.Option() == dns.EDNS0TCPKEEPALIVE {
						t.Errorf("reply keeps the transport's option %d", e.Option())
					}
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := ask(t, u, fmt.Sprintf("n%d.test", i))
					if err == nil && (len(r.Answer) != 1 || !strings.HasPrefix(r.Answer[0].Header().Name, fmt.Sprintf("n%d.", i))) {
						err = fmt.Errorf("query %d: wrong answer %v", i, r.Answer)
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			st := u.(StatsReporter).Stats()
			if st.Exchanges != 51 {
				t.Errorf("exchanges: got %d, want 51", st.Exchanges)
			}
			if name != "dns" && name != "bare" && st.Dials > 2 {
				t.Errorf("dials: got %d for 51 queries, want one connection (two at most)", st.Dials)
			}
		})
	}
}

// TestCertificateChecks: the name, the address, a CA pool and pins.
func TestCertificateChecks(t *testing.T) {
	z := &zone{}
	c := newCert(t, "upstream.test")
	other := newCert(t, "upstream.test")
	p := peers(t, z, c)
	addrOf := func(scheme string) string {
		raw := p[scheme]
		raw = strings.TrimPrefix(raw, scheme+"://")
		raw, _, _ = strings.Cut(raw, "#")
		raw, _, _ = strings.Cut(raw, "/")
		return raw
	}
	for _, scheme := range []string{"tls", "https", "quic"} {
		a := addrOf(scheme)
		tests := []struct {
			name string
			url  string
			opts Options
			ok   bool
		}{
			{"name and CA", scheme + "://" + a + "#upstream.test", Options{RootCAs: c.pool}, true},
			{"address and CA", scheme + "://" + a, Options{RootCAs: c.pool}, true},
			{"wrong name", scheme + "://" + a + "#other.test", Options{RootCAs: c.pool}, false},
			{"system roots", scheme + "://" + a + "#upstream.test", Options{}, false},
			{"other CA", scheme + "://" + a + "#upstream.test", Options{RootCAs: other.pool}, false},
			{"pin", scheme + "://" + a + "?pin=" + c.pin, Options{}, true},
			{"pin after name", scheme + "://" + a + "#nobody.test?pin=" + c.pin, Options{}, true},
			{"one of two pins", scheme + "://" + a + "?pin=" + other.pin + "&pin=" + c.pin, Options{}, true},
			{"wrong pin", scheme + "://" + a + "?pin=" + other.pin, Options{RootCAs: c.pool}, false},
		}
		for _, tt := range tests {
			t.Run(scheme+"/"+tt.name, func(t *testing.T) {
				var log logBuf
				tt.opts.Logf = log.logf
				u := mustUp(t, tt.url, tt.opts)
				_, err1 := ask(t, u, "secret-name.test")
				_, err2 := ask(t, u, "secret-name.test")
				if tt.ok {
					if err1 != nil {
						t.Fatalf("got %v, want an answer", err1)
					}
					return
				}
				if err1 == nil || err2 == nil {
					t.Fatalf("got answers, want the certificate refused")
				}
				if !errors.Is(err1, ErrCertificate) {
					t.Errorf("error %v is not ErrCertificate", err1)
				}
				lines := log.get()
				if len(lines) != 1 {
					t.Errorf("log: got %q, want one line for two refusals", lines)
				}
				for _, l := range append(lines, err1.Error()) {
					if strings.Contains(l, "secret-name") {
						t.Errorf("%q names the query", l)
					}
				}
			})
		}
	}
}

// TestNoPlaintextFallback: an encrypted upstream on a port that speaks
// plain DNS fails rather than falling back.
func TestNoPlaintextFallback(t *testing.T) {
	z := &zone{}
	plain := startDNS(t, tconfig(z))
	for _, scheme := range []string{"tls", "https", "quic"} {
		u := mustUp(t, scheme+"://"+plain.String()+"?pin=sha256/"+strings.Repeat("A", 43)+"=", Options{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := u.Exchange(ctx, query("www.test", dns.TypeA))
		cancel()
		if err == nil {
			t.Errorf("%s to a plain DNS port: got an answer, want an error", scheme)
		}
	}
	if n := z.queries.Load(); n != 0 {
		t.Errorf("the plain server answered %d queries, want 0", n)
	}
}
