# shellcheck shell=sh
# What every guest half of the QEMU tests shares, sourced by POSIX sh (the
# test guest's busybox /init, tests/vm/init.sh, as /etc/vm/guest-lib.sh; the
# Debian guest's report, tests/vm/guest-boot.sh, as
# /usr/local/lib/kmipvm/guest-lib.sh): the report protocol on the console,
# waiting on the guest's own clock, and the device-mapper state in sysfs.
#
# Report protocol (lines on the console, read by vm_results on the host,
# tests/vm/lib.sh):
#   KMIPVM ok WHAT          a check passed
#   KMIPVM FAIL WHAT: WHY   a check failed
#   KMIPVM | TEXT           output of a command, for the log
#   KMIPVM DONE N_OK N_FAIL the guest script ran to its end
M=KMIPVM
N_OK=0
N_FAIL=0
say() { echo "$M $*"; }
ok() { N_OK=$((N_OK + 1)); say "ok $*"; }
bad() { N_FAIL=$((N_FAIL + 1)); say "FAIL $*"; }
# show [FILE...]: FILEs (or stdin) for the log
show() { sed "s/^/$M | /" "$@"; }
# check WHAT CMD...: CMD succeeds (its output is not shown)
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; return 0; fi
	bad "$what"
	return 1
}

# uptime_cs: the guest's uptime in centiseconds
uptime_cs() { awk '{ split($1, a, "."); print a[1] * 100 + a[2] }' /proc/uptime; }
# _wait CS STEP CMD...: until CMD succeeds, at most CS centiseconds, looked
# at every STEP seconds; prints the centiseconds taken; 1 on time out.
_wait() {
	lim=$1 step=$2 w0=$(uptime_cs)
	shift 2
	while ! "$@"; do
		[ $(( $(uptime_cs) - w0 )) -lt "$lim" ] || { echo $(( $(uptime_cs) - w0 )); return 1; }
		sleep "$step"
	done
	echo $(( $(uptime_cs) - w0 ))
}
# wait_cs CS CMD...: _wait every 20 ms (latencies measured in the guest)
wait_cs() {
	cs=$1
	shift
	_wait "$cs" 0.02 "$@"
}
# wait_for SECONDS CMD...: _wait every 0.2 s, printing nothing (heavier
# commands: journalctl, networkctl in the Debian guest)
wait_for() {
	cs=$(( $1 * 100 ))
	shift
	_wait "$cs" 0.2 "$@" >/dev/null
}

# dm_sys NAME: /sys/block/dm-N of the mapping NAME
dm_sys() {
	for n in /sys/block/dm-*/dm/name; do
		[ -e "$n" ] && [ "$(cat "$n")" = "$1" ] && { echo "${n%/dm/name}"; return 0; }
	done
	return 1
}
suspended() { s=$(dm_sys "$1") && [ "$(cat "$s/dm/suspended")" = 1 ]; }
not_suspended() { s=$(dm_sys "$1") && [ "$(cat "$s/dm/suspended")" = 0 ]; }
# table_key NAME: the key field of the crypt target (dmsetup table --showkeys)
table_key() { dmsetup table --showkeys "$1" | awk '$3 == "crypt" { print $5 }'; }
