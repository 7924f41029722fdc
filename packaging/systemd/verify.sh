#!/bin/sh
# packaging/systemd/verify.sh - installs hush with `make install` into a
# temporary DESTDIR (PREFIX=/usr, as a distribution would) and runs
# `systemd-analyze verify` on the installed unit with that directory as
# the root, so the unit is checked where it lands and ExecStart's binary
# exists; then the same with the default PREFIX=/usr/local, which the
# README's laptop install uses. Run from the repository root by CI.
#
# verify --root looks for every executable the unit names inside the
# root, so ExecReload's /bin/kill is copied there too.
set -eu

command -v systemd-analyze >/dev/null || {
	echo "verify.sh: systemd-analyze not installed (package systemd)" >&2
	exit 1
}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# check PREFIX: installs into a fresh root and verifies the unit there.
check() {
	prefix=$1
	rm -rf "$root"
	mkdir -p "$root"
	make --no-print-directory install DESTDIR="$root" PREFIX="$prefix" >/dev/null
	install -D -m 0755 /bin/kill "$root/bin/kill"
	unit="$root$prefix/lib/systemd/system/hush.service"
	grep -qx "ExecStart=$prefix/bin/hush serve --config /etc/hush/hush.yaml --trust-anchor-state /var/lib/hush/root.state --control-socket /run/hush/control.sock" "$unit" || {
		echo "verify.sh: make install PREFIX=$prefix did not point ExecStart at $prefix/bin/hush" >&2
		exit 1
	}
	# Every flag ExecStart passes exists in the installed hush.
	"$root$prefix/bin/hush" serve --help >"$root/help"
	# shellcheck disable=SC2013 # flags are single words
	for flag in $(sed -n 's/^ExecStart=//p' "$unit" | grep -o -- '--[a-z0-9-]*'); do
		grep -q -- "  $flag " "$root/help" || {
			echo "verify.sh: ExecStart passes $flag, which hush serve does not have" >&2
			exit 1
		}
	done
	for f in "$prefix/bin/hush" /etc/hush/hush.yaml "$prefix/share/hush/resolved-hush.conf" \
		"$prefix/lib/systemd/system/hush.socket" \
		"$prefix/share/hush/hush.example.yaml"; do
		[ -f "$root$f" ] || {
			echo "verify.sh: make install PREFIX=$prefix did not install $f" >&2
			exit 1
		}
	done
	# verify prints problems on stderr but exits 0 for some of them (an
	# unknown directive is only a warning): any output is a failure.
	out=$(systemd-analyze verify --root="$root" hush.service hush.socket 2>&1) || {
		echo "$out" >&2
		exit 1
	}
	if [ -n "$out" ]; then
		echo "$out" >&2
		exit 1
	fi
	echo "verify.sh: hush.service and hush.socket installed under PREFIX=$prefix ok"
}

check /usr/local
check /usr
