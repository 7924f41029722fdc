package control

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Backend does what the verbs ask. Implementations must be safe for
// concurrent use. Errors are shown to the control client in one line, so
// they must name no query and no client.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	// Flush drops the cached answers for name (every type).
	Flush(ctx context.Context, name string) error
	// FlushZone drops everything cached at or below zone.
	FlushZone(ctx context.Context, zone string) error
	// FlushAll empties the cache.
	FlushAll(ctx context.Context) error
	// FlushInfra forgets what hush learnt about servers: RTTs, EDNS
	// support, lameness and hold-downs.
	FlushInfra(ctx context.Context) error
	// Reload re-reads the configuration file and applies it, or leaves
	// the running configuration as it was and says why.
	Reload(ctx context.Context) error
	NTAAdd(ctx context.Context, name string, until time.Time) error
	NTARemove(ctx context.Context, name string) error
	NTAList(ctx context.Context) ([]NTA, error)
	CacheStats(ctx context.Context) (CacheStats, error)
	// PortalOpen opens a captive-portal window: until p.Until, the names
	// at or below p.Zones (every name when empty) go to p.Resolver, the
	// network's own resolver, unvalidated and cached apart.
	PortalOpen(ctx context.Context, p Portal) error
	// PortalClose ends the window, if one is open.
	PortalClose(ctx context.Context) error
}

// Portal is a captive-portal window (see Backend.PortalOpen).
type Portal struct {
	Resolver netip.AddrPort
	Until    time.Time
	Zones    []string
}

// Captive-portal windows: long enough to log in, short enough that a
// forgotten one ends by itself.
const (
	DefaultPortalDuration = 5 * time.Minute
	MaxPortalDuration     = 30 * time.Minute
)

// Counter is an aggregate count, named by what happened.
type Counter struct {
	Name  string
	Value uint64
}

// Status is what the status verb shows.
type Status struct {
	Version      string
	Uptime       time.Duration
	ConfigFile   string // empty when hush runs without one
	CacheEntries int
	CacheBytes   int64
	Counters     []Counter
	// PortalUntil is when the captive-portal window closes; zero when
	// none is open.
	PortalUntil time.Time
}

// CacheStats is what the cache stats verb shows.
type CacheStats struct {
	Entries  int
	Bytes    int64
	Capacity int64 // bytes
	Hits     uint64
	Misses   uint64
}

// NTA is a negative trust anchor: a domain treated as insecure until a
// time (RFC 7646).
type NTA struct {
	Name  string
	Until time.Time
}

// NTA expiries: an NTA is a stopgap for a broken zone, and RFC 7646 §2
// says it should not outlive a week.
const (
	DefaultNTADuration = 24 * time.Hour
	MaxNTADuration     = 7 * 24 * time.Hour
)

// ErrUsage is wrapped by the errors of malformed requests.
var ErrUsage = errors.New("usage")

// Usage lists the verbs, for the client's help and the usage errors.
const Usage = `status
flush NAME | flush zone NAME | flush all | flush infra
reload
nta add NAME [EXPIRY] | nta remove NAME | nta list
cache stats
portal open RESOLVER [DURATION] [ZONE...] | portal close`

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// request is a parsed control line.
type request struct {
	verb   string // "status", "flush", "flush zone", ...
	name   string
	until  time.Time
	portal Portal
}

// parse parses the words of a request line. now is the clock NTA
// expiries count from.
func parse(words []string, now time.Time) (request, error) {
	if len(words) == 0 {
		return request{}, usage("no verb; verbs are status, flush, reload, nta, cache, portal")
	}
	w := words[0]
	args := words[1:]
	switch {
	case (w == "status" || w == "reload") && len(args) == 0:
		return request{verb: w}, nil
	case w == "cache" && len(args) == 1 && args[0] == "stats":
		return request{verb: "cache stats"}, nil
	case w == "flush" && len(args) == 1 && (args[0] == "all" || args[0] == "infra"):
		return request{verb: "flush " + args[0]}, nil
	case w == "flush" && len(args) == 1:
		name, err := domain(args[0])
		return request{verb: "flush", name: name}, err
	case w == "flush" && len(args) == 2 && args[0] == "zone":
		name, err := domain(args[1])
		return request{verb: "flush zone", name: name}, err
	case w == "nta" && len(args) == 1 && args[0] == "list":
		return request{verb: "nta list"}, nil
	case w == "nta" && len(args) == 2 && args[0] == "remove":
		name, err := domain(args[1])
		return request{verb: "nta remove", name: name}, err
	case w == "nta" && (len(args) == 2 || len(args) == 3) && args[0] == "add":
		name, err := domain(args[1])
		if err != nil {
			return request{}, err
		}
		until := now.Add(DefaultNTADuration)
		if len(args) == 3 {
			if until, err = expiry(args[2], now); err != nil {
				return request{}, err
			}
		}
		return request{verb: "nta add", name: name, until: until}, nil
	case w == "portal" && len(args) == 1 && args[0] == "close":
		return request{verb: "portal close"}, nil
	case w == "portal" && len(args) >= 2 && args[0] == "open":
		p, err := portal(args[1:], now)
		return request{verb: "portal open", portal: p}, err
	}
	return request{}, usage("%q: verbs are\n%s", strings.Join(words, " "), Usage)
}

// domain checks and canonicalises a name: lower case, fully qualified.
// flush all., flush infra. and flush zone. name the domains all, infra
// and zone.
func domain(s string) (string, error) {
	if _, ok := dns.IsDomainName(s); !ok || len(s) > 255 {
		return "", usage("%q is not a domain name", s)
	}
	return dns.CanonicalName(s), nil
}

// expiry parses an NTA expiry: a duration ("90m", "12h", "3d") from now
// or an RFC 3339 time, no more than MaxNTADuration ahead.
func expiry(s string, now time.Time) (time.Time, error) {
	var until time.Time
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return time.Time{}, usage("expiry %q: want a duration (90m, 12h, 3d) or an RFC 3339 time", s)
		}
		if days > int(MaxNTADuration/(24*time.Hour)) {
			// Checked before multiplying: a large count overflows
			// time.Duration into a short, accepted expiry.
			return time.Time{}, usage("expiry %q is more than %v away (RFC 7646 §2)", s, MaxNTADuration)
		}
		until = now.Add(time.Duration(days) * 24 * time.Hour)
	} else if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usage("expiry %q is not in the future", s)
		}
		until = now.Add(d)
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		until = t
	} else {
		return time.Time{}, usage("expiry %q: want a duration (90m, 12h, 3d) or an RFC 3339 time", s)
	}
	if !until.After(now) {
		return time.Time{}, usage("expiry %q is not in the future", s)
	}
	if until.Sub(now) > MaxNTADuration {
		return time.Time{}, usage("expiry %q is more than %v away (RFC 7646 §2)", s, MaxNTADuration)
	}
	return until, nil
}

// portal parses RESOLVER [DURATION] [ZONE...]: the resolver as an IP
// address with an optional port (53), the duration (5m by default, at
// most 30m) and the zones (none: every name).
func portal(args []string, now time.Time) (Portal, error) {
	ap, err := netip.ParseAddrPort(args[0])
	if err != nil {
		a, err2 := netip.ParseAddr(args[0])
		if err2 != nil || a.Zone() != "" {
			return Portal{}, usage("portal resolver %q: want the network's resolver as an IP address, optionally with :port", args[0])
		}
		ap = netip.AddrPortFrom(a, 53)
	}
	a := ap.Addr().Unmap()
	switch {
	case a.Zone() != "":
		return Portal{}, usage("portal resolver %q: want the network's resolver as an IP address without a zone", args[0])
	case !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || ap.Port() == 0:
		return Portal{}, usage("portal resolver %q is not a unicast address and port", args[0])
	case a.IsLinkLocalUnicast():
		// Without its interface a link-local address cannot be sent to.
		return Portal{}, usage("portal resolver %q is link-local: give the network's resolver by another address", args[0])
	}
	p := Portal{Resolver: netip.AddrPortFrom(a, ap.Port()), Until: now.Add(DefaultPortalDuration)}
	args = args[1:]
	if len(args) > 0 {
		d, err := time.ParseDuration(args[0])
		switch {
		case err == nil:
			if d <= 0 || d > MaxPortalDuration {
				return Portal{}, usage("portal duration %q: want more than 0 and at most %v", args[0], MaxPortalDuration)
			}
			p.Until = now.Add(d)
			args = args[1:]
		case looksLikeDuration(args[0]):
			// "5min" or "10" is a mistyped duration, not a zone.
			return Portal{}, usage("portal duration %q: want a duration such as 5m or 90s, at most %v", args[0], MaxPortalDuration)
		}
	}
	if len(args) > 16 {
		return Portal{}, usage("portal: at most 16 zones")
	}
	for _, z := range args {
		name, err := domain(z)
		if err != nil {
			return Portal{}, err
		}
		if !slices.Contains(p.Zones, name) {
			p.Zones = append(p.Zones, name)
		}
	}
	return p, nil
}

// looksLikeDuration: a word with no dot that starts with a digit, a sign
// or a dot is a duration (maybe mistyped); a zone has a dot or a letter
// first ("163.com." has both a digit first and a dot).
func looksLikeDuration(s string) bool {
	return s != "" && strings.IndexByte(s, '.') < 0 && strings.ContainsRune("0123456789+-", rune(s[0]))
}

// run does what r asks and returns the output lines (without the status
// line).
func run(ctx context.Context, b Backend, r request) (string, error) {
	var sb strings.Builder
	switch r.verb {
	case "status":
		st, err := b.Status(ctx)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "version: %s\nuptime: %s\n", st.Version, st.Uptime.Round(time.Second))
		if st.ConfigFile != "" {
			fmt.Fprintf(&sb, "config: %s\n", st.ConfigFile)
		} else {
			fmt.Fprintf(&sb, "config: none\n")
		}
		fmt.Fprintf(&sb, "cache-entries: %d\ncache-bytes: %d\n", st.CacheEntries, st.CacheBytes)
		for _, c := range st.Counters {
			fmt.Fprintf(&sb, "%s: %d\n", c.Name, c.Value)
		}
		if !st.PortalUntil.IsZero() {
			fmt.Fprintf(&sb, "portal-window-until: %s\n", st.PortalUntil.UTC().Format(time.RFC3339))
		}
	case "cache stats":
		cs, err := b.CacheStats(ctx)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "entries: %d\nbytes: %d\ncapacity-bytes: %d\nhits: %d\nmisses: %d\n",
			cs.Entries, cs.Bytes, cs.Capacity, cs.Hits, cs.Misses)
	case "flush":
		return "", b.Flush(ctx, r.name)
	case "flush zone":
		return "", b.FlushZone(ctx, r.name)
	case "flush all":
		return "", b.FlushAll(ctx)
	case "flush infra":
		return "", b.FlushInfra(ctx)
	case "reload":
		return "", b.Reload(ctx)
	case "nta add":
		if err := b.NTAAdd(ctx, r.name, r.until); err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "%s until %s\n", r.name, r.until.UTC().Format(time.RFC3339))
	case "nta remove":
		return "", b.NTARemove(ctx, r.name)
	case "nta list":
		ntas, err := b.NTAList(ctx)
		if err != nil {
			return "", err
		}
		for _, n := range ntas {
			fmt.Fprintf(&sb, "%s until %s\n", n.Name, n.Until.UTC().Format(time.RFC3339))
		}
	case "portal open":
		if err := b.PortalOpen(ctx, r.portal); err != nil {
			return "", err
		}
		what := "every name"
		if len(r.portal.Zones) > 0 {
			what = strings.Join(r.portal.Zones, " ")
		}
		fmt.Fprintf(&sb, "portal window: %s to %s, unvalidated, until %s\n", what, r.portal.Resolver, r.portal.Until.UTC().Format(time.RFC3339))
	case "portal close":
		return "", b.PortalClose(ctx)
	default:
		return "", usage("unknown verb %q", r.verb)
	}
	return sb.String(), nil
}

// Validate checks a request's words as the server would, so that a client
// can report a mistyped verb without connecting.
func Validate(words []string) error {
	_, err := parse(words, time.Now())
	return err
}
