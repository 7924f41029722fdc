//go:build unix

package metrics

import (
	"bytes"
	"syscall"
)

// processFamilies are the process metrics that need getrusage and
// getrlimit.
func (r *liteRegistry) processFamilies() {
	r.add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", func(b *bytes.Buffer, name string) {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			sample(b, name, "", "", float64(ru.Utime.Nano()+ru.Stime.Nano())/1e9)
		}
	})
	r.add("process_max_fds", "Maximum number of open file descriptors.", "gauge", func(b *bytes.Buffer, name string) {
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
			sample(b, name, "", "", float64(rl.Cur))
		}
	})
}
