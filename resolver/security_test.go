package resolver_test

import (
	"testing"

	"github.com/hush-dns/hush/cache"
	"github.com/hush-dns/hush/dnssec"
)

// The resolver stores a dnssec.Status in cache.Meta.Security by
// conversion: the two sets of constants must keep the same values.
func TestCacheSecurityMatchesStatus(t *testing.T) {
	for _, tc := range []struct {
		status dnssec.Status
		sec    cache.Security
	}{
		{dnssec.Indeterminate, cache.SecurityIndeterminate},
		{dnssec.Secure, cache.SecuritySecure},
		{dnssec.Insecure, cache.SecurityInsecure},
		{dnssec.Bogus, cache.SecurityBogus},
	} {
		if got := cache.Security(tc.status); got != tc.sec {
			t.Errorf("cache.Security(%v) = %d; want %d", tc.status, got, tc.sec)
		}
		if got := dnssec.Status(tc.sec); got != tc.status {
			t.Errorf("dnssec.Status(%d) = %v; want %v", tc.sec, got, tc.status)
		}
	}
}
