package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hush-dns/hush/transport"
	"github.com/miekg/dns"
	"github.com/spf13/cobra"
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
// picks it); DoT, DoH and DoQ add theirs next to dnsExchanger.
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

// dnsExchanger speaks plain DNS: UDP, then TCP when the reply is
// truncated, or TCP only. It does not retry a lost UDP query: --timeout
// bounds the whole exchange.
type dnsExchanger struct {
	ep       endpoint
	forceTCP bool
}

// tlsExchanger speaks DNS over TLS (RFC 7858) on one new connection. It
// verifies the server's certificate against the system's roots and the
// server's host name or IP address, unless --insecure or --pin say
// otherwise; it does not reuse sessions across runs.
type tlsExchanger struct {
	ep   endpoint
	conf *tls.Config
}

func newTLSExchanger(o queryOptions) *tlsExchanger {
	return &tlsExchanger{ep: o.server, conf: clientTLSConfig(o, transport.ALPNDoT)}
}

// clientTLSConfig is the TLS configuration of the tls:// and quic://
// clients: the server's certificate checked against the system's roots
// and its name, unless --insecure or --pin say otherwise.
func clientTLSConfig(o queryOptions, alpn string) *tls.Config {
	conf := &tls.Config{
		ServerName: o.server.Host,
		NextProtos: []string{alpn},
		MinVersion: tls.VersionTLS12,
	}
	switch {
	case o.pin != "":
		// The pin is the whole check: the chain and the name do not
		// matter (RFC 7858 §4.2, out-of-band key-pinned privacy profile).
		conf.InsecureSkipVerify = true
		pin := o.pin
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			if got := spkiPin(cs.PeerCertificates[0]); got != pin {
				return fmt.Errorf("certificate pin %s does not match --pin", got)
			}
			return nil
		}
	case o.insecure:
		conf.InsecureSkipVerify = true
	}
	return conf
}

func (x *tlsExchanger) exchange(ctx context.Context, q *dns.Msg) (*queryResult, error) {
	addr := net.JoinHostPort(x.ep.Host, strconv.Itoa(int(x.ep.Port)))
	d := &tls.Dialer{Config: x.conf}
	start := time.Now()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, noResponse(x.ep, "TLS", err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	tc := nc.(*tls.Conn)
	proto := strings.ReplaceAll(tls.VersionName(tc.ConnectionState().Version), " ", "")
	co := &dns.Conn{Conn: tc}
	if err := co.WriteMsg(q); err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	var h dns.Header
	raw, err := co.ReadMsgHeader(&h)
	if err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	if h.Id != q.Id {
		return nil, fmt.Errorf("query: reply from %s has ID %d, want %d", x.ep, h.Id, q.Id)
	}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		return nil, fmt.Errorf("query: malformed reply from %s: %w", x.ep, err)
	}
	return &queryResult{
		msg:    m,
		size:   len(raw),
		rtt:    time.Since(start),
		server: digServer(tc.RemoteAddr(), x.ep.Host),
		proto:  proto,
	}, nil
}

func (x *dnsExchanger) exchange(ctx context.Context, q *dns.Msg) (*queryResult, error) {
	if x.forceTCP {
		return x.once(ctx, "tcp", q)
	}
	res, err := x.once(ctx, "udp", q)
	if err != nil || !res.msg.Truncated {
		return res, err
	}
	res, err = x.once(ctx, "tcp", q)
	if err != nil {
		return nil, fmt.Errorf("retry over TCP after a truncated reply: %w", err)
	}
	res.retriedTCP = true
	return res, nil
}

// once sends q over network and reads the reply whose ID matches. Over
// UDP it skips datagrams with another ID (late replies to other queries,
// spoofing attempts), as dig does; over TCP a wrong ID is an error.
func (x *dnsExchanger) once(ctx context.Context, network string, q *dns.Msg) (*queryResult, error) {
	proto := strings.ToUpper(network)
	addr := net.JoinHostPort(x.ep.Host, strconv.Itoa(int(x.ep.Port)))
	c := &dns.Client{Net: network}
	start := time.Now()
	co, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	defer co.Close()
	if dl, ok := ctx.Deadline(); ok {
		co.SetDeadline(dl)
	}
	// Read buffer, not the size we advertise: a server that sends more
	// than asked for is shown, not cut off.
	co.UDPSize = dns.MaxMsgSize
	if err := co.WriteMsg(q); err != nil {
		return nil, noResponse(x.ep, proto, err)
	}
	for {
		var h dns.Header
		raw, err := co.ReadMsgHeader(&h)
		if err != nil {
			return nil, noResponse(x.ep, proto, err)
		}
		if h.Id != q.Id {
			if network == "udp" {
				continue
			}
			return nil, fmt.Errorf("query: reply from %s has ID %d, want %d", x.ep, h.Id, q.Id)
		}
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil {
			return nil, fmt.Errorf("query: malformed reply from %s: %w", x.ep, err)
		}
		return &queryResult{
			msg:    m,
			size:   len(raw),
			rtt:    time.Since(start),
			server: digServer(co.RemoteAddr(), x.ep.Host),
			proto:  proto,
		}, nil
	}
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
	return fmt.Errorf("query: no response from %s over %s: %w", ep, proto, err)
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
	)
	cmd := &cobra.Command{
		Use:   "query NAME [TYPE]",
		Short: "Ask a DNS server one question and print the reply like dig",
		Long: "Ask a DNS server one question and print the reply like dig.\n\n" +
			"TYPE is a mnemonic (A, AAAA, MX, ...) or TYPEnnn; the default is A.\n" +
			"Over UDP a truncated reply is retried over TCP.\n" +
			"Exit status: 0 when a reply arrived (whatever its rcode), 1 when none did,\n" +
			"2 for bad arguments.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf("query: want NAME [TYPE], got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.server, err = parseServerURL(server); err != nil {
				return usageErrorf("--server %q: %v", server, err)
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
			if (o.insecure || o.pin != "") && o.server.Scheme == "dns" {
				return usageErrorf("--insecure and --pin apply to tls://, https:// and quic:// servers only")
			}
			if (o.http3 || o.get) && o.server.Scheme != "https" {
				return usageErrorf("--http3 and --get apply to https:// servers only")
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
	fs.BoolVar(&o.tcp, "tcp", false, "use TCP only")
	fs.BoolVar(&o.dnssec, "dnssec", false, "set the DO bit: ask for DNSSEC records")
	fs.BoolVar(&o.cd, "cd", false, "set the CD bit: ask the resolver not to validate")
	fs.BoolVar(&o.norecurse, "norecurse", false, "clear the RD bit")
	fs.StringVar(&timeout, "timeout", "5s", "time to wait for the reply, TCP retry included (a `DURATION` or seconds)")
	fs.BoolVar(&o.short, "short", false, "print only the answer records' data, one per line")
	fs.BoolVar(&o.insecure, "insecure", false, "tls://, https:// and quic:// only: do not check the server's certificate")
	fs.StringVar(&pin, "pin", "", "tls://, https:// and quic:// only: accept the server's certificate if its SPKI pin is `sha256/BASE64`, whoever signed it")
	fs.BoolVar(&o.http3, "http3", false, "https:// only: use HTTP/3 (QUIC) instead of HTTP/2")
	fs.BoolVar(&o.get, "get", false, "https:// only: send the query with GET (?dns=) instead of POST")
	return cmd
}
