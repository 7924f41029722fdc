#!/bin/sh
# shellcheck disable=SC3043 # dash and busybox ash, which run this, have local
# packaging/openwrt/test/init_test.sh - renders /etc/config/hush into
# hush's command line and dnsmasq's settings by running the functions of
# packaging/openwrt/hush/files/hush.init, and checks the result.
#
# OpenWRT's helpers are replaced by stubs written here:
#   - config, option, list (the UCI file is shell: sourcing it calls them),
#     config_load, config_get, config_get_bool, config_list_foreach, as
#     /lib/functions.sh behaves;
#   - procd_* record the instance (command, params, jail) in files;
#   - uci_get/uci_set/uci_add_list/uci_remove_list/uci_remove/uci_commit
#     keep /etc/config/dhcp as one file per option under a temporary
#     directory, as /lib/config/uci.sh's functions read and write it;
#   - logger and the dnsmasq init script record that they were called.
# Every --flag the script emits must appear in `HUSH serve --help` of the
# hush binary given, so the package never passes a flag hush lacks.
#
# Usage: init_test.sh HUSH_BINARY      (run by .ci/run; exit 1 on failure)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
INIT_SCRIPT="$here/../hush/files/hush.init"
CONFIG="$here/../hush/files/hush.config"
HUSH_BIN=${1:?usage: init_test.sh HUSH_BINARY}
[ -x "$HUSH_BIN" ] || {
	echo "init_test: $HUSH_BIN is not an executable" >&2
	exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$HUSH_BIN" serve --help >"$work/help"

failures=0
fail() {
	echo "FAIL [$case_name] $*" >&2
	failures=$((failures + 1))
}

# --- /lib/functions.sh: UCI config state as shell variables -------------
config() {
	cfg_section=${2:-cfg$$}
	cfg_sections="${cfg_sections:-} $cfg_section"
	eval "CONFIG_${cfg_section}_TYPE=\$1"
}
option() {
	eval "CONFIG_${cfg_section}_$1=\$2"
}
list() {
	local n
	eval "n=\${CONFIG_${cfg_section}_$1_LENGTH:-0}"
	n=$((n + 1))
	eval "CONFIG_${cfg_section}_$1_ITEM$n=\$2"
	eval "CONFIG_${cfg_section}_$1_LENGTH=$n"
	eval "CONFIG_${cfg_section}_$1=\"\${CONFIG_${cfg_section}_$1:+\${CONFIG_${cfg_section}_$1} }\$2\""
}
config_load() {
	# A fresh load forgets the previous one, as uci_load does.
	# shellcheck disable=SC2046 # one variable name per word
	unset $(set | sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p')
	# shellcheck disable=SC1090 # the file is chosen per case
	. "$uci_file"
}
config_get() {
	eval "$1=\${CONFIG_$2_$3:-\${4:-}}"
}
config_get_bool() {
	local v
	config_get v "$2" "$3" "${4:-}"
	case "$v" in
	1 | on | true | yes | enabled) v=1 ;;
	0 | off | false | no | disabled) v=0 ;;
	*) v=${4:-} ;;
	esac
	eval "$1=\$v"
}
config_list_foreach() {
	local section="$1" opt="$2" fn="$3" n i=1 val
	eval "n=\${CONFIG_${section}_${opt}_LENGTH:-0}"
	while [ "$i" -le "$n" ]; do
		eval "val=\${CONFIG_${section}_${opt}_ITEM$i}"
		"$fn" "$val"
		i=$((i + 1))
	done
}

# --- procd ---------------------------------------------------------------
procd_open_instance() { echo "open $1" >>"$work/procd"; }
procd_close_instance() { echo "close" >>"$work/procd"; }
procd_set_param() {
	local p="$1"
	shift
	if [ "$p" = command ]; then
		: >"$work/cmd"
		for a in "$@"; do echo "$a" >>"$work/cmd"; done
	else
		echo "param $p $*" >>"$work/procd"
	fi
}
procd_append_param() {
	shift # always "command" here
	for a in "$@"; do echo "$a" >>"$work/cmd"; done
}
procd_add_jail() { echo "jail $*" >>"$work/procd"; }
procd_add_jail_mount() { echo "mount $*" >>"$work/procd"; }
procd_add_jail_mount_rw() { echo "mount_rw $*" >>"$work/procd"; }
procd_add_reload_trigger() { echo "reload_trigger $*" >>"$work/procd"; }

# --- /lib/config/uci.sh over a directory: $work/uci/PKG/SECTION/OPTION ----
uci_get() {
	local f="$work/uci/$1/$2/${3:-.type}"
	if [ -f "$f" ]; then
		paste -sd ' ' "$f"
	else
		printf '%s' "${4:-}"
	fi
}
uci_set() {
	mkdir -p "$work/uci/$1/$2"
	if [ -z "$4" ]; then rm -f "$work/uci/$1/$2/$3"; else echo "$4" >"$work/uci/$1/$2/$3"; fi
}
uci_add_list() {
	mkdir -p "$work/uci/$1/$2"
	echo "$4" >>"$work/uci/$1/$2/$3"
}
uci_remove_list() {
	local f="$work/uci/$1/$2/$3"
	[ -f "$f" ] || return 0
	grep -vxF -- "$4" "$f" >"$f.new" || true
	if [ -s "$f.new" ]; then mv "$f.new" "$f"; else rm -f "$f" "$f.new"; fi
}
uci_remove() { rm -f "$work/uci/$1/$2/$3"; }
uci_commit() { echo "commit $1" >>"$work/events"; }
logger() { echo "log $*" >>"$work/events"; }

fake_dnsmasq_init() {
	cat >"$work/dnsmasq.init" <<-EOF
		#!/bin/sh
		[ "\$1" = running ] && exit 0
		echo "dnsmasq \$1" >>"$work/events"
	EOF
	chmod +x "$work/dnsmasq.init"
}

# dhcp_dump: /etc/config/dhcp's dnsmasq section as sorted option=value
# lines (lists joined), to compare before and after.
dhcp_dump() {
	for f in "$work/uci/dhcp/@dnsmasq[0]"/*; do
		[ -f "$f" ] || continue
		echo "${f##*/}=$(paste -sd ' ' "$f")"
	done | sort
}

# A stock OpenWRT dnsmasq section: a local zone, a domain-specific server,
# one plain upstream server, no noresolv.
dhcp_stock() {
	rm -rf "$work/uci"
	mkdir -p "$work/uci/dhcp/@dnsmasq[0]"
	echo dnsmasq >"$work/uci/dhcp/@dnsmasq[0]/.type"
	echo /lan/ >"$work/uci/dhcp/@dnsmasq[0]/local"
	printf '%s\n' /corp.example/10.1.1.1 192.0.2.53 >"$work/uci/dhcp/@dnsmasq[0]/server"
}

# start_case NAME UCI_FILE: resets the stubs' state and loads the init
# script in a fresh set of variables.
start_case() {
	case_name=$1
	uci_file=$2
	rm -f "$work/procd" "$work/cmd" "$work/events"
	touch "$work/procd" "$work/cmd" "$work/events"
	cfg_sections=
	# shellcheck disable=SC1090 # the init script is checked on its own
	. "$INIT_SCRIPT"
	# shellcheck disable=SC2034 # read by the init script's functions
	PROG=$HUSH_BIN DNSMASQ_INIT=$work/dnsmasq.init
	# The script's own function, replaced after it is loaded: no chown.
	hush_own_dir() { echo "own $1" >>"$work/procd"; }
}

# want_cmd LINE: the rendered command, one argument per line, with
# $HUSH_BIN shown as /usr/bin/hush, must equal LINE's words.
want_cmd() {
	local got
	got=$(sed "1s|^$HUSH_BIN\$|/usr/bin/hush|" "$work/cmd" | paste -sd ' ')
	[ "$got" = "$1" ] || fail "command:
	got  $got
	want $1"
}

want_line() { # FILE LINE
	grep -qxF -- "$2" "$work/$1" || fail "$1 has no line '$2':
$(sed 's/^/	/' "$work/$1")"
}

no_line() { # FILE LINE
	! grep -qxF -- "$2" "$work/$1" || fail "$1 has the line '$2'"
}

want_dhcp() { # OPTION VALUE ('' = absent)
	local got
	got=$(uci_get dhcp '@dnsmasq[0]' "$1")
	[ "$got" = "$2" ] || fail "dhcp @dnsmasq[0].$1 = '$got', want '$2'"
}

# check_flags: every --flag in the command exists in hush serve --help.
check_flags() {
	local flag
	# shellcheck disable=SC2013 # flags are single words
	for flag in $(grep -- '^--' "$work/cmd"); do
		grep -q -- "  $flag " "$work/help" || fail "hush serve has no $flag"
	done
}

# uci_config NAME: writes the shipped config with sed expression $2.
uci_config() {
	sed "$2" "$CONFIG" >"$work/$1.uci"
	echo "$work/$1.uci"
}

fake_dnsmasq_init

# 1. The shipped config: recursive, dnsmasq forwarding to 127.0.0.1#5453.
dhcp_stock
before=$(dhcp_dump)
start_case shipped "$CONFIG"
start_service
want_cmd "/usr/bin/hush serve --listen dns://127.0.0.1:5453 --listen dns://[::1]:5453 --cache-size 16MiB --dnssec validate --trust-anchor-state /etc/hush/root.state --private-address private --control-socket /var/run/hush/control.sock"
check_flags
want_line procd "open hush"
want_line procd "param respawn "
want_line procd "param user hush"
want_line procd "param capabilities /etc/capabilities/hush.json"
want_line procd "jail hush ronly"
want_line procd "close"
no_line procd "mount /etc/ssl/certs/ca-certificates.crt"
want_line procd "own /var/run/hush"
want_line procd "mount_rw /var/run/hush"
want_line procd "own /etc/hush"
want_line procd "mount_rw /etc/hush"
want_dhcp noresolv 1
want_dhcp server "/corp.example/10.1.1.1 127.0.0.1#5453"
want_dhcp hush_backup_server "192.0.2.53"
want_dhcp hush_backup_noresolv "-1"
want_line events "commit dhcp"
want_line events "dnsmasq restart"
service_triggers
want_line procd "reload_trigger hush"

# A reload (procd runs start_service again) changes nothing in dnsmasq.
start_case shipped-reload "$CONFIG"
wired=$(dhcp_dump)
start_service
[ "$(dhcp_dump)" = "$wired" ] || fail "second start changed dhcp:
$(dhcp_dump)"
no_line events "dnsmasq restart"

# Stopping restores dnsmasq's own settings exactly.
start_case shipped-stop "$CONFIG"
stop_service
[ "$(dhcp_dump)" = "$before" ] || fail "stop did not restore dhcp:
	got  $(dhcp_dump | paste -sd ' ')
	want $(echo "$before" | paste -sd ' ')"
want_line events "dnsmasq restart"

# 2. Forwarding to plain and encrypted upstreams, DNSSEC off, more clients
# (README: Install on OpenWRT).
dhcp_stock
start_case forward "$(uci_config forward "
s/option mode 'recursive'/option mode 'forward'/
s/list upstream '9.9.9.9'/list upstream 'tls:\/\/9.9.9.9#dns.quad9.net'/
s/option dnssec '1'/option dnssec '0'/
s/#list allow_client/list allow_client/
s/option cache_size '16MiB'/option cache_size '5000'/
")"
start_service
want_cmd "/usr/bin/hush serve --listen dns://127.0.0.1:5453 --listen dns://[::1]:5453 --forward 1.1.1.1 --forward tls://9.9.9.9#dns.quad9.net --cache-size 5000 --dnssec off --private-address private --control-socket /var/run/hush/control.sock --allow-client 192.168.1.0/24"
check_flags
want_line procd "mount /etc/ssl/certs/ca-certificates.crt"
# Without validation there is no trust-anchor state to keep.
no_line procd "mount_rw /etc/hush"

# 3. hush owns port 53; dnsmasq only does DHCP (README: Install on OpenWRT).
dhcp_stock
before=$(dhcp_dump)
start_case replace "$(uci_config replace "
s/option dnsmasq 'forward'/option dnsmasq 'replace'/
/list listen_addr '127.0.0.1'/d
s/list listen_addr '::1'/&\n\tlist listen_addr '192.168.1.1'/
")"
start_service
want_cmd "/usr/bin/hush serve --listen dns://[::1]:53 --listen dns://192.168.1.1:53 --cache-size 16MiB --dnssec validate --trust-anchor-state /etc/hush/root.state --private-address private --control-socket /var/run/hush/control.sock --allow-client 127.0.0.0/8 --allow-client ::1/128 --allow-client 10.0.0.0/8 --allow-client 172.16.0.0/12 --allow-client 192.168.0.0/16 --allow-client fc00::/7 --allow-client fe80::/10"
check_flags
want_dhcp port 0
want_dhcp noresolv ""
want_dhcp server "/corp.example/10.1.1.1"
stop_service
[ "$(dhcp_dump)" = "$before" ] || fail "stop did not restore dhcp after replace"

# 4. dnsmasq 'none' leaves dhcp untouched.
dhcp_stock
before=$(dhcp_dump)
start_case none "$(uci_config none "s/option dnsmasq 'forward'/option dnsmasq 'none'/")"
start_service
[ "$(dhcp_dump)" = "$before" ] || fail "dnsmasq 'none' changed dhcp"
no_line events "commit dhcp"

# 5. Settings hush cannot run with: no instance, a log line, a failure.
for bad in "s/option mode 'recursive'/option mode 'forward'/;/list upstream/d" \
	"s/option mode 'recursive'/option mode 'stub'/" \
	"s/option dnsmasq 'forward'/option dnsmasq 'both'/"; do
	dhcp_stock
	start_case "bad: $bad" "$(uci_config bad "$bad")"
	if start_service; then fail "start_service succeeded"; fi
	no_line procd "open hush"
	grep -q '^log ' "$work/events" || fail "no log line"
done

# 6. A forward zone reaches hush only if it has --forward-zone.
dhcp_stock
start_case forward-zone "$(uci_config fz "s/#list forward_zone/list forward_zone/")"
start_service
if grep -q -- '  --forward-zone ' "$work/help"; then
	want_line cmd "--forward-zone"
	want_line cmd "lan=127.0.0.1:5353"
else
	no_line cmd "--forward-zone"
	grep -q "forward_zone 'lan=127.0.0.1:5353' ignored" "$work/events" || fail "no log line for the ignored forward_zone"
fi
check_flags

# 7. The portal command: the uplink's DHCP resolver from ubus, to hush ctl.
start_case portal "$CONFIG"
# shellcheck disable=SC2317 # the stubs are called by the init script
ubus() { echo "ubus $*" >>"$work/events"; echo '{"dns-server":["10.20.0.1"]}'; }
jsonfilter() { [ "$*" = '-e @["dns-server"][0]' ] && sed -n 's/.*"dns-server":\["\([^"]*\)".*/\1/p'; }
# shellcheck disable=SC2034 # read by the init script's portal
PROG=$work/fake-hush
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$work/ctl" >"$work/fake-hush"
chmod +x "$work/fake-hush"
portal
portal 10m
portal close
want_line events "ubus call network.interface.wan status"
want_line ctl "ctl --control-socket /var/run/hush/control.sock portal open 10.20.0.1 5m"
want_line ctl "ctl --control-socket /var/run/hush/control.sock portal open 10.20.0.1 10m"
want_line ctl "ctl --control-socket /var/run/hush/control.sock portal close"
# shellcheck disable=SC2317
ubus() { echo '{}'; }
if portal 2>/dev/null; then fail "portal without an uplink DNS server succeeded"; fi
"$HUSH_BIN" ctl --help | grep -q 'portal open' || fail "hush ctl --help lacks the portal verb"

# 8. Disabled: no instance, and dnsmasq restored.
dhcp_stock
before=$(dhcp_dump)
start_case enabled-then-disabled "$CONFIG"
start_service
start_case disabled "$(uci_config off "s/option enabled '1'/option enabled '0'/")"
if start_service; then fail "start_service of a disabled hush succeeded"; fi
no_line procd "open hush"
[ "$(dhcp_dump)" = "$before" ] || fail "disabling did not restore dhcp"

if [ "$failures" -gt 0 ]; then
	echo "init_test: $failures failure(s)" >&2
	exit 1
fi
echo "init_test: ok"
