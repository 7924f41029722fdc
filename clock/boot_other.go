//go:build !linux

package clock

import "time"

// boottime is unavailable here: Boot falls back to the wall clock checked
// against the monotonic one.
func boottime() (time.Duration, bool) { return 0, false }
