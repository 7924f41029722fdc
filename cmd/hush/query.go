package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/hush-dns/hush/transport"
)

// queryOptions is one hush query invocation.
type queryOptions struct {
	server    endpoint
	name      string // fully qualified
	qtype     uint16
	tcp       bool // force TCP
	dnssec    bool // set DO
	cd        bool
	norecurse bool
	short     bool
	timeout   time.Duration
	// insecure skips the tls:// or quic:// server's certificate check;
	// pin, when set, replaces it with a check of the certificate's SPKI
	// pin.
	insecure bool
	pin      string
	// ca, when set (--ca), replaces the system's roots in the check.
	ca *x509.CertPool
	// http3 and get choose HTTP/3 and GET for https:// servers.
	http3, get bool
}

// queryResult is one reply and how it arrived.
type queryResult struct {
	msg *dns.Msg
	// size is the reply's length on the wire.
	size int
	rtt  time.Duration
	// server is the address that answered, as dig prints it:
	// 127.0.0.1#5300(127.0.0.1).
	server string
	// proto is "UDP", "TCP" or, over tls://, "TLS" and the version
	// (TLS1.3); over quic://, "QUIC, " and the TLS version.
	proto string
	// retriedTCP: the UDP reply was truncated and this one came over TCP.
	retriedTCP bool
}

// queryExchanger sends one query to one server and returns its reply.
// There is one implementation per --server scheme (newQueryExchanger
// picks it), each in its file: query_dns.go, query_tls.go, query_https.go
// and query_quic.go. They share exchangeConn (dns:// and tls://),
// unpackReply and noResponse, so that every client reports alike.
type queryExchanger interface {
	exchange(ctx context.Context, q *dns.Msg) (*queryResult, error)
}

func newQueryExchanger(o queryOptions) (queryExchanger, error) {
	switch o.server.Scheme {
	case "dns":
		return &dnsExchanger{ep: o.server, forceTCP: o.tcp}, nil
	case "tls":
		return newTLSExchanger(o), nil
	case "https":
		return newHTTPSExchanger(o), nil
	case "quic":
		return newQUICExchanger(o), nil
	}
	return nil, usageErrorf("--server %q: no client for scheme %q yet", o.server, o.server.Scheme)
}

// exchangeConn is the exchange of the clients that speak DNS messages on
// a dns.Conn (UDP, TCP, TLS): it sends q and reads the reply whose ID
// matches. With skipOtherIDs (UDP) it skips datagrams with another ID
// (late replies to other queries, spoofing attempts), as dig does; on a
// stream a wrong ID is an error. start is when the exchange began,
// connecting included.
func exchangeConn(co *dns.Conn, ep endpoint, proto string, q *dns.Msg, skipOtherIDs bool, start time.Time) (*queryResult, error) {
	if err := co.WriteMsg(q); err != nil {
		return nil, noResponse(ep, proto, err)
	}
	for {
		var h dns.Header
		raw, err := co.ReadMsgHeader(&h)
		if err != nil {
			return nil, noResponse(ep, proto, err)
		}
		if h.Id != q.Id {
			if skipOtherIDs {
				continue
			}
			return nil, wrongID(ep, h.Id, q.Id)
		}
		m, err := unpackReply(ep, raw, q.Id)
		if err != nil {
			return nil, err
		}
		return &queryResult{
			msg:    m,
			size:   len(raw),
			rtt:    time.Since(start),
			server: digServer(co.RemoteAddr(), ep.Host),
			proto:  proto,
		}, nil
	}
}

// unpackReply is the check every client makes of the reply it read: a
// well-formed DNS message carrying the ID it sent (0 over DoQ and DoH).
func unpackReply(ep endpoint, raw []byte, id uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		return nil, fmt.Errorf("query: malformed reply from %s: %w", ep, err)
	}
	if m.Id != id {
		return nil, wrongID(ep, m.Id, id)
	}
	return m, nil
}

// wrongID is the error for a reply to another query.
func wrongID(ep endpoint, got, want uint16) error {
	return fmt.Errorf("query: reply from %s has ID %d, want %d", ep, got, want)
}

// noResponse is the exit-status-1 error: nothing usable came back.
func noResponse(ep endpoint, proto string, err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("query: no response from %s over %s: timed out", ep, proto)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Over UDP this is the ICMP port unreachable a closed port sends.
		return fmt.Errorf("query: no response from %s over %s: connection refused", ep, proto)
	}
	if hint := certHint(err); hint != "" {
		return fmt.Errorf("query: no response from %s over %s: %w; %s", ep, proto, err, hint)
	}
	return fmt.Errorf("query: no response from %s over %s: %w", ep, proto, err)
}

// digQuery is what digArgs took from hush query's arguments.
type digQuery struct {
	server string   // @SERVER, without the @
	plus   []string // +options, as written
	rest   []string // NAME [TYPE]
}

// digPlus are the +options hush query knows: the flags of those names.
var digPlus = []string{"+short", "+tcp", "+dnssec", "+cd", "+norecurse", "+norec"}

// digArgs takes dig's habits out of hush query's arguments: @SERVER and
// +options anywhere among them.
func digArgs(args []string) (digQuery, error) {
	var d digQuery
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "@") && len(a) > 1:
			if d.server != "" {
				return d, usageErrorf("query: two servers, @%s and %s", d.server, a)
			}
			d.server = a[1:]
		case strings.HasPrefix(a, "+") && len(a) > 1:
			if !slices.Contains(digPlus, a) {
				return d, usageErrorf("query: unknown option %q (hush query knows %s)", a, strings.Join(digPlus, " "))
			}
			d.plus = append(d.plus, a)
		default:
			d.rest = append(d.rest, a)
		}
	}
	return d, nil
}

// certHint says what to do when err is a certificate check that failed
// (the usual first query to a server with a self-signed certificate), or
// is "" for other errors.
func certHint(err error) string {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		inv x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
	)
	unknown := errors.As(err, &ua)
	if !unknown && !errors.As(err, &hn) && !errors.As(err, &inv) {
		// quic-go reports the TLS alert with the error's text only.
		msg := err.Error()
		if !strings.Contains(msg, "x509: ") && !strings.Contains(msg, "tls: failed to verify certificate") {
			return ""
		}
		unknown = strings.Contains(msg, "unknown authority")
	}
	pin := "sha256/BASE64 (the pin hush serve prints for its certificate)"
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		pin = spkiPin(cve.UnverifiedCertificates[0]) + " (this server's, if you trust it: check it out of band)"
	}
	what := "the server answered with a certificate hush cannot verify"
	if unknown {
		what = "the server answered with a certificate signed by an authority hush does not know (self-signed?)"
	}
	return what + ": pass --ca FILE with the CA certificate that signed it, --pin " + pin + ", or --insecure to skip the check"
}

// loadCA reads --ca: one or more PEM certificates to trust instead of the
// system's roots.
func loadCA(name string) (*x509.CertPool, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// digServer formats a server address as dig does: 127.0.0.1#53(127.0.0.1).
func digServer(a net.Addr, host string) string {
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h + "#" + p + "(" + host + ")"
}

// parseType reads a query type: a mnemonic (A, aaaa, MX) or TYPEnnn
// (RFC 3597).
func parseType(s string) (uint16, error) {
	u := strings.ToUpper(s)
	if t, ok := dns.StringToType[u]; ok {
		return t, nil
	}
	if rest, ok := strings.CutPrefix(u, "TYPE"); ok {
		if n, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return uint16(n), nil
		}
	}
	return 0, fmt.Errorf("unknown type %q", s)
}

// buildQuery makes the query message: RD unless --norecurse, AD set as dig
// does (asking for the AD bit in the answer), EDNS with a 1232-byte UDP
// size (the DNS flag day 2020 value) and DO for --dnssec.
func buildQuery(o queryOptions) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(o.name, o.qtype)
	q.RecursionDesired = !o.norecurse
	q.AuthenticatedData = true
	q.CheckingDisabled = o.cd
	q.SetEdns0(1232, o.dnssec)
	return q
}

func newQueryCmd(e *env) *cobra.Command {
	var (
		o       queryOptions
		server  string
		timeout string
		pin     string
		ca      string
		port    int
		reverse string
		plus    map[string]*bool // dig's +options, set in digArgs's order
	)
	cmd := &cobra.Command{
		Use:   "query [@SERVER] NAME [TYPE] [+short]",
		Short: "Ask a DNS server one question and print the reply like dig",
		Long: "Ask a DNS server one question and print the reply like dig.\n\n" +
			"TYPE is a mnemonic (A, AAAA, MX, ...) or TYPEnnn; the default is A.\n" +
			"As with dig, @SERVER (anywhere) is --server, -p PORT its port, -x ADDR asks\n" +
			"for ADDR's PTR record, and +short, +tcp, +dnssec, +cd and +norecurse are\n" +
			"the flags of those names.\n" +
			"Over UDP a truncated reply is retried over TCP.\n" +
			"Exit status: 0 when a reply arrived (whatever its rcode), 1 when none did,\n" +
			"2 for bad arguments.",
		Args: func(cmd *cobra.Command, args []string) error {
			d, err := digArgs(args)
			if err != nil {
				return err
			}
			n := len(d.rest)
			switch {
			case reverse != "" && n > 0:
				return usageErrorf("query: -x ADDR takes no NAME or TYPE, got %d arguments", n)
			case reverse == "" && (n < 1 || n > 2):
				return usageErrorf("query: want NAME [TYPE], got %d arguments", n)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := digArgs(args)
			if err != nil {
				return err
			}
			args = d.rest
			if d.server != "" {
				if cmd.Flags().Changed("server") {
					return usageErrorf("query: @%s and --server exclude each other", d.server)
				}
				server = d.server
			}
			for _, p := range d.plus {
				*plus[p] = true
			}
			if o.server, err = parseServerURL(server); err != nil {
				return usageErrorf("--server %q: %v", server, err)
			}
			if cmd.Flags().Changed("port") {
				if port < 1 || port > 65535 {
					return usageErrorf("-p %d: want a port from 1 to 65535", port)
				}
				o.server.Port = uint16(port)
			}
			if reverse != "" {
				a, err := netip.ParseAddr(reverse)
				if err != nil {
					return usageErrorf("-x %q: not an IP address", reverse)
				}
				rev, err := dns.ReverseAddr(a.Unmap().String())
				if err != nil {
					return usageErrorf("-x %q: %v", reverse, err)
				}
				args = []string{rev, "PTR"}
			}
			if o.timeout, err = parseDuration(timeout); err != nil {
				return usageErrorf("--timeout %q: %v", timeout, err)
			}
			if o.timeout == 0 {
				return usageErrorf("--timeout %q: must be greater than 0", timeout)
			}
			o.name = dns.Fqdn(args[0])
			if _, ok := dns.IsDomainName(o.name); !ok {
				return usageErrorf("query: invalid name %q", args[0])
			}
			o.qtype = dns.TypeA
			if len(args) == 2 {
				if o.qtype, err = parseType(args[1]); err != nil {
					return usageErrorf("query: %v", err)
				}
			}
			if cmd.Flags().Changed("pin") {
				if o.pin, err = parsePin(pin); err != nil {
					return usageErrorf("--pin %q: %v", pin, err)
				}
			}
			if ca != "" {
				if o.server.Scheme == "dns" {
					return usageErrorf("--ca applies to tls://, https:// and quic:// servers only")
				}
				if o.insecure || o.pin != "" {
					return usageErrorf("--ca excludes --insecure and --pin")
				}
				if o.ca, err = loadCA(ca); err != nil {
					return usageErrorf("--ca %q: %v", ca, err)
				}
			}
			if (o.insecure || o.pin != "") && o.server.Scheme == "dns" {
				return usageErrorf("--insecure and --pin apply to tls://, https:// and quic:// servers only")
			}
			if (o.http3 || o.get) && o.server.Scheme != "https" {
				return usageErrorf("--http3 and --get apply to https:// servers only")
			}
			if o.http3 && !transport.QUIC {
				return usageErrorf("--http3: HTTP/3 is not in this build (built with -tags noquic)")
			}
			if o.insecure && o.pin != "" {
				return usageErrorf("--insecure and --pin exclude each other")
			}
			x, err := newQueryExchanger(o)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			q := buildQuery(o)
			res, err := x.exchange(ctx, q)
			if err != nil {
				return err
			}
			if o.short {
				return writeShort(e.stdout, res.msg)
			}
			return writeReply(e.stdout, e.version, o, q, res, time.Now())
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&server, "server", "dns://127.0.0.1:53", "server `URL` to ask (dns://HOST:PORT, tls://HOST:PORT, https://HOST:PORT/PATH, quic://HOST:PORT, or a bare address)")
	fs.IntVarP(&port, "port", "p", 0, "the server's `PORT`, whatever --server or @SERVER says (as dig's -p)")
	fs.StringVarP(&reverse, "reverse", "x", "", "ask for the PTR record of `ADDR` (as dig's -x): no NAME or TYPE")
	fs.BoolVar(&o.tcp, "tcp", false, "use TCP only")
	fs.BoolVar(&o.dnssec, "dnssec", false, "set the DO bit: ask for DNSSEC records")
	fs.BoolVar(&o.cd, "cd", false, "set the CD bit: ask the resolver not to validate")
	fs.BoolVar(&o.norecurse, "norecurse", false, "clear the RD bit")
	fs.StringVar(&timeout, "timeout", "5s", "time to wait for the reply, TCP retry included (a `DURATION` or seconds)")
	plus = map[string]*bool{"+short": &o.short, "+tcp": &o.tcp, "+dnssec": &o.dnssec, "+cd": &o.cd, "+norecurse": &o.norecurse, "+norec": &o.norecurse}
	fs.BoolVar(&o.short, "short", false, "print only the answer records' data, one per line")
	fs.BoolVar(&o.insecure, "insecure", false, "tls://, https:// and quic:// only: do not check the server's certificate")
	fs.StringVar(&pin, "pin", "", "tls://, https:// and quic:// only: accept the server's certificate if its SPKI pin is `sha256/BASE64`, whoever signed it")
	fs.StringVar(&ca, "ca", "", "tls://, https:// and quic:// only: check the server's certificate against the CA certificates in this PEM `FILE` instead of the system's")
	fs.BoolVar(&o.http3, "http3", false, "https:// only: use HTTP/3 (QUIC) instead of HTTP/2")
	fs.BoolVar(&o.get, "get", false, "https:// only: send the query with GET (?dns=) instead of POST")
	return cmd
}
