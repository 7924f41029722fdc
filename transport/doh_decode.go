//go:build !nohttp

package transport

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// dohBodyStart is the buffer a POST body is first read into: a query
// padded as RFC 8467 asks fits. It grows as octets arrive, so that a client
// that announces a body and sends nothing holds little.
const dohBodyStart = 512

// dohRequest is a decoded DoH request.
type dohRequest struct {
	// raw is the DNS query, in the buffer given to decodeRequest.
	raw []byte
	// json: the request is in the JSON form; errors and the answer
	// are JSON (unless ct asked for wire format, then false).
	json bool
}

// decodeRequest turns the parts of an HTTP request that DoH reads into a
// DNS query in buf (which must hold tcpMaxSize+1 octets), or into an HTTP
// status and a message for the client. method is GET or POST. A POST body
// is read into buf if it is not nil, else into a buffer that starts at
// dohBodyStart octets and grows as the body arrives. w, which may be nil,
// is told when the body is too large, so that net/http closes the
// connection rather than drain it. It does not check the DNS message
// beyond its size: the shared pipeline does.
func decodeRequest(w http.ResponseWriter, method, rawQuery, contentType string, contentLength int64, body io.Reader, buf []byte) (dohRequest, int, string) {
	if method == http.MethodPost {
		return decodePost(w, contentType, contentLength, body, buf)
	}
	if v, ok := firstParam(rawQuery, "dns"); ok {
		return decodeGet(v, buf)
	}
	if _, ok := firstParam(rawQuery, "name"); ok {
		return decodeJSONQuery(rawQuery, buf)
	}
	if ct, _ := firstParam(rawQuery, "ct"); ct == mediaDNSJSON {
		return dohRequest{json: true}, http.StatusBadRequest, "missing name parameter"
	}
	return dohRequest{}, http.StatusBadRequest, "missing dns parameter (or name, for the JSON form)"
}

// decodePost reads an application/dns-message body into buf, or into a
// growing buffer if buf is nil.
func decodePost(w http.ResponseWriter, contentType string, contentLength int64, body io.Reader, buf []byte) (dohRequest, int, string) {
	if mt, _, _ := strings.Cut(contentType, ";"); !strings.EqualFold(strings.TrimSpace(mt), mediaDNSMessage) {
		return dohRequest{}, http.StatusUnsupportedMediaType, "content type must be " + mediaDNSMessage
	}
	if contentLength > tcpMaxSize {
		return dohRequest{}, http.StatusRequestEntityTooLarge, "body larger than 65535 octets"
	}
	if body == nil {
		return dohRequest{}, http.StatusBadRequest, "empty body"
	}
	if buf == nil {
		// Content-Length is the client's word: a small one saves
		// growing (one octet more, to read the EOF), a large one
		// buys nothing before the octets arrive.
		n := dohBodyStart
		if contentLength >= 0 && contentLength < dohBodyStart {
			n = int(contentLength) + 1
		}
		buf = make([]byte, 0, n)
	}
	r := http.MaxBytesReader(w, io.NopCloser(body), tcpMaxSize)
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) > tcpMaxSize {
				// Cannot happen: MaxBytesReader stops at the limit.
				return dohRequest{}, http.StatusRequestEntityTooLarge, "body larger than 65535 octets"
			}
			buf = slices.Grow(buf, min(max(2*cap(buf), dohBodyStart), tcpMaxSize+1)-len(buf))
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return dohRequest{}, http.StatusRequestEntityTooLarge, "body larger than 65535 octets"
			}
			return dohRequest{}, http.StatusBadRequest, "could not read the body"
		}
	}
	return dohRequest{raw: buf}, 0, ""
}

// decodeGet decodes dns=, base64url without padding (RFC 8484 §4.1). A
// client that pads anyway is forgiven.
func decodeGet(v string, buf []byte) (dohRequest, int, string) {
	if strings.IndexByte(v, '%') >= 0 {
		u, err := url.QueryUnescape(v)
		if err != nil {
			return dohRequest{}, http.StatusBadRequest, "dns parameter is not base64url"
		}
		v = u
	}
	v = strings.TrimRight(v, "=")
	if v == "" {
		return dohRequest{}, http.StatusBadRequest, "empty dns parameter"
	}
	if base64.RawURLEncoding.DecodedLen(len(v)) > tcpMaxSize {
		return dohRequest{}, http.StatusRequestEntityTooLarge, "query larger than 65535 octets"
	}
	n, err := base64.RawURLEncoding.Decode(buf[:cap(buf)], []byte(v))
	if err != nil {
		return dohRequest{}, http.StatusBadRequest, "dns parameter is not base64url"
	}
	return dohRequest{raw: buf[:n]}, 0, ""
}

// firstParam finds the first value of key in a raw query string without
// building url.Values (GET is the hot path). Keys are compared as
// written; a key sent percent-encoded is not found.
func firstParam(rawQuery, key string) (string, bool) {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// decodeJSONQuery builds the query of a JSON-form request: name (required;
// RFC 4343 escapes allowed), type (a mnemonic or a number, default A), do
// and cd (empty, 0, false, 1 or true), ct (application/dns-json, or
// application/dns-message for a wire answer). As Google does, the first of
// repeated parameters counts. The query asks for recursion and for the AD
// bit, with EDNS (so that Extended DNS Errors come back) and DO if asked.
func decodeJSONQuery(rawQuery string, buf []byte) (dohRequest, int, string) {
	fail := func(msg string) (dohRequest, int, string) {
		return dohRequest{json: true}, http.StatusBadRequest, msg
	}
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fail("malformed query string")
	}
	wire := false
	switch ct := params.Get("ct"); ct {
	case "", mediaDNSJSON, "application/x-javascript", "application/json":
	case mediaDNSMessage:
		wire = true
	default:
		return fail("unsupported ct: want " + mediaDNSJSON + " or " + mediaDNSMessage)
	}
	name := params.Get("name")
	if name == "" {
		return fail("invalid name")
	}
	name = dns.Fqdn(name)
	if _, ok := dns.IsDomainName(name); !ok || strings.HasPrefix(name, ".") && name != "." || strings.Contains(name, "..") {
		return fail("invalid name")
	}
	qtype := dns.TypeA
	if t := params.Get("type"); t != "" {
		var ok bool
		if qtype, ok = parseQtype(t); !ok {
			return fail("invalid type: want a mnemonic such as AAAA or a number from 1 to 65535")
		}
	}
	do, ok := parseFlag(params.Get("do"))
	if !ok {
		return fail("invalid do flag: want empty, 0, false, 1 or true")
	}
	cd, ok := parseFlag(params.Get("cd"))
	if !ok {
		return fail("invalid cd flag: want empty, 0, false, 1 or true")
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0
	m.RecursionDesired = true
	m.AuthenticatedData = true
	m.CheckingDisabled = cd
	m.SetEdns0(ednsSize, do)
	raw, err := m.PackBuffer(buf[:cap(buf)])
	if err != nil || len(raw) > tcpMaxSize {
		return fail("invalid name")
	}
	return dohRequest{raw: raw, json: !wire}, 0, ""
}

// parseQtype reads a type as Google's JSON API takes it: a mnemonic
// (case-insensitive), TYPEnnn, or a number from 1 to 65535.
func parseQtype(s string) (uint16, bool) {
	u := strings.ToUpper(s)
	if t, ok := dns.StringToType[u]; ok {
		return t, true
	}
	u = strings.TrimPrefix(u, "TYPE")
	n, err := strconv.ParseUint(u, 10, 16)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}

// parseFlag reads do= and cd= as Cloudflare documents them.
func parseFlag(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "", "0", "false":
		return false, true
	case "1", "true":
		return true, true
	}
	return false, false
}

// cacheControl is the Cache-Control of a response (RFC 8484 §5.1): for
// NOERROR and NXDOMAIN, max-age is the smallest TTL of the answer section,
// or without answer records the smallest TTL of the authority section and
// its SOA's MINIMUM (RFC 2308 §5), or 0 when there is neither. Every other
// rcode is no-store: SERVFAIL is a moment's failure, REFUSED a judgement
// on the client, FORMERR and the like on the query. out is a packed
// response the pipeline built; anything it cannot walk is no-store.
func cacheControl(out []byte) string {
	ttl, ok := freshness(out)
	if !ok {
		return "no-store"
	}
	return "max-age=" + strconv.FormatUint(uint64(ttl), 10)
}

// maxDoHAge caps max-age at a day, the cache's default MaxTTL: the
// handler clamps its TTLs to the operator's --max-ttl, and this is the
// ceiling for any handler that does not.
const maxDoHAge = 86400

// freshness computes cacheControl's max-age; false means no-store.
func freshness(out []byte) (uint32, bool) {
	if len(out) < headerSize {
		return 0, false
	}
	rcode := int(out[3] & 0xF)
	if rcode != dns.RcodeSuccess && rcode != dns.RcodeNameError {
		return 0, false
	}
	qd := int(binary.BigEndian.Uint16(out[4:]))
	an := int(binary.BigEndian.Uint16(out[6:]))
	ns := int(binary.BigEndian.Uint16(out[8:]))
	ar := int(binary.BigEndian.Uint16(out[10:]))
	off := headerSize
	for range qd {
		if off = skipName(out, off); off < 0 || off+4 > len(out) {
			return 0, false
		}
		off += 4
	}
	minTTL, seen := uint32(0), false
	keep := func(t uint32) {
		if t > math.MaxInt32 {
			t = 0 // RFC 2181 §8: the top bit set means zero
		}
		if !seen || t < minTTL {
			minTTL, seen = t, true
		}
	}
	for i := range an + ns + ar {
		if off = skipName(out, off); off < 0 || off+10 > len(out) {
			return 0, false
		}
		typ := binary.BigEndian.Uint16(out[off:])
		ttl := binary.BigEndian.Uint32(out[off+4:])
		rdlen := int(binary.BigEndian.Uint16(out[off+8:]))
		off += 10
		if off+rdlen > len(out) {
			return 0, false
		}
		switch {
		case i < an:
			keep(ttl)
		case i < an+ns:
			if an > 0 {
				break
			}
			keep(ttl)
			if typ == dns.TypeSOA && rdlen >= 4 {
				keep(binary.BigEndian.Uint32(out[off+rdlen-4:]))
			}
		case typ == dns.TypeOPT && ttl>>24 != 0:
			// An extended rcode (BADVERS, BADCOOKIE): an error.
			return 0, false
		}
		off += rdlen
	}
	return min(minTTL, maxDoHAge), true
}

// skipName returns the offset after the name at off, or -1.
func skipName(msg []byte, off int) int {
	for {
		if off >= len(msg) {
			return -1
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		case l&0xC0 != 0:
			return -1
		}
		off += 1 + l
	}
}
