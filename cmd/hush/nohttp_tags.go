//go:build nohttp && !(noquic && litemetrics)

package main

// -tags nohttp leaves net/http out, which HTTP/3 and client_golang need:
// build it with -tags noquic and litemetrics too (make router-tags-mips).
var _ = nohttpNeedsNoquicAndLitemetrics
