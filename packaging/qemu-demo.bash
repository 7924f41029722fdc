#!/usr/bin/env bash
# packaging/qemu-demo.bash - runs a cross-built hush under qemu-user
# against the signed simulated internet of `hush demo` (in-process, on
# 127.53.0.0/16) and asks it, with dig, the questions whose answers show
# that resolution and DNSSEC validation work on that CPU: secure data
# (ad), an NSEC-proven NXDOMAIN (ad), an unsigned zone (no ad) and
# expired signatures (SERVFAIL, EDE 7). Nothing leaves 127.0.0.0/8.
#
# A full build runs `hush demo` itself under qemu. A router build (make
# cross: -tags nodemo, no simulated internet inside) runs `hush serve`
# under qemu as a validating forwarder in front of the native NATIVE
# binary's demo, with the demo's root key (a committed fixture) as its
# trust anchor: the router binary validates every answer itself.
#
# Usage: packaging/qemu-demo.bash BINARY QEMU [NATIVE]
#   e.g. packaging/qemu-demo.bash bin/cross/hush-linux-mipsle qemu-mipsel-static bin/hush
set -euo pipefail

bin=${1:?usage: qemu-demo.bash BINARY QEMU [NATIVE]}
qemu=${2:?usage: qemu-demo.bash BINARY QEMU [NATIVE]}
native=${3:-bin/hush}
anchor=resolver/resolvertest/keys/root.ksk.key

dir=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

# start NAME COMMAND...: runs COMMAND with its output in a fifo and sets
# port to the first dns://127.0.0.1:PORT it prints (hush demo on stdout,
# hush serve on stderr). read blocks until hush prints it; -t only bounds
# a broken start.
port=
start() {
	local name=$1 line
	shift
	mkfifo "$dir/$name"
	"$@" >"$dir/$name" 2>&1 &
	pids+=($!)
	exec {fd}<"$dir/$name"
	port=
	while IFS= read -r -t 120 line <&"$fd"; do
		if [[ $line =~ dns://127\.0\.0\.1:([0-9]+) ]]; then
			port=${BASH_REMATCH[1]}
			break
		fi
		echo "qemu-demo: $name: $line" >&2
	done
	if [ -z "$port" ]; then
		echo "qemu-demo: $name printed no address" >&2
		exit 1
	fi
	# Keep reading so that hush never blocks on a full pipe.
	cat <&"$fd" >/dev/null &
}

begin=$SECONDS
if ! "$qemu" "$bin" version | grep -q '^built with -tags .*nodemo'; then
	start demo "$qemu" "$bin" demo
	mode="hush demo"
else
	start native-demo "$native" demo
	start router "$qemu" "$bin" serve --listen dns://127.0.0.1:0 \
		--forward "dns://127.0.0.1:$port" --allow-upstream 127.0.0.0/8 \
		--trust-anchor "$anchor"
	mode="validating forwarder in front of $native demo"
fi
echo "qemu-demo: $(basename "$bin") serving on 127.0.0.1:$port after $((SECONDS - begin))s ($mode)"

fail=0
# ask NAME WANT-STATUS WANT-AD(yes|no) [WANT-TEXT [UNWANTED-TEXT]]
ask() {
	local name=$1 status=$2 ad=$3 text=${4:-} bad=${5:-} out
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
	if [ -n "$bad" ] && grep -q "$bad" <<<"$out"; then
		echo "qemu-demo: FAIL $name: '$bad' in the answer" >&2
		echo "$out" >&2
		fail=1
		return
	fi
	echo "qemu-demo: ok   $name: $status, ad=$ad${text:+, $text}${bad:+, no $bad}"
}

ask www.alg13.sec NOERROR yes 'IN[[:space:]]*A[[:space:]]'
ask www.alg15.sec NOERROR yes
ask nx.alg8.sec NXDOMAIN yes
ask www.insecure.sec NOERROR no 'IN[[:space:]]*A[[:space:]]' 'EDE:'
ask www.expired.broken SERVFAIL no 'EDE: 7'

# Everything must still be running after answering; then it is ended.
for p in "${pids[@]}"; do
	if ! kill -0 "$p" 2>/dev/null; then
		echo "qemu-demo: FAIL a hush exited while answering" >&2
		fail=1
	fi
done
exit "$fail"
