#!/bin/sh
# packaging/size-check.sh - checks the stripped, static binaries that
# `make cross` leaves in bin/cross against their size budgets.
#
# Budgets are bytes, in decimal megabytes (12 MB = 12,000,000 bytes, not
# 12 MiB = 12,582,912): the stricter reading of the "12 MB". Each
# entry is ARCH:BUDGET[:CEILING]. Over the budget is a failure, unless
# the entry has a CEILING: then it is reported (OVER) and only a size over
# the ceiling fails, so that growth is still caught.
#
# The router builds (armv7, armv6, arm64: -tags nodemo litemetrics
# noquic, -gcflags all=-l; mipsle and mips: nohttp too, MIPS code being
# 15% bigger) are the ones routers get, and meet the 12 MB.
# amd64 is the full build (every feature, client_golang, quic-go),
# budgeted at what it measured plus a margin.
#
# Usage: packaging/size-check.sh [--report] [DIR]   (DIR: bin/cross)
# Exit status 1 when a binary is missing or over its budget (or ceiling);
# with --report, nothing over a budget fails (a missing binary still
# does).
set -eu

report=0
if [ "${1:-}" = --report ]; then
	report=1
	shift
fi
dir=${1:-bin/cross}

fail=0
for entry in \
	mipsle:12000000 \
	mips:12000000 \
	armv6:12000000 \
	armv7:12000000 \
	arm64:12000000 \
	amd64:19000000; do
	arch=${entry%%:*}
	rest=${entry#*:}
	budget=${rest%%:*}
	ceiling=
	[ "$rest" = "$budget" ] || ceiling=${rest#*:}
	f="$dir/hush-linux-$arch"
	if [ ! -f "$f" ]; then
		echo "size-check: $f is missing (make cross builds it)" >&2
		fail=1
		continue
	fi
	size=$(wc -c <"$f" | tr -d ' ')
	if [ -n "$ceiling" ] && [ "$size" -gt "$ceiling" ] && [ "$report" = 0 ]; then
		echo "size-check: FAIL hush-linux-$arch is $size bytes, over its ceiling of $ceiling" >&2
		fail=1
	elif [ "$size" -gt "$budget" ] && { [ "$report" = 1 ] || [ -n "$ceiling" ]; }; then
		echo "size-check: OVER hush-linux-$arch is $size bytes, over its budget of $budget${ceiling:+ (under its ceiling of $ceiling)}"
	elif [ "$size" -gt "$budget" ]; then
		echo "size-check: FAIL hush-linux-$arch is $size bytes, over its budget of $budget" >&2
		fail=1
	else
		echo "size-check: ok   hush-linux-$arch is $size bytes, budget $budget"
	fi
done
exit "$fail"
