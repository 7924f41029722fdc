//go:build noquic

package upstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// quicBuilt is false in a build with -tags noquic (the router builds of
// make cross): quic:// upstreams and http3=1 are refused when the URL is
// parsed, so a configuration names the problem at start.
const quicBuilt = false

var errNoQUIC = errors.New("quic:// and http3=1 are not in this build (built with -tags noquic, as the router builds are); use tls://" + map[bool]string{true: " or https://"}[httpBuilt])

// noQUIC is a quic:// upstream built without ParseSpec, which refuses
// them: every query fails with errNoQUIC.
type noQUIC struct{ spec Spec }

func newDoQ(s Spec, _ Options) noQUIC { return noQUIC{s} }

func (u noQUIC) Exchange(context.Context, *dns.Msg) (*dns.Msg, error) {
	return nil, fmt.Errorf("upstream %s: %w", u.spec, errNoQUIC)
}
func (u noQUIC) String() string { return u.spec.String() }
func (u noQUIC) Close() error   { return nil }
