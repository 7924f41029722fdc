package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
)

// silenceLibraryLogs drops whatever libraries write to the standard
// logger (and so to slog's default handler) for the rest of the process.
// hush itself never writes there; the libraries do under switches in the
// environment that hush does not control: GODEBUG=http2debug=2 dumps
// HTTP/2 DATA frames, DoH queries and answers included, and
// QUIC_GO_LOG_LEVEL makes quic-go log clients' addresses. No environment
// may turn a query log on, so hush says it ignores them.
func silenceLibraryLogs(stderr io.Writer) {
	var ignored []string
	if os.Getenv("QUIC_GO_LOG_LEVEL") != "" {
		ignored = append(ignored, "QUIC_GO_LOG_LEVEL")
	}
	if strings.Contains(os.Getenv("GODEBUG"), "http2debug") {
		ignored = append(ignored, "GODEBUG=http2debug")
	}
	if len(ignored) > 0 {
		fmt.Fprintf(stderr, "hush: ignoring %s: library debug logs would name queries and clients\n", strings.Join(ignored, " and "))
	}
	log.SetOutput(io.Discard)
}
