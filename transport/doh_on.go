//go:build !nohttp

package transport

// HTTP reports whether this build has HTTP: DNS over HTTPS. Builds with
// -tags nohttp (the MIPS router builds) leave net/http out.
const HTTP = true
