// Package control is hush's control channel: the server side of
// `hush serve --control-socket PATH` and the client of
// `hush ctl --control-socket PATH VERB`, speaking a line protocol over a
// Unix socket that only its owner may use (mode 0600, and on Linux the
// peer's uid is checked too).
//
// A client sends one line, a verb and its arguments separated by spaces;
// the server answers "ok" or "error: REASON" on the first line, then the
// verb's output, and closes the connection. The verbs are
//
//	status                      uptime, version, config file, cache size, counters
//	flush NAME                  drop NAME's cached answers
//	flush zone NAME             drop everything cached at or below NAME
//	flush all                   empty the cache
//	flush infra                 forget server RTTs, EDNS and lameness, hold-downs
//	reload                      re-read the configuration file
//	nta add NAME [EXPIRY]       a negative trust anchor (RFC 7646)
//	nta remove NAME
//	nta list
//	cache stats                 entries, bytes, capacity, hits, misses
//
// The work is a Backend's, which cmd/hush implements on the resolver. By
// design no verb shows cache contents or anything else derived from what
// clients asked: there is no dump_cache and no top-queries, and the flush
// verbs do not say how many entries they removed (that would tell whether
// someone had asked the name).
package control
