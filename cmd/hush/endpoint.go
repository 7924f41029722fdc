package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/hush-dns/hush/transport"
)

// scheme is a DNS URL scheme hush knows about. Known but unsupported
// schemes (quic:// in a build with -tags noquic) get a "not in this
// build" error rather than "unknown scheme", so
// the message tells the user the URL was understood.
type scheme struct {
	name        string
	defaultPort uint16
	// supported: hush serves and queries this scheme today.
	supported bool
	// hasPath: the URL carries a path (DNS over HTTPS).
	hasPath bool
}

// schemes lists every scheme hush knows, in the order error messages
// name them. Adding a transport means flipping supported here and adding
// a listener (listen.go) and a query exchanger (query.go).
func schemes() []scheme {
	return []scheme{
		{name: "dns", defaultPort: 53, supported: true},
		{name: "tls", defaultPort: 853, supported: true},
		{name: "https", defaultPort: 443, supported: transport.HTTP, hasPath: true},
		{name: "quic", defaultPort: 853, supported: transport.QUIC},
	}
}

func lookupScheme(name string) (scheme, bool) {
	for _, s := range schemes() {
		if s.name == name {
			return s, true
		}
	}
	return scheme{}, false
}

// supportedSchemes is the "want ..." part of scheme errors.
func supportedSchemes() string {
	var names []string
	for _, s := range schemes() {
		if s.supported {
			names = append(names, s.name+"://")
		}
	}
	return strings.Join(names, ", ")
}

// endpoint is a parsed DNS URL, scheme://host[:port][/path].
type endpoint struct {
	Scheme string
	// Host is an IP address (IPv6 without brackets) or a host name.
	Host string
	Port uint16
	// Path is set for https:// only ("/dns-query" unless given).
	Path string
}

func (e endpoint) String() string { return formatURL(e.Scheme, e.Host, e.Port, e.Path) }

// formatURL is the inverse of parseEndpoint. An IPv6 zone's "%" is
// written %25, as RFC 6874 and net/url want it.
func formatURL(scheme, host string, port uint16, path string) string {
	host = strings.Replace(host, "%", "%25", 1)
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(port))) + path
}

// parseEndpoint parses a DNS URL such as dns://127.0.0.1:53 or
// dns://[::1]:5300. A missing port takes the scheme's default. It does not
// resolve host names; parseListenURL additionally requires an IP address.
func parseEndpoint(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, errors.New("empty URL")
	}
	if !strings.Contains(s, "://") {
		return endpoint{}, fmt.Errorf("missing scheme (want %s)", strings.ReplaceAll(supportedSchemes(), "://", "://HOST:PORT"))
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole URL, which the caller already names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return endpoint{}, fmt.Errorf("invalid URL: %w", err)
	}
	sch, ok := lookupScheme(u.Scheme)
	switch {
	case !ok:
		return endpoint{}, fmt.Errorf("unknown scheme %q (want %s)", u.Scheme, supportedSchemes())
	case !sch.supported:
		return endpoint{}, fmt.Errorf("scheme %q is not in this build (want %s)", u.Scheme, supportedSchemes())
	case u.User != nil:
		return endpoint{}, errors.New("user info is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return endpoint{}, errors.New("query and fragment are not allowed")
	case u.Hostname() == "":
		return endpoint{}, errors.New("missing host")
	case strings.Count(u.Host, ":") > 1 && !strings.HasPrefix(u.Host, "["):
		// net/url reads dns://::1:53 as host ::1, port 53; the user may
		// have meant the address ::1:53.
		return endpoint{}, fmt.Errorf("IPv6 address must be in brackets, e.g. %s://[::1]:%d", sch.name, sch.defaultPort)
	}
	ep := endpoint{Scheme: sch.name, Host: u.Hostname(), Port: sch.defaultPort}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return endpoint{}, fmt.Errorf("invalid port %q", p)
		}
		ep.Port = uint16(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return endpoint{}, errors.New("empty port")
	}
	switch {
	case sch.hasPath && u.Path == "":
		ep.Path = "/dns-query"
	case sch.hasPath:
		ep.Path = u.Path
	case u.Path != "" && u.Path != "/":
		return endpoint{}, fmt.Errorf("a path is not allowed in %s:// URLs", sch.name)
	}
	return ep, nil
}

// listenURL is one --listen address. A dns:// URL means UDP and TCP on
// the same address and port.
type listenURL struct {
	Scheme string
	Addr   netip.AddrPort
	// Path is the DNS over HTTPS path, https:// only.
	Path string
}

func (l listenURL) String() string {
	return formatURL(l.Scheme, l.Addr.Addr().String(), l.Addr.Port(), l.Path)
}

// parseListenURL parses a --listen value. The host must be an IP address:
// hush does not look names up to find out where to listen. Port 0 asks
// the kernel for a port (one port for both UDP and TCP; see listenDNS).
func parseListenURL(s string) (listenURL, error) {
	ep, err := parseEndpoint(s)
	if err != nil {
		return listenURL{}, err
	}
	addr, err := netip.ParseAddr(ep.Host)
	if err != nil {
		return listenURL{}, fmt.Errorf("host %q is not an IP address", ep.Host)
	}
	if !validZone(addr.Zone()) {
		return listenURL{}, fmt.Errorf("invalid IPv6 zone %q (want an interface name)", addr.Zone())
	}
	return listenURL{Scheme: ep.Scheme, Addr: netip.AddrPortFrom(addr, ep.Port), Path: ep.Path}, nil
}

// validZone accepts the interface names an IPv6 zone can name, and
// nothing that would need escaping in a URL.
func validZone(z string) bool {
	for _, r := range z {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// parseServerURL parses hush query's --server. Besides a URL it takes a
// bare address as dig users type it (127.0.0.1, ::1, [::1]:5300,
// 127.0.0.1:5300, ns.example) and reads it as dns://.
func parseServerURL(s string) (endpoint, error) {
	if s != "" && !strings.Contains(s, "://") {
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() {
			s = "[" + s + "]"
		}
		s = "dns://" + s
	}
	ep, err := parseEndpoint(s)
	if err != nil {
		return endpoint{}, err
	}
	if ep.Port == 0 {
		return endpoint{}, errors.New("port 0 is not a server port")
	}
	return ep, nil
}
