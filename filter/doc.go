// Package filter is hush's answer policy: names answered from local data
// instead of being resolved (--local-data records, hosts files with their
// PTR records synthesised), and names blocked by blocklists (hosts-file,
// one domain per line and AdBlock formats) or by Response Policy Zones
// (RPZ QNAME triggers: NXDOMAIN, NODATA, local data, passthru).
//
// A Policy is built once (Load, or a Builder) and never changes; a reload
// builds a new one and swaps it in. Every name lives in one compact
// open-addressing table (a byte arena of names, an 8-byte entry per name
// and 8-byte hash slots at most half full), so a million names cost tens
// of megabytes rather than a Go map's hundred, and Match walks a query
// name's suffixes from the right with one hash pass and no allocation.
//
// The package keeps no record of what it matched: Match and Answer return
// a verdict and count nothing, so what clients asked stays with them.
// Names with escaped dots (\.) are matched byte for byte, so such a label
// may match a rule for the labels on either side of its dot.
package filter
