package resolver

import (
	"errors"
	"strconv"
	"strings"

	"github.com/hush-dns/hush/dnssec"
	"github.com/miekg/dns"
)

// Trust anchor sentinels (RFC 8509): a client can learn which root keys a
// validating resolver trusts by asking for names whose first label is
// root-key-sentinel-is-ta-<key tag> or root-key-sentinel-not-ta-<key tag>
// (five decimal digits). For a Secure A or AAAA answer to a query without
// CD, is-ta fails with SERVFAIL unless the key tag is one of the root's
// trust anchors, and not-ta fails if it is.

const (
	sentinelIsTA  = "root-key-sentinel-is-ta-"
	sentinelNotTA = "root-key-sentinel-not-ta-"
)

// errSentinel is the failure RFC 8509 §3.2 asks for; it names nothing.
var errSentinel = errors.New("root key sentinel")

// sentinel returns an error when q's answer, of DNSSEC status status, must
// be SERVFAIL under RFC 8509 §3.2.
func (r *Resolver) sentinel(q *dns.Msg, status dnssec.Status) error {
	qq := q.Question[0]
	if !r.cfg.DNSSEC || q.CheckingDisabled || status != dnssec.Secure ||
		(qq.Qtype != dns.TypeA && qq.Qtype != dns.TypeAAAA) {
		return nil
	}
	label := qq.Name
	if off, end := dns.NextLabel(qq.Name, 0); !end {
		label = qq.Name[:off-1]
	}
	label = strings.ToLower(label)
	var isTA bool
	var digits string
	switch {
	case strings.HasPrefix(label, sentinelIsTA):
		isTA, digits = true, label[len(sentinelIsTA):]
	case strings.HasPrefix(label, sentinelNotTA):
		digits = label[len(sentinelNotTA):]
	default:
		return nil
	}
	tag, ok := sentinelKeyTag(digits)
	if !ok {
		return nil
	}
	if r.rootAnchorTag(tag) != isTA {
		return &Error{EDE: EDEOther, Err: errSentinel}
	}
	return nil
}

// sentinelKeyTag parses the five decimal digits of a sentinel label.
func sentinelKeyTag(s string) (uint16, bool) {
	if len(s) != 5 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// rootAnchorTag reports whether tag is the key tag of one of the root's
// trust anchors.
func (r *Resolver) rootAnchorTag(tag uint16) bool {
	a := r.anchors.Load().Lookup(".")
	if a == nil {
		return false
	}
	for _, ds := range a.DS {
		if ds.KeyTag == tag {
			return true
		}
	}
	for _, k := range a.DNSKEY {
		if k.KeyTag() == tag {
			return true
		}
	}
	return false
}
