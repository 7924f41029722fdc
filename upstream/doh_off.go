//go:build nohttp

package upstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// httpBuilt is false in a build with -tags nohttp (the MIPS router
// builds): https:// upstreams are refused when the URL is parsed.
const httpBuilt = false

var errNoHTTP = errors.New("https:// upstreams are not in this build (built with -tags nohttp, as the MIPS router builds are); use tls://")

// noHTTP is an https:// upstream built without Parse, which refuses
// them: every query fails with errNoHTTP.
type noHTTP struct{ spec Spec }

func newDoH(s Spec, _ Options) noHTTP { return noHTTP{s} }

func (u noHTTP) Exchange(context.Context, *dns.Msg) (*dns.Msg, error) {
	return nil, fmt.Errorf("upstream %s: %w", u.spec, errNoHTTP)
}
func (u noHTTP) String() string { return u.spec.String() }
func (u noHTTP) Close() error   { return nil }
