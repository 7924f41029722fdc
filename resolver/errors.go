package resolver

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// Extended DNS Error codes (RFC 8914 §4) the resolver reports.
const (
	EDEOther           uint16 = 0
	EDEDNSSECBogus     uint16 = 6
	EDEStaleAnswer     uint16 = 3
	EDEProhibited      uint16 = 18
	EDENotReady        uint16 = 14
	EDENoReachableAuth uint16 = 22
	EDENetworkError    uint16 = 23
	EDEInvalidData     uint16 = 24
	EDENotSupported    uint16 = 21
	EDECachedError     uint16 = 13
)

// Error is a resolution failure that carries the Extended DNS Error code
// (RFC 8914) the client should see with its SERVFAIL.
type Error struct {
	EDE uint16
	Err error

	// chain is what a looping CNAME chain gave before it looped.
	chain *partialChain
}

// partialChain is the answer records a failed resolution of name got.
type partialChain struct {
	name   string
	answer []dns.RR
}

func (e *Error) Error() string { return fmt.Sprintf("resolver: %v (EDE %d)", e.Err, e.EDE) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ExtendedDNSError returns the RFC 8914 code and a short text for the client.
// The text names no query and no server.
func (e *Error) ExtendedDNSError() (uint16, string) { return e.EDE, edeText(e) }

func edeText(e *Error) string {
	switch {
	case errors.Is(e.Err, ErrRateLimited):
		return "upstream rate limit"
	case errors.Is(e.Err, ErrBudget):
		return "resolution budget exhausted"
	case errors.Is(e.Err, ErrNoReachable):
		return "no reachable authority"
	case errors.Is(e.Err, ErrLoop):
		return "CNAME or delegation loop"
	}
	return ""
}

// Sentinels callers may test with errors.Is.
var (
	// ErrNoReachable: every server that could answer failed or timed out.
	ErrNoReachable = errors.New("no reachable authority")
	// ErrRateLimited: the zone's upstream rate limit (Config.ZoneRateLimit)
	// refused the query. It wraps ErrBudget: a limit of the moment, not a
	// fact about the zone, so nothing is cached from it.
	ErrRateLimited = fmt.Errorf("%w: zone rate limit", ErrBudget)
	// ErrBudget: a per-query budget (time, queries, depth) ran out.
	ErrBudget = errors.New("resolution budget exhausted")
	// ErrLoop: a CNAME/DNAME chain or a delegation went round in a circle.
	ErrLoop = errors.New("loop detected")
	// ErrMismatch: a reply did not match its query (ID, question).
	ErrMismatch = errors.New("reply does not match query")
	// ErrNotAllowed: a server address is outside the allowed upstreams.
	ErrNotAllowed = errors.New("upstream address not allowed")
)
