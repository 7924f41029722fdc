package rpl

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Exchanger is the outbound seam of a resolver under test; it has the same
// method set as resolver.Exchanger, which this package does not import.
type Exchanger interface {
	Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error)
}

// ErrNoAnswer is what the Network returns for a query it has no answer
// for, or that an entry says not to answer: it stands for a server that
// stays silent, so it wraps os.ErrDeadlineExceeded like a read that timed
// out, but it comes back at once.
var ErrNoAnswer = fmt.Errorf("rpl: no answer: %w", os.ErrDeadlineExceeded)

// Network is the simulated internet of one scenario, answering as
// Deckard's mock servers do. It accepts any server address, sends no
// packet and is safe for concurrent use.
type Network struct {
	s     *Scenario
	known map[netip.Addr]bool // every address some range lists

	// mu guards the fields below.
	mu        sync.Mutex
	step      int
	spent     map[*Entry]bool // REPLY-step entries already used
	used      map[*Entry]bool // range entries that answered a query
	unmatched []string
}

// NewNetwork returns the network scripted by s, at step 0.
func NewNetwork(s *Scenario) *Network {
	n := &Network{s: s, known: make(map[netip.Addr]bool), spent: make(map[*Entry]bool), used: make(map[*Entry]bool)}
	for _, r := range s.Ranges {
		for _, a := range r.Addresses {
			n.known[a] = true
		}
	}
	return n
}

// SetStep sets the step number that selects eligible ranges and REPLY
// steps.
func (n *Network) SetStep(id int) {
	n.mu.Lock()
	n.step = id
	n.mu.Unlock()
}

// Unmatched lists the queries nothing answered, as "step N: server
// network name type".
func (n *Network) Unmatched() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.unmatched...)
}

// UnusedMandatory lists the MANDATORY range entries no query used, by the
// line they start on.
func (n *Network) UnusedMandatory() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	var lines []int
	for _, r := range n.s.Ranges {
		for _, e := range r.Entries {
			if e.Mandatory && !n.used[e] {
				lines = append(lines, e.Line)
			}
		}
	}
	return lines
}

// Exchange implements Exchanger, choosing the answer as Deckard does:
//
//   - The eligible range is the first whose step interval holds the
//     current step and whose ADDRESS list holds the server, a range
//     without addresses holding every server. A server that no range
//     lists counts as listed by every range (Deckard's stand-in for stub
//     zones).
//   - In the eligible range, the first entry whose MATCH holds for q
//     answers. Later ranges are not searched.
//   - With no eligible range, the first unused REPLY step at or after the
//     current step whose entry matches answers, once.
//
// The reply is built by Reply and crosses a pack/unpack round trip, so
// the caller owns it. An entry with ADJUST do_not_answer yields
// ErrNoAnswer; so does a query nothing answers, which Unmatched then
// lists (Deckard answers those with SERVFAIL instead).
func (n *Network) Exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rpl: exchange: %w", err)
	}
	// Match what a server would see: the query as it crosses the wire.
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("rpl: exchange: pack: %w", err)
	}
	in := new(dns.Msg)
	if err := in.Unpack(wire); err != nil {
		return nil, fmt.Errorf("rpl: exchange: unpack: %w", err)
	}
	addr := server.Addr().Unmap()

	n.mu.Lock()
	e := n.findLocked(in, network, addr)
	if e == nil {
		n.unmatched = append(n.unmatched, fmt.Sprintf("step %d: %s %s %s", n.step, addr, network, describe(in)))
	}
	n.mu.Unlock()

	if e == nil || e.HasAdjust("do_not_answer") {
		return nil, ErrNoAnswer
	}
	r, err := Reply(e, in)
	if err != nil {
		return nil, fmt.Errorf("rpl: exchange: %w", err)
	}
	if n.s.Testbound {
		// testbound's mock network hands the reply to the query that
		// matched it, whatever its ID and the case of its name: copy
		// both, as ADJUST copy_id does.
		r.Id = in.Id
		if len(r.Question) > 0 && len(in.Question) > 0 && strings.EqualFold(r.Question[0].Name, in.Question[0].Name) {
			r.Question[0].Name = in.Question[0].Name
		}
	}
	// Pack and unpack the reply too: names get compressed, the rcode is
	// split into the OPT record, and nothing is shared with the entry.
	b, err := r.Pack()
	if err != nil {
		return nil, fmt.Errorf("rpl: exchange: pack reply: %w", err)
	}
	out := new(dns.Msg)
	if err := out.Unpack(b); err != nil {
		return nil, fmt.Errorf("rpl: exchange: unpack reply: %w", err)
	}
	return out, nil
}

func (n *Network) findLocked(q *dns.Msg, network string, addr netip.Addr) *Entry {
	anyAddr := !n.known[addr]
	for _, r := range n.s.Ranges {
		if n.step < r.Start || n.step > r.End || !anyAddr && !hasAddr(r.Addresses, addr) {
			continue
		}
		for _, e := range r.Entries {
			if Mismatch(e, q, network) == "" {
				n.used[e] = true
				return e
			}
		}
		return nil
	}
	for _, st := range n.s.Steps {
		e := st.Entry
		if st.Type != "REPLY" || st.ID < n.step || e == nil || n.spent[e] {
			continue
		}
		if Mismatch(e, q, network) == "" {
			n.spent[e] = true
			return e
		}
	}
	return nil
}

func hasAddr(list []netip.Addr, a netip.Addr) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func describe(m *dns.Msg) string {
	if len(m.Question) == 0 {
		return "(no question)"
	}
	q := m.Question[0]
	return q.Name + " " + dns.Type(q.Qtype).String()
}
