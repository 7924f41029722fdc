package cookie

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Lengths from RFC 7873 §4 and RFC 9018 §4.
const (
	ClientLen       = 8  // a client cookie
	minServerLen    = 8  // the shortest server cookie RFC 7873 allows
	maxServerLen    = 32 // the longest
	ServerLen       = 16 // an RFC 9018 server cookie: version, reserved, timestamp, hash
	ResponseLen     = ClientLen + ServerLen
	version1        = 1
	hashedMaxLen    = ClientLen + 8 + 16 // client cookie, version..timestamp, IPv6 address
	cookieLifetime  = 3600               // RFC 9018 §4.3: accepted up to an hour old...
	cookieSkew      = 300                // ...and up to five minutes in the future
	cookieRenewAge  = 1800               // older than this, a fresh one is handed out
	maxVerifySecret = 4                  // the active secret and up to three old ones
)

// ErrSecret reports a secret file or string that is not 16 octets of hex.
var ErrSecret = errors.New("cookie: secret must be 32 hex digits (16 octets)")

// Secret is a server secret: the 128-bit SipHash-2-4 key of RFC 9018.
// Every instance of one anycast service must hold the same secrets, so
// that a cookie made by one verifies at the others.
type Secret [16]byte

// ParseSecret reads a secret written as 32 hex digits, the form Unbound's
// cookie-secret option and its cookie-secret-file use.
func ParseSecret(s string) (Secret, error) {
	var sec Secret
	s = strings.TrimSpace(s)
	if len(s) != 2*len(sec) {
		return sec, ErrSecret
	}
	if _, err := hex.Decode(sec[:], []byte(s)); err != nil {
		return sec, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	return sec, nil
}

// LoadSecrets reads a secret file: one secret per line, 32 hex digits
// each, blank lines and lines starting with '#' ignored. The first secret
// makes new cookies and verifies; the others (at most three) only verify,
// which is how a secret is rotated without breaking clients: put the new
// secret first and keep the old one on the second line for at least an
// hour (the cookie lifetime), then drop it. Unbound's cookie-secret-file
// lists secrets the same way.
func LoadSecrets(path string) ([]Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cookie: read secret file: %w", err)
	}
	var out []Secret
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		s, err := ParseSecret(t)
		if err != nil {
			// The file's content is a secret: never quote it.
			return nil, fmt.Errorf("cookie: secret file line %d: %w", line, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cookie: secret file has no secret: %w", ErrSecret)
	}
	if len(out) > maxVerifySecret {
		return nil, fmt.Errorf("cookie: secret file has %d secrets, at most %d", len(out), maxVerifySecret)
	}
	return out, nil
}

// Server makes and verifies RFC 9018 server cookies. It is immutable and
// safe for concurrent use; to rotate secrets, build a new one and swap it
// in (an atomic.Pointer in the transport).
type Server struct {
	secrets []Secret // [0] makes cookies; all verify
}

// NewServer returns a Server that makes cookies with active and also
// accepts cookies made with any of previous.
func NewServer(active Secret, previous ...Secret) *Server {
	s := &Server{secrets: make([]Secret, 0, 1+len(previous))}
	s.secrets = append(s.secrets, active)
	s.secrets = append(s.secrets, previous...)
	return s
}

// Kind classifies the COOKIE option of a request (RFC 7873 §5.2).
type Kind uint8

const (
	// NoCookie: the request had no COOKIE option (§5.2.1).
	NoCookie Kind = iota
	// Malformed: the option's length is not 8 or 16 to 40 (§5.2.2).
	Malformed
	// ClientOnly: a client cookie alone (§5.2.3).
	ClientOnly
	// Invalid: a server cookie that is not ours, is of another version,
	// too old or from the future, or made for another client address; it
	// is treated like ClientOnly (§5.2.4).
	Invalid
	// Valid: a server cookie we (or an instance sharing our secret) made
	// for this client address within the last hour (§5.2.5, RFC 9018 §4.3).
	Valid
)

var kindNames = [...]string{"none", "malformed", "client-only", "invalid", "valid"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Action is what the transport does with a request after Check.
type Action uint8

const (
	// Answer: process the request normally; attach Result.Response when
	// Result.HasResponse is set.
	Answer Action = iota
	// FormErr: answer FORMERR without processing and without a cookie
	// (RFC 7873 §5.2.2).
	FormErr
	// BadCookie: answer rcode BADCOOKIE (23) with Result.Response and no
	// records, so that the client retries with the server cookie it now
	// holds (RFC 7873 §5.2.3, §5.4). Only given when the caller asked for
	// a valid cookie (Check's require argument).
	BadCookie
)

var actionNames = [...]string{"answer", "formerr", "badcookie"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Result is Check's verdict. It holds the response option inline so that
// Check does not allocate.
type Result struct {
	Kind   Kind
	Action Action
	// HasResponse says Response is to be sent as the response's COOKIE
	// option data: the client cookie followed by a server cookie.
	HasResponse bool
	Response    [ResponseLen]byte
}

// Check judges a request's COOKIE option data opt (nil when the request
// had none) from client at now, and builds the response option.
//
// require says the server wants proof of the client's address for this
// request, typically because the client is over its rate limit: a request
// with a client cookie but no valid server cookie then gets BadCookie,
// whose small answer carries a fresh cookie and amplifies nothing. A
// request without any cookie cannot be sent BADCOOKIE (it would not
// understand it); the caller applies its own policy (truncate, drop).
//
// Check does not look at the rest of the message; a request with a
// COOKIE option and no question (RFC 7873 §5.4, a client asking only for
// a server cookie) gets the same Result, and the transport answers it
// with NOERROR and the option. It neither allocates nor keeps state: a
// valid cookie less than half an hour old is echoed, an older one is
// replaced by one stamped now (RFC 9018 §4.3).
func (s *Server) Check(client netip.Addr, opt []byte, now time.Time, require bool) Result {
	var r Result
	switch n := len(opt); {
	case opt == nil:
		r.Kind = NoCookie
		return r
	case n == ClientLen:
		r.Kind = ClientOnly
	case n >= ClientLen+minServerLen && n <= ClientLen+maxServerLen:
		r.Kind = Invalid
	default:
		r.Kind = Malformed
		r.Action = FormErr
		return r
	}
	ts := uint32(now.Unix())
	copy(r.Response[:ClientLen], opt[:ClientLen])
	r.HasResponse = true
	if r.Kind == Invalid {
		if age, idx, ok := s.verify(client, opt, ts); ok {
			r.Kind = Valid
			if age <= cookieRenewAge && idx == 0 && opt[ClientLen+1]|opt[ClientLen+2]|opt[ClientLen+3] == 0 {
				// Still fresh and made with the active secret: hand
				// the same cookie back and save a hash.
				copy(r.Response[ClientLen:], opt[ClientLen:])
				return r
			}
		}
	}
	s.make(&r.Response, client, ts)
	if r.Kind != Valid && require {
		r.Action = BadCookie
	}
	return r
}

// verify reports whether opt (client cookie and a server cookie) holds a
// version 1 server cookie made for client with one of s's secrets, and
// its age in seconds at now and the index of the secret that made it.
// The reserved octets are hashed as received (RFC 9018 §4.2), so a client
// may not change them.
func (s *Server) verify(client netip.Addr, opt []byte, now uint32) (age int32, idx int, ok bool) {
	if len(opt) != ResponseLen || opt[ClientLen] != version1 {
		return 0, 0, false
	}
	ts := binary.BigEndian.Uint32(opt[ClientLen+4:])
	age = int32(now - ts) // RFC 1982 serial arithmetic
	if age > cookieLifetime || age < -cookieSkew {
		return age, 0, false
	}
	var buf [hashedMaxLen]byte
	in := hashInput(&buf, opt[:ClientLen+8], client)
	want := binary.LittleEndian.Uint64(opt[ClientLen+8:])
	for i := range s.secrets {
		if sipHash24((*[16]byte)(&s.secrets[i]), in) == want {
			return age, i, true
		}
	}
	return age, 0, false
}

// make writes a fresh server cookie, stamped ts, after the client cookie
// already in out.
func (s *Server) make(out *[ResponseLen]byte, client netip.Addr, ts uint32) {
	out[ClientLen] = version1
	out[ClientLen+1], out[ClientLen+2], out[ClientLen+3] = 0, 0, 0
	binary.BigEndian.PutUint32(out[ClientLen+4:], ts)
	var buf [hashedMaxLen]byte
	in := hashInput(&buf, out[:ClientLen+8], client)
	// The 64-bit hash goes out in SipHash's own (little-endian) octet
	// order, as its reference code writes it; RFC 9018's vectors and
	// every implementation that matches them (BIND, Knot, Unbound) agree.
	binary.LittleEndian.PutUint64(out[ClientLen+8:], sipHash24((*[16]byte)(&s.secrets[0]), in))
}

// hashInput lays out the SipHash input of RFC 9018 §4.4 in buf: client
// cookie, version, reserved, timestamp (head, 16 octets) and the client's
// address, 4 octets for IPv4 (an IPv4-mapped IPv6 address counts as
// IPv4, as a dual-stack socket reports it) and 16 for IPv6.
func hashInput(buf *[hashedMaxLen]byte, head []byte, client netip.Addr) []byte {
	n := copy(buf[:], head)
	client = client.Unmap()
	if client.Is4() {
		a := client.As4()
		n += copy(buf[n:], a[:])
	} else {
		a := client.As16()
		n += copy(buf[n:], a[:])
	}
	return buf[:n]
}

// Keeper holds the Server in use, so that secrets can be rotated while
// listeners run (a reload): listeners call Server per query, the operator's
// reload calls Set. The zero Keeper holds nil: cookies off.
type Keeper struct {
	p atomic.Pointer[Server]
}

// NewKeeper returns a Keeper holding s.
func NewKeeper(s *Server) *Keeper {
	k := &Keeper{}
	k.p.Store(s)
	return k
}

// Server returns the Server in use, nil when there is none.
func (k *Keeper) Server() *Server {
	if k == nil {
		return nil
	}
	return k.p.Load()
}

// Set replaces the Server in use.
func (k *Keeper) Set(s *Server) { k.p.Store(s) }
