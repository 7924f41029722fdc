// Package rpl reads Deckard resolver scenarios (the *.rpl format shared
// with Unbound's testbound and Knot Resolver's Deckard) and plays them
// against a resolver through an in-process simulated network.
//
// A scenario has three parts: a config block (raw key/value pairs ending
// at CONFIG_END), RANGE blocks that script what simulated authoritative
// servers answer during an interval of steps, and STEPs that send queries
// to the resolver under test, check its answers and move its clock.
//
// Unbound's own scenarios (testbound's dialect, Scenario.Testbound) read
// too: config clauses with several pairs on a line, TIME_PASSES with
// decimal seconds or an EVAL of integer arithmetic, HEX_ANSWER_BEGIN and
// HEX_EDNSDATA_BEGIN blocks, NOTHING and TRAFFIC steps; their mock
// servers answer whatever the query's ID (copy_id or not), and the
// upstream queries a QUERY step causes are matched at the next step, as
// testbound does.
//
// The package does not import package resolver, so resolver's own tests
// can use it: a Factory builds whatever Resolver the caller wants from the
// scenario, an Exchanger (the simulated network) and a clock. No packet
// leaves the process: servers in a scenario may use public-looking
// addresses such as 193.0.14.129, and the Network answers for all of them.
//
// The package's tests read the scenarios in place from $HUSH_RPL_DIR, or
// from ../shared/deckard-rpl next to the repository, and skip when neither
// holds any *.rpl file; no scenario is copied into the repository.
package rpl
