//go:build !nohttp

package transport

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// jsonResponse is the JSON form of a DNS response, in the schema Google's
// and Cloudflare's resolvers use.
type jsonResponse struct {
	Status     int
	TC         bool
	RD         bool
	RA         bool
	AD         bool
	CD         bool
	Question   []jsonQuestion
	Answer     []jsonRR `json:",omitempty"`
	Authority  []jsonRR `json:",omitempty"`
	Additional []jsonRR `json:",omitempty"`
	// Comment carries the Extended DNS Errors (RFC 8914), as Google's
	// resolver puts its remarks there.
	Comment string `json:",omitempty"`
}

type jsonQuestion struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
}

type jsonRR struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
	TTL  uint32 `json:"TTL"`
	Data string `json:"data"`
}

// toJSON converts a response to the JSON form. The OPT record is not a
// record: its extended rcode goes into Status and its EDEs into Comment.
func toJSON(m *dns.Msg) jsonResponse {
	r := jsonResponse{
		Status: m.Rcode,
		TC:     m.Truncated,
		RD:     m.RecursionDesired,
		RA:     m.RecursionAvailable,
		AD:     m.AuthenticatedData,
		CD:     m.CheckingDisabled,
	}
	for _, q := range m.Question {
		r.Question = append(r.Question, jsonQuestion{Name: q.Name, Type: q.Qtype})
	}
	r.Answer = jsonRRs(m.Answer)
	r.Authority = jsonRRs(m.Ns)
	var comments []string
	for _, rr := range m.Extra {
		opt, ok := rr.(*dns.OPT)
		if !ok {
			r.Additional = append(r.Additional, jsonRRs([]dns.RR{rr})...)
			continue
		}
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				c := fmt.Sprintf("EDE %d (%s)", e.InfoCode, dns.ExtendedErrorCodeToString[e.InfoCode])
				if e.ExtraText != "" {
					c += ": " + e.ExtraText
				}
				comments = append(comments, c)
			}
		}
	}
	r.Comment = strings.Join(comments, "; ")
	return r
}

// jsonRRs converts records; data is the presentation form of the RDATA,
// in the generic form of RFC 3597 §5 for types miekg/dns does not know.
func jsonRRs(rrs []dns.RR) []jsonRR {
	var out []jsonRR
	for _, rr := range rrs {
		h := rr.Header()
		var data string
		if u, ok := rr.(*dns.RFC3597); ok {
			// Its String writes the header as CLASS1 TYPE65280,
			// which h.String (IN, TYPE65280) does not match.
			data = `\# ` + strconv.Itoa(len(u.Rdata)/2)
			if u.Rdata != "" {
				data += " " + u.Rdata
			}
		} else {
			data = strings.TrimPrefix(rr.String(), h.String())
		}
		out = append(out, jsonRR{
			Name: h.Name,
			Type: h.Rrtype,
			TTL:  h.Ttl,
			Data: data,
		})
	}
	return out
}

// writeJSON sends out, a packed response, in the JSON form.
func writeJSON(w http.ResponseWriter, out []byte) {
	var m dns.Msg
	if err := m.Unpack(out); err != nil {
		// Our own packing: cannot happen.
		httpFail(w, http.StatusInternalServerError, true, "internal error")
		return
	}
	body, err := json.Marshal(toJSON(&m))
	if err != nil {
		httpFail(w, http.StatusInternalServerError, true, "internal error")
		return
	}
	h := w.Header()
	h["Content-Type"] = hdrDNSJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Cache-Control"] = []string{cacheControl(out)}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// jsonError is the body of a JSON-form HTTP error, as Cloudflare sends it.
func jsonError(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}
