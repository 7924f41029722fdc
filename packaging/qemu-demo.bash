#!/usr/bin/env bash
# packaging/qemu-demo.bash - runs a cross-built hush under qemu-user as
# `hush demo` (the signed simulated internet, in-process, on 127.53.0.0/16,
# and a validating resolver on a free 127.0.0.1 port) and asks it, with
# dig, the questions whose answers show that resolution and DNSSEC
# validation work on that CPU: secure data (ad), an NSEC-proven NXDOMAIN
# (ad), an unsigned zone (no ad) and expired signatures (SERVFAIL, EDE 7).
# Nothing leaves 127.0.0.0/8.
#
# Usage: packaging/qemu-demo.bash BINARY QEMU
#   e.g. packaging/qemu-demo.bash bin/cross/hush-linux-mipsle qemu-mipsel-static
set -euo pipefail

bin=${1:?usage: qemu-demo.bash BINARY QEMU}
qemu=${2:?usage: qemu-demo.bash BINARY QEMU}

dir=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

mkfifo "$dir/out"
start=$SECONDS
"$qemu" "$bin" demo >"$dir/out" 2>"$dir/err" &
pid=$!
exec 3<"$dir/out"

# The first line names the port. read blocks until hush prints it; -t
# only bounds a broken start.
port=
while IFS= read -r -t 120 line <&3; do
	if [[ $line =~ dns://127\.0\.0\.1:([0-9]+) ]]; then
		port=${BASH_REMATCH[1]}
		break
	fi
done
if [ -z "$port" ]; then
	echo "qemu-demo: $bin printed no address" >&2
	cat "$dir/err" >&2
	exit 1
fi
# Keep reading so that hush never blocks on a full pipe.
cat <&3 >/dev/null &
echo "qemu-demo: $(basename "$bin") serving on 127.0.0.1:$port after $((SECONDS - start))s"

fail=0
# ask NAME WANT-STATUS WANT-AD(yes|no) [WANT-TEXT]
ask() {
	local name=$1 status=$2 ad=$3 text=${4:-} out
	out=$(dig @127.0.0.1 -p "$port" +dnssec +tries=1 +time=60 "$name" A)
	if ! grep -q "status: $status," <<<"$out"; then
		echo "qemu-demo: FAIL $name: want status $status" >&2
		echo "$out" >&2
		fail=1
		return
	fi
	local has_ad=no
	grep -q '^;; flags:[^;]* ad[ ;]' <<<"$out" && has_ad=yes
	if [ "$has_ad" != "$ad" ]; then
		echo "qemu-demo: FAIL $name: ad flag $has_ad, want $ad" >&2
		echo "$out" >&2
		fail=1
		return
	fi
	if [ -n "$text" ] && ! grep -q "$text" <<<"$out"; then
		echo "qemu-demo: FAIL $name: no '$text' in the answer" >&2
		echo "$out" >&2
		fail=1
		return
	fi
	echo "qemu-demo: ok   $name: $status, ad=$ad${text:+, $text}"
}

ask www.alg13.sec NOERROR yes 'IN[[:space:]]*A[[:space:]]'
ask www.alg15.sec NOERROR yes
ask nx.alg8.sec NXDOMAIN yes
ask www.insecure.sec NOERROR no 'IN[[:space:]]*A[[:space:]]'
ask www.expired.broken SERVFAIL no 'EDE: 7'

# hush demo must still be running after answering. It has no graceful
# stop (Ctrl-C ends it), so it is simply ended.
if ! kill -0 "$pid" 2>/dev/null; then
	echo "qemu-demo: FAIL hush demo exited while answering" >&2
	cat "$dir/err" >&2
	fail=1
fi
exit "$fail"
