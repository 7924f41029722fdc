package resolver

import (
	"net/netip"
	"strings"
	"testing"
)

func TestUpstreamAllowed(t *testing.T) {
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		addr  string
		allow []netip.Prefix
		want  bool
	}{
		{"198.41.0.4", nil, true},
		{"2001:503:ba3e::2:30", nil, true},
		{"127.0.0.1", nil, false},
		{"127.53.0.1", loop, true},
		{"::1", loop, false},
		{"10.1.2.3", nil, false},
		{"172.16.0.1", nil, false},
		{"192.168.1.1", nil, false},
		{"169.254.1.1", nil, false},
		{"0.0.0.0", nil, false},
		{"100.64.0.1", nil, false},
		{"fe80::1", nil, false},
		{"fd00::1", nil, false},
		{"::", nil, false},
		{"::ffff:127.0.0.1", nil, false},
		{"::ffff:127.0.0.1", loop, true},
		{"::ffff:8.8.8.8", nil, true},
		{"224.0.0.1", nil, false},
		{"255.255.255.255", nil, false},
		{"64:ff9b::8.8.8.8", nil, true},
		{"64:ff9b::10.0.0.1", nil, false},
		{"64:ff9b::127.0.0.1", loop, false},
		{"64:ff9b:1::8.8.8.8", nil, false},
		{"2002:808:808::1", nil, true},
		{"2002:c0a8:101::1", nil, false},
		{"::10.0.0.1", nil, false},
		{"::8.8.8.8", nil, false},
	}
	for _, tc := range tests {
		if got := upstreamAllowed(netip.MustParseAddr(tc.addr), tc.allow); got != tc.want {
			t.Errorf("upstreamAllowed(%s, %v) = %v, want %v", tc.addr, tc.allow, got, tc.want)
		}
	}
	if upstreamAllowed(netip.Addr{}, nil) {
		t.Errorf("upstreamAllowed(invalid) = true, want false")
	}
}

func TestRootHints(t *testing.T) {
	rrs := DefaultRootHints()
	var ns, addrs int
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case 2:
			ns++
		default:
			addrs++
		}
	}
	if ns != 13 || addrs != 26 {
		t.Errorf("embedded hints: got %d NS and %d addresses, want 13 and 26", ns, addrs)
	}
	bad := []string{
		"",
		"a.root. 3600 IN A 192.0.2.1\n",
		". 3600 IN NS a.root.\n",
		". 3600 IN NS a.root.\na.root. 3600 IN A 999.0.0.1\n",
	}
	for _, text := range bad {
		if _, err := ParseRootHints(strings.NewReader(text)); err == nil {
			t.Errorf("ParseRootHints(%q): got no error", text)
		}
	}
}
