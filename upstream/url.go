package upstream

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Spec is a parsed upstream URL (see the package documentation).
type Spec struct {
	// Scheme is "dns", "tls", "https" or "quic".
	Scheme string
	// Addr is the server's address and port.
	Addr netip.AddrPort
	// Name is the TLS name the certificate must prove; empty means the
	// certificate must name Addr's IP address.
	Name string
	// Path is the DoH path ("/dns-query" unless given); https only.
	Path string
	// Pins are SPKI pins in canonical sha256/BASE64 form; any one
	// matching accepts the certificate.
	Pins []string
	// HTTP3 asks for HTTP/3 from the first query; https only.
	HTTP3 bool
}

// Default ports per scheme.
const (
	PortDNS   = 53
	PortTLS   = 853
	PortHTTPS = 443
	PortQUIC  = 853
)

// PinPrefix introduces an SPKI pin, as `hush query --pin` and kdig write it.
const PinPrefix = "sha256/"

func defaultPort(scheme string) uint16 {
	switch scheme {
	case "dns":
		return PortDNS
	case "tls":
		return PortTLS
	case "https":
		return PortHTTPS
	case "quic":
		return PortQUIC
	}
	return 0
}

// String is the upstream's address as a URL, without pins: what logs and
// errors name. It never contains a query.
func (s Spec) String() string {
	hp := s.Addr.String()
	out := s.Scheme + "://" + hp
	if s.Scheme == "https" {
		out += s.Path
	}
	if s.Name != "" {
		out += "#" + s.Name
	}
	return out
}

// Encrypted reports whether the scheme is one of the encrypted ones.
func (s Spec) Encrypted() bool { return s.Scheme != "dns" }

// Parse parses an upstream URL. It resolves nothing: ADDR must be an IP
// address. Its errors are one line and name the URL.
func Parse(raw string) (Spec, error) {
	s, err := parse(raw)
	if err != nil {
		return Spec{}, fmt.Errorf("upstream %q: %w", raw, err)
	}
	return s, nil
}

func parse(raw string) (Spec, error) {
	if raw == "" {
		return Spec{}, errors.New("empty")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return Spec{}, errors.New("contains white space")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		// A bare ADDR[:PORT] means dns://, as --forward always took.
		scheme, rest = "dns", raw
	}
	scheme = strings.ToLower(scheme)
	sp := Spec{Scheme: scheme}
	port := defaultPort(scheme)
	if port == 0 {
		return Spec{}, fmt.Errorf("unknown scheme %q: want dns://, tls://, https:// or quic://", scheme)
	}
	if scheme == "quic" && !quicBuilt {
		return Spec{}, errNoQUIC
	}
	if scheme == "https" && !httpBuilt {
		return Spec{}, errNoHTTP
	}
	// The fragment (#NAME) and the parameters (?...) may come in either
	// order: RFC 3986 puts the query first, Unbound users write the name
	// right after the address.
	var frag, query string
	rest, frag, hasFrag := strings.Cut(rest, "#")
	rest, query, _ = strings.Cut(rest, "?")
	if hasFrag {
		var q2 string
		frag, q2, _ = strings.Cut(frag, "?")
		if q2 != "" {
			if query != "" {
				query += "&"
			}
			query += q2
		}
	}
	hostport, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		hostport, path = rest[:i], rest[i:]
	}
	if path != "" && scheme != "https" {
		return Spec{}, fmt.Errorf("a path is for https:// only")
	}
	if scheme == "https" {
		if path == "" || path == "/" {
			path = "/dns-query"
		}
		u, err := url.Parse("https://x" + path)
		if err != nil || u.Path == "" || u.RawQuery != "" {
			return Spec{}, fmt.Errorf("bad path %q", path)
		}
		sp.Path = u.EscapedPath()
	}
	addr, err := parseHostPort(hostport, port)
	if err != nil {
		return Spec{}, err
	}
	sp.Addr = addr
	if hasFrag {
		if scheme == "dns" {
			return Spec{}, errors.New("#NAME is for tls://, https:// and quic:// only")
		}
		name, err := checkHostName(frag)
		if err != nil {
			return Spec{}, fmt.Errorf("TLS name %q: %w", frag, err)
		}
		sp.Name = name
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			// PathUnescape, not QueryUnescape: a pin's "+" is base64,
			// not a space.
			v, err := url.PathUnescape(v)
			if err != nil {
				return Spec{}, fmt.Errorf("parameter %q: %w", k, err)
			}
			switch k {
			case "pin":
				if scheme == "dns" {
					return Spec{}, errors.New("pin is for tls://, https:// and quic:// only")
				}
				p, err := ParsePin(v)
				if err != nil {
					return Spec{}, fmt.Errorf("pin %q: %w", v, err)
				}
				sp.Pins = append(sp.Pins, p)
			case "http3":
				if scheme != "https" {
					return Spec{}, errors.New("http3 is for https:// only")
				}
				switch v {
				case "", "1", "true", "yes":
					if !quicBuilt {
						return Spec{}, errNoQUIC
					}
					sp.HTTP3 = true
				case "0", "false", "no":
					sp.HTTP3 = false
				default:
					return Spec{}, fmt.Errorf("http3=%q: want 1 or 0", v)
				}
			default:
				return Spec{}, fmt.Errorf("unknown parameter %q: want pin or http3", k)
			}
		}
	}
	return sp, nil
}

// parseHostPort parses ADDR[:PORT] with ADDR an IP literal (IPv6 in
// brackets).
func parseHostPort(hp string, def uint16) (netip.AddrPort, error) {
	if hp == "" {
		return netip.AddrPort{}, errors.New("no address")
	}
	host, portStr := hp, ""
	switch {
	case strings.HasPrefix(hp, "["):
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return netip.AddrPort{}, errors.New("unclosed [ in the address")
		}
		host = hp[1:end]
		after := hp[end+1:]
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("junk %q after the address", after)
			}
			portStr = p
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Is4In6() {
			return netip.AddrPort{}, fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
	case strings.Count(hp, ":") > 1:
		// An IPv6 address without brackets: no port possible.
		host = hp
	default:
		var ok bool
		host, portStr, ok = strings.Cut(hp, ":")
		if ok && portStr == "" {
			return netip.AddrPort{}, errors.New("empty port")
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP address (upstreams are given by address, never by name)", host)
	}
	if a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("address %q: zones are not supported", host)
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("address %s cannot be an upstream", a)
	}
	port := def
	if portStr != "" {
		p, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || p == 0 {
			return netip.AddrPort{}, fmt.Errorf("port %q: want 1 to 65535", portStr)
		}
		port = uint16(p)
	}
	return netip.AddrPortFrom(a.Unmap(), port), nil
}

// checkHostName validates a TLS name: letters, digits and hyphens in
// labels of 1 to 63 characters, at most 253 in all, not an IP address. A
// trailing dot is dropped; the result is lowercase.
func checkHostName(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty")
	}
	if len(s) > 253 {
		return "", errors.New("longer than 253 characters")
	}
	if net.ParseIP(s) != nil {
		return "", errors.New("an IP address, not a host name (leave #NAME out to check the address)")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return "", errors.New("not a host name: empty label or one over 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("not a host name: a label starts or ends with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("not a host name: character %q", c)
			}
		}
	}
	return strings.ToLower(s), nil
}

// ParsePin checks an SPKI pin, sha256/ and the base64 of 32 bytes, and
// returns it in canonical form.
func ParsePin(s string) (string, error) {
	b64, ok := strings.CutPrefix(s, PinPrefix)
	if !ok {
		return "", errors.New("want sha256/BASE64")
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return "", errors.New("want sha256/ and the base64 of 32 bytes")
	}
	return PinPrefix + base64.StdEncoding.EncodeToString(sum), nil
}
