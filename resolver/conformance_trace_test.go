package resolver_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-dns/hush/resolver/resolvertest/rpl"
	"github.com/miekg/dns"
)

// TestConformanceTrace plays the one scenario HUSH_RPL_TRACE names (a
// file in the scenario directory) and logs every upstream exchange and
// every client answer or error, for finding why a scenario fails:
//
//	HUSH_RPL_TRACE=val_secds.rpl go test -run TestConformanceTrace -v ./resolver/
func TestConformanceTrace(t *testing.T) {
	name := os.Getenv("HUSH_RPL_TRACE")
	if name == "" {
		t.Skip("set HUSH_RPL_TRACE=scenario.rpl to trace one scenario")
	}
	s, err := rpl.ParseFile(filepath.Join(rplDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	f := func(s *rpl.Scenario, ex rpl.Exchanger, now func() time.Time) (rpl.Resolver, error) {
		res, err := rplFactory(s, traceExchanger{t, ex}, now)
		if err != nil {
			return nil, err
		}
		return traceResolver{t, res}, nil
	}
	r := rpl.Play(t.Context(), s, f, os.Getenv("HUSH_CONFORMANCE") == "strict")
	t.Logf("result: passed=%v skipped=%v step=%d\n%s", r.Passed, r.Skipped, r.Step, r.Reason)
	for _, u := range r.Unmatched {
		t.Logf("unmatched: %s", u)
	}
}

type traceExchanger struct {
	t  *testing.T
	ex rpl.Exchanger
}

func (e traceExchanger) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	m, err := e.ex.Exchange(ctx, network, server, q)
	qq := q.Question[0]
	if err != nil {
		e.t.Logf("-> %s %s %s %s: %v", server.Addr(), network, qq.Name, dns.TypeToString[qq.Qtype], err)
		return m, err
	}
	e.t.Logf("-> %s %s %s %s: %s\n%s", server.Addr(), network, qq.Name, dns.TypeToString[qq.Qtype], dns.RcodeToString[m.Rcode], short(m))
	return m, nil
}

type traceResolver struct {
	t   *testing.T
	res rpl.Resolver
}

func (r traceResolver) ServeDNS(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	qq := q.Question[0]
	m, err := r.res.ServeDNS(ctx, q)
	if err != nil {
		r.t.Logf("CLIENT %s %s cd=%v: error %v", qq.Name, dns.TypeToString[qq.Qtype], q.CheckingDisabled, err)
	} else {
		r.t.Logf("CLIENT %s %s cd=%v: %s ad=%v\n%s", qq.Name, dns.TypeToString[qq.Qtype], q.CheckingDisabled, dns.RcodeToString[m.Rcode], m.AuthenticatedData, short(m))
	}
	return m, err
}

func short(m *dns.Msg) string {
	var b strings.Builder
	for i, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			s := rr.String()
			if len(s) > 110 {
				s = s[:110] + "…"
			}
			b.WriteString("   " + [3]string{"AN", "NS", "AR"}[i] + " " + s + "\n")
		}
	}
	return b.String()
}
