package resolver

import (
	"net/netip"
	"time"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
	"github.com/hush-dns/hush/ratelimit"
	"github.com/miekg/dns"
)

// Config configures a Resolver. Zero fields take the documented defaults.
type Config struct {
	// RootHints are the root servers' NS records and their A/AAAA
	// addresses (see ParseRootHints, DefaultRootHints). Required unless
	// Forwarders are set.
	RootHints []dns.RR
	// Forwarders, when set, are recursive resolvers every upstream
	// question goes to, with recursion desired, instead of walking the
	// tree from the root: a router's resolver forwarding to its ISP's,
	// or to a local DNS-over-TLS proxy. They are queried whatever
	// AllowUpstream says (the operator named them), the fastest first.
	// Answers are validated as any others when DNSSEC is on: the keys
	// and DS records go through the forwarders too.
	Forwarders []netip.AddrPort
	// ForwardZones send the names at and under each zone to a Forwarder
	// (any protocol; see Forwarder). A ForwardZone for "." forwards
	// everything no longer match claims, and makes RootHints optional.
	// StubZones iterate their names from the servers given. For a name,
	// the longest matching forward or stub zone wins; without one, the
	// name is iterated from the root (or goes to Forwarders).
	ForwardZones []ForwardZone
	StubZones    []StubZone
	// PrivateAddresses turns on DNS rebinding protection: A and AAAA
	// records in these prefixes (PrivateRanges is the usual set) are
	// removed from answers for names outside PrivateDomains and the
	// forward and stub zones, and the answer says so with EDE 15.
	PrivateAddresses []netip.Prefix
	// PrivateDomains (canonical, fully qualified) may hold private
	// addresses.
	PrivateDomains []string
	// DNS64Prefix, a /96 (DNS64WellKnown is the usual one), turns on
	// DNS64 (RFC 6147): AAAA answers synthesised from A records for
	// names without AAAA records. The zero Prefix leaves it off.
	DNS64Prefix netip.Prefix
	// Exchanger sends upstream queries. Nil means a NetExchanger.
	Exchanger Exchanger
	// Cache holds answers and delegations. Nil means a cache of
	// DefaultCacheEntries entries.
	Cache *cache.Cache
	// AllowUpstream lists prefixes that may be queried although they are
	// loopback, private (RFC 1918, ULA), link-local or unspecified.
	// Public unicast addresses are always allowed.
	AllowUpstream []netip.Prefix
	// UpstreamPort is the port authoritative servers are queried on
	// (default 53). Tests use it to run servers as an unprivileged user.
	UpstreamPort uint16
	// NoQNameMinimisation turns RFC 9156 QNAME minimisation off.
	NoQNameMinimisation bool
	// NoIPv4 and NoIPv6 keep upstream queries off one address family,
	// for hosts without a route for it (Unbound's do-ip4/do-ip6: no).
	// Setting both is an error.
	NoIPv4, NoIPv6 bool
	// OutOfZoneGlue uses the addresses a referral gives for name servers
	// outside the zone that sent it (Unbound's harden-glue: no), for that
	// referral only: they are never cached, since the server had no
	// authority over them. Off by default: such glue is how cache
	// poisoning works, and without it the names are looked up.
	OutOfZoneGlue bool
	// No0x20 turns off the random case of upstream questions (0x20; see
	// upstreamGuard). On by default; servers that do not preserve case are
	// found and asked without it anyway.
	No0x20 bool
	// NoUpstreamCookies turns off DNS cookies (RFC 7873) toward
	// authoritative servers. On by default.
	NoUpstreamCookies bool
	// ZoneRateLimit, when set, bounds the queries sent toward each zone's
	// servers (Unbound's ratelimit), so that a flood of random names
	// under one zone cannot make hush flood its servers; the excess
	// fails with SERVFAIL and EDE 0 "upstream rate limit". Nil: no limit.
	ZoneRateLimit *ratelimit.Zones
	// NoPrefetch turns prefetch off. On by default: an answer asked for
	// in the last tenth of its TTL is refreshed in the background, once,
	// so that busy names never go cold (Unbound's prefetch); at most
	// MaxPrefetches refreshes run at once, the rest are skipped.
	NoPrefetch bool
	// NoServeStale turns serve-stale (RFC 8767) off. On by default: when
	// the Cache keeps expired answers (cache.Config.StaleFor) and a
	// refresh fails, or takes longer than StaleClientTimeout, the expired
	// answer is served with TTL 30 and EDE 3 (Stale Answer; 19 for a
	// stale NXDOMAIN) while the refresh goes on. Bogus data is never
	// served stale.
	NoServeStale bool
	// StaleClientTimeout is how long a client with a stale answer
	// waiting waits for the refresh (default 1.8 s, Unbound's
	// serve-expired-client-timeout).
	StaleClientTimeout time.Duration
	// Limits bound the work of one client query.
	Limits Limits
	// SideCaches bound the caches kept besides Cache (validated keys,
	// aggressive-NSEC records, signature checks), which Cache's bound
	// does not count: an operator who sizes Cache for a small machine
	// sizes these with it (hush derives them from --cache-size). Zero
	// fields take DefaultSideCaches.
	SideCaches SideCaches
	// Now is the wall clock (default time.Now): signature validity
	// windows and calendar expiries of negative trust anchors are judged
	// by it. Tests and scenario players replace it.
	Now func() time.Time
	// AgeClock is the clock ages and timeouts count by: cache and
	// negative-cache TTLs, validated keys and NSEC records, server
	// hold-downs and statistics. It must count time the machine spent
	// suspended, or a laptop wakes with answers that outlived their TTL.
	// Nil means Now when Now is set (so that a test drives one clock),
	// and clock.Boot() otherwise.
	AgeClock func() time.Time
	// ClockNotBefore is the earliest time the wall clock can plausibly
	// show: hush's build time, or later. While Now is before it,
	// signature validity times are not checked and answers carry no AD
	// but EDE 5 (see ClockPlausible). Zero means the clock is always
	// believed.
	ClockNotBefore time.Time

	// DNSSEC turns validation on (RFC 4033–4035): upstream queries ask
	// for signatures, every response is validated before it is cached,
	// Bogus answers become SERVFAIL with an Extended DNS Error and Secure
	// ones carry AD for clients that ask (DO or AD).
	DNSSEC bool
	// TrustAnchors are the keys validation starts from; nil means the
	// root's (dnssec.RootAnchors). Names no anchor covers are Insecure.
	// SetTrustAnchors replaces them.
	TrustAnchors *dnssec.Anchors
	// OnAnchorKeys, when set, is called with the DNSKEY answer (keys and
	// RRSIGs) of a zone that has a trust anchor each time the resolver
	// has validated it from that anchor with signature times checked, for
	// RFC 5011 tracking (dnssec.Tracker). It runs on the query's
	// goroutine and must be quick; it must not call back into the
	// resolver but may call SetTrustAnchors.
	OnAnchorKeys func(zone string, answer []dns.RR, now time.Time)
	// NegativeAnchors (RFC 7646) are domains treated as Insecure.
	NegativeAnchors []dnssec.NTA
	// DNSSECLimits bound validation work (KeyTrap and friends); zero
	// means dnssec.DefaultLimits.
	DNSSECLimits dnssec.Limits
	// DNSSECPolicy: clock skew, SHA-1.
	DNSSECPolicy dnssec.Policy

	// Designated are the SVCB records of this resolver's encrypted
	// endpoints, the answer to _dns.resolver.arpa SVCB (Discovery of
	// Designated Resolvers, RFC 9462), so that clients that know only
	// our address can upgrade to DoT, DoH or DoQ. Their owner names must
	// be _dns.resolver.arpa. Empty means no DDR: the name does not exist.
	Designated []*dns.SVCB
}

// Limits bound the work done for one client query. Zero fields take the
// defaults in DefaultLimits.
type Limits struct {
	// Timeout is the total time one client query may take.
	Timeout time.Duration
	// QueryTimeout is the time one upstream query may take before the
	// next server is tried.
	QueryTimeout time.Duration
	// MaxQueries caps upstream queries sent for one client query,
	// sub-queries for name server addresses included.
	MaxQueries int
	// MaxReferrals caps the referrals followed for one name.
	MaxReferrals int
	// MaxCNAME caps the CNAME/DNAME links followed.
	MaxCNAME int
	// MaxNSNames caps the glueless NS names resolved per delegation
	// (NXNSAttack, CVE-2020-12662).
	MaxNSNames int
	// MaxDepth caps nested sub-resolutions (an NS name whose servers'
	// names need resolving, and so on).
	MaxDepth int
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{
	Timeout:      10 * time.Second,
	QueryTimeout: 1500 * time.Millisecond,
	MaxQueries:   64,
	MaxReferrals: 32,
	MaxCNAME:     12,
	MaxNSNames:   6,
	MaxDepth:     4,
}

// SideCaches bound the resolver's caches other than the answer cache. Each
// is filled by what clients ask, so each needs a bound of its own: an
// attacker with many signed zones, or a signer answering every name with
// a fresh NSEC (RFC 4470), fills them as readily as the answer cache.
type SideCaches struct {
	// KeyBytes bounds the validated DNSKEY sets kept, in estimated
	// bytes (at most 4,096 zones whatever it says).
	KeyBytes int64
	// NSECBytes bounds the NSEC and NSEC3 records kept for aggressive
	// use (RFC 8198), in estimated bytes; one zone keeps at most a
	// sixteenth of it, so that no zone takes the room of all the others.
	NSECBytes int64
	// SigEntries bounds the signature checks remembered
	// (dnssec.SigCache), about dnssec.SigCacheEntryBytes each.
	SigEntries int
}

// DefaultSideCaches are the bounds a zero SideCaches field takes: about
// 41.5 MiB in all, sized for a server, not a router.
var DefaultSideCaches = SideCaches{
	KeyBytes:   16 << 20,
	NSECBytes:  24 << 20,
	SigEntries: dnssec.DefaultSigCacheEntries,
}

// withDefaults fills each zero (or negative) field of s from
// DefaultSideCaches.
func (s SideCaches) withDefaults() SideCaches {
	d := DefaultSideCaches
	if s.KeyBytes <= 0 {
		s.KeyBytes = d.KeyBytes
	}
	if s.NSECBytes <= 0 {
		s.NSECBytes = d.NSECBytes
	}
	if s.SigEntries <= 0 {
		s.SigEntries = d.SigEntries
	}
	return s
}

// DefaultCacheEntries is the size of the cache New makes when Config.Cache
// is nil.
const DefaultCacheEntries = 100_000

// withDefaults fills each zero field of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setD(&l.Timeout, d.Timeout)
	setD(&l.QueryTimeout, d.QueryTimeout)
	set(&l.MaxQueries, d.MaxQueries)
	set(&l.MaxReferrals, d.MaxReferrals)
	set(&l.MaxCNAME, d.MaxCNAME)
	set(&l.MaxNSNames, d.MaxNSNames)
	set(&l.MaxDepth, d.MaxDepth)
	return l
}
