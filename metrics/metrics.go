package metrics

import (
	"runtime"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// Namespace prefixes every hush metric name.
const Namespace = "hush"

// Transport is the protocol a query arrived over; its label values are
// the listen URL schemes.
type Transport uint8

// The transports, in the order of their label values.
const (
	UDP Transport = iota
	TCP
	TLS
	HTTPS
	QUIC
	numTransports
)

var transportNames = [numTransports]string{"udp", "tcp", "tls", "https", "quic"}

// String returns the label value of t.
func (t Transport) String() string {
	if t < numTransports {
		return transportNames[t]
	}
	return "other"
}

// DNSSECStatus is the security status of an answer (RFC 4035 §4.3), as
// the resolver judged it. The zero value is Insecure, which is also what
// an answer is when validation is off.
type DNSSECStatus uint8

// The statuses, in the order of their label values.
const (
	Insecure DNSSECStatus = iota
	Secure
	Bogus
	Indeterminate
	numStatuses
)

var statusNames = [numStatuses]string{"insecure", "secure", "bogus", "indeterminate"}

// PolicyAction is what the filtering policy did with a query.
type PolicyAction uint8

// The policy actions, in the order of their label values.
const (
	// Blocked: a blocklist or RPZ answered NXDOMAIN, NODATA or a null
	// address.
	Blocked PolicyAction = iota
	// LocalData: local data, a hosts file or RPZ local data answered.
	LocalData
	numActions
)

var actionNames = [numActions]string{"blocked", "local_data"}

// qtypes is the fixed set of query types counted by name; everything
// else is counted as "other", so a client cannot make a label value.
var qtypes = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeNS,
	dns.TypePTR, dns.TypeSOA, dns.TypeSRV, dns.TypeTXT, dns.TypeHTTPS,
	dns.TypeSVCB, dns.TypeDS, dns.TypeDNSKEY, dns.TypeCAA, dns.TypeNAPTR,
	dns.TypeANY,
}

// qtypeIndex maps a query type to its slot in Metrics.qtypes; the slot
// after the named types is "other".
func qtypeIndex(t uint16) int {
	for i, q := range qtypes {
		if q == t {
			return i
		}
	}
	return len(qtypes)
}

// maxRcode is the highest rcode counted by name (NOTZONE, RFC 2136); the
// extended rcodes (BADVERS and up) are "other".
const maxRcode = dns.RcodeNotZone

// maxEDE is the highest Extended DNS Error code counted by number
// (RFC 8914 and the IANA registry as of 2024 end at 30); anything above is
// "other".
const maxEDE = 30

// Listener is the connection gauge of one listener. Its methods do
// nothing on a nil Listener.
type Listener struct{ open gauge }

// Opened counts a connection accepted.
func (l *Listener) Opened() {
	if l != nil {
		l.open.Inc()
	}
}

// Closed counts a connection closed.
func (l *Listener) Closed() {
	if l != nil {
		l.open.Dec()
	}
}

// Sources are the callbacks the registry reads at each scrape for values
// that live elsewhere. Nil callbacks leave their metric out.
type Sources struct {
	// CacheEntries and CacheBytes give the size of the cache.
	CacheEntries func() float64
	CacheBytes   func() float64
}

// Options configure New.
type Options struct {
	// Version is the hush version reported by hush_build_info.
	Version string
	// Listeners are the names of the listeners whose open connections
	// are counted (hush_connections_open{listener=...}). The operator
	// chooses them through the configuration; they are never derived
	// from a client.
	Listeners []string
	Sources
}

// Metrics holds hush's metrics and the registry that exposes them. All
// methods are safe for concurrent use and do nothing on a nil *Metrics,
// so that a hush without a metrics listener pays one nil check.
type Metrics struct {
	reg registry

	queries     [numTransports]counter
	qtypes      []counter // len(qtypes)+1, the last is "other"
	rcodes      [maxRcode + 2]counter
	dnssec      [numStatuses]counter
	ede         [maxEDE + 2]counter
	policy      [numActions]counter
	duration    histogram
	cacheHits   counter
	cacheMisses counter
	stale       counter
	rateLimited counter
	upQueries   counter
	upTimeouts  counter
	upRTT       histogram
	reloadsOK   counter
	reloadsBad  counter
	listeners   map[string]*Listener
}

func name(n string) string { return Namespace + "_" + n }

// New builds the metrics and registers them, with the Go runtime and
// process metrics, in a registry of their own (never a global one):
// client_golang's, or with -tags litemetrics the small one of lite.go.
func New(opts Options) *Metrics { return newWith(newRegistry(), opts) }

func newWith(reg registry, opts Options) *Metrics {
	m := &Metrics{reg: reg, listeners: make(map[string]*Listener)}
	m.reg.buildInfo(name("build_info"),
		"Always 1; the labels give the hush version and the Go version it was built with.",
		opts.Version, runtime.Version())

	copy(m.queries[:], m.counterVec("queries_total", "Queries received, by transport.", "transport", transportNames[:]))
	typeNames := make([]string, 0, len(qtypes)+1)
	for _, t := range qtypes {
		typeNames = append(typeNames, dns.TypeToString[t])
	}
	m.qtypes = m.counterVec("queries_by_qtype_total", "Queries received, by query type (a fixed set; the rest are other).", "qtype", append(typeNames, "other"))
	rcodeNames := make([]string, 0, maxRcode+2)
	for i := 0; i <= maxRcode; i++ {
		rcodeNames = append(rcodeNames, rcodeLabel(i))
	}
	copy(m.rcodes[:], m.counterVec("answers_total", "Answers sent, by response code.", "rcode", append(rcodeNames, "other")))
	copy(m.dnssec[:], m.counterVec("answers_dnssec_total", "Answers sent, by DNSSEC status.", "status", statusNames[:]))
	edeNames := make([]string, 0, maxEDE+2)
	for i := 0; i <= maxEDE; i++ {
		edeNames = append(edeNames, strconv.Itoa(i))
	}
	copy(m.ede[:], m.counterVec("answers_ede_total", "Extended DNS Errors (RFC 8914) sent, by INFO-CODE.", "code", append(edeNames, "other")))
	copy(m.policy[:], m.counterVec("policy_answers_total", "Answers made by the filtering policy instead of resolution, by action.", "action", actionNames[:]))
	m.duration = m.histogram("request_duration_seconds", "Time from a query's arrival to its answer.",
		[]float64{.0005, .001, .005, .01, .05, .1, .25, .5, 1, 2, 5})
	m.cacheHits = m.counter("cache_hits_total", "Queries answered from the cache.")
	m.cacheMisses = m.counter("cache_misses_total", "Queries the cache could not answer.")
	m.stale = m.counter("answers_stale_total", "Answers served from expired cache entries (RFC 8767).")
	m.rateLimited = m.counter("rate_limited_total", "Queries refused or dropped by a rate or connection limit (how many, not whose).")
	m.upQueries = m.counter("upstream_queries_total", "Queries sent to authoritative servers or forwarders.")
	m.upTimeouts = m.counter("upstream_timeouts_total", "Upstream queries that got no answer in time.")
	m.upRTT = m.histogram("upstream_rtt_seconds", "Round-trip time of answered upstream queries.",
		[]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 1.5})
	reloads := m.counterVec("reloads_total", "Configuration reloads, by result.", "result", []string{"ok", "failed"})
	m.reloadsOK, m.reloadsBad = reloads[0], reloads[1]

	conns := m.reg.gaugeVec(name("connections_open"), "Open client connections, by listener.", "listener", opts.Listeners)
	for i, l := range opts.Listeners {
		m.listeners[l] = &Listener{open: conns[i]}
	}
	if f := opts.CacheEntries; f != nil {
		m.reg.gaugeFunc(name("cache_entries"), "Entries in the cache.", f)
	}
	if f := opts.CacheBytes; f != nil {
		m.reg.gaugeFunc(name("cache_size_bytes"), "Estimated bytes held by the cache.", f)
	}
	return m
}

func rcodeLabel(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return lower(s)
	}
	return "other"
}

// lower lowercases ASCII (rcode names are ASCII) without strings.ToLower's
// Unicode tables.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (m *Metrics) counter(n, help string) counter {
	return m.reg.counterVec(name(n), help, "", []string{""})[0]
}

func (m *Metrics) counterVec(n, help, label string, values []string) []counter {
	return m.reg.counterVec(name(n), help, label, values)
}

func (m *Metrics) histogram(n, help string, buckets []float64) histogram {
	return m.reg.histogram(name(n), help, buckets)
}

// Listener returns the connection gauge of the listener registered under
// name in Options.Listeners, or nil (whose methods do nothing) for any
// other name: a name never becomes a new label value after New.
func (m *Metrics) Listener(name string) *Listener {
	if m == nil {
		return nil
	}
	return m.listeners[name]
}

// Query counts a query received over t with query type qtype.
func (m *Metrics) Query(t Transport, qtype uint16) {
	if m == nil {
		return
	}
	if t < numTransports {
		m.queries[t].Inc()
	}
	m.qtypes[qtypeIndex(qtype)].Inc()
}

// Answer counts an answer with rcode rc (the full, extended rcode), its
// DNSSEC status and Extended DNS Error (ede < 0 for none), sent d after
// the query arrived.
func (m *Metrics) Answer(rc int, status DNSSECStatus, ede int, d time.Duration) {
	if m == nil {
		return
	}
	if rc < 0 || rc > maxRcode {
		rc = maxRcode + 1
	}
	m.rcodes[rc].Inc()
	if status < numStatuses {
		m.dnssec[status].Inc()
	}
	if ede >= 0 {
		if ede > maxEDE {
			ede = maxEDE + 1
		}
		m.ede[ede].Inc()
	}
	m.duration.Observe(d.Seconds())
}

// CacheHit counts a query answered from the cache.
func (m *Metrics) CacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

// CacheMiss counts a query the cache could not answer.
func (m *Metrics) CacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

// Stale counts an answer served from an expired cache entry.
func (m *Metrics) Stale() {
	if m != nil {
		m.stale.Inc()
	}
}

// RateLimited counts a query refused or dropped by a limit.
func (m *Metrics) RateLimited() {
	if m != nil {
		m.rateLimited.Inc()
	}
}

// Policy counts an answer made by the filtering policy.
func (m *Metrics) Policy(a PolicyAction) {
	if m != nil && a < numActions {
		m.policy[a].Inc()
	}
}

// UpstreamQuery counts an upstream query that was answered after rtt.
func (m *Metrics) UpstreamQuery(rtt time.Duration) {
	if m != nil {
		m.upQueries.Inc()
		m.upRTT.Observe(rtt.Seconds())
	}
}

// UpstreamTimeout counts an upstream query that got no answer in time.
// It counts as an upstream query too.
func (m *Metrics) UpstreamTimeout() {
	if m != nil {
		m.upQueries.Inc()
		m.upTimeouts.Inc()
	}
}

// UpstreamError counts an upstream query that failed otherwise (refused
// connection, unreachable network).
func (m *Metrics) UpstreamError() {
	if m != nil {
		m.upQueries.Inc()
	}
}

// Reload counts a configuration reload, successful or not.
func (m *Metrics) Reload(ok bool) {
	switch {
	case m == nil:
	case ok:
		m.reloadsOK.Inc()
	default:
		m.reloadsBad.Inc()
	}
}

// Totals are the aggregate counts hush ctl status shows.
type Totals struct {
	Queries          uint64
	CacheHits        uint64
	CacheMisses      uint64
	Servfail         uint64
	Blocked          uint64
	LocalData        uint64
	UpstreamQueries  uint64
	UpstreamTimeouts uint64
	Stale            uint64
}

// Totals reads the counters behind Totals. It is for the control channel,
// not the query path.
func (m *Metrics) Totals() Totals {
	if m == nil {
		return Totals{}
	}
	var t Totals
	for i := range m.queries {
		t.Queries += value(m.queries[i])
	}
	t.CacheHits = value(m.cacheHits)
	t.CacheMisses = value(m.cacheMisses)
	t.Servfail = value(m.rcodes[dns.RcodeServerFailure])
	t.Blocked = value(m.policy[Blocked])
	t.LocalData = value(m.policy[LocalData])
	t.UpstreamQueries = value(m.upQueries)
	t.UpstreamTimeouts = value(m.upTimeouts)
	t.Stale = value(m.stale)
	return t
}
