#!/bin/bash
# kmipcryptd's poller under its seccomp filter (daemon/sandbox.h,
# kmipcryptd(8) SANDBOX), against the real PyKMIP server:
#  - the poller runs in seccomp filter mode (/proc/PID/status: Seccomp 2,
#    one filter) with no new privileges; the locker has no filter;
#  - with the filter, a key revoked with PyKMIP's own client still locks its
#    volume within poll_interval + 1 s, and the other volume is left alone;
#  - a system call outside the filter (--test-sandbox-violate: the poller
#    makes one once started: an ioctl other than TCGETS, refused by its
#    request) kills the poller with SIGSYS, and the locker
#    says so, names the filter and restarts it.
# test-daemon.sh, test-daemon-locate.sh and test-daemon-soak.sh (reconnects
# to a restarted server) run with the filter too.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

D=${KMIPCRYPTD:-$(dirname "$KMIPCRYPT")/kmipcryptd}
[ -x "$D" ] || fail "no kmipcryptd beside $KMIPCRYPT"
dpid=""
trap '[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null; lab_cleanup' EXIT

luks_lab
vols=$LAB_TMP/volumes
rec=$LAB_TMP/record
state=$LAB_TMP/run/state.json
: >"$vols"
for i in 1 2; do
	img=$(newimg "sb$i")
	expect_rc 0 "enroll vol$i" K enroll "$img" --key-file "$pass"
	echo "vol$i $img" >>"$vols"
	eval "uid$i=\$(uid_of \"\$img\")"
done
printf '\n[daemon]\npoll_interval = 1\nuser = nobody\nstate_file = %s\n' "$state" >>"$conf"
# The server by host name: glibc resolves it after the filter is in place.
sed -i "s/^servers = 127\.0\.0\.1:/servers = localhost:/" "$conf"
grep -q "^servers = localhost:" "$conf" || fail "the configuration names no server by host name"

cycles() { "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$state" 2>/dev/null || echo 0; }
at_least() { [ "$(cycles)" -ge "$1" ]; }
status_of() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }

"$D" -c "$conf" --test-volumes "$vols" --test-record "$rec" -v >"$LAB_TMP/daemon.log" 2>&1 &
dpid=$!
lab_wait_for 30 at_least 1 || { cat "$LAB_TMP/daemon.log"; fail "no poll cycle within 30 s"; }
cpid=$(pgrep -P "$dpid" | head -n 1)
[ -n "$cpid" ] || fail "no poller process under $dpid"
# A build with AddressSanitizer installs no filter (sandbox.h): the cycle is
# still checked, the filter's checks are skipped, and said so.
asan=""
grep -q "no seccomp filter for the poller in a build with AddressSanitizer" "$LAB_TMP/daemon.log" && asan=1
if [ -n "$asan" ]; then
	echo "ok # SKIP the filter's checks: a build with AddressSanitizer has no filter"
else
	expect_eq "$(status_of "$cpid" Seccomp)" 2 "the poller runs in seccomp filter mode (Seccomp: 2)"
	expect_eq "$(status_of "$cpid" Seccomp_filters)" 1 "... with one filter"
	expect_grep "seccomp filter in place" "the poller says so with -v" cat "$LAB_TMP/daemon.log"
fi
expect_eq "$(status_of "$cpid" NoNewPrivs)" 1 "the poller has no new privileges"
expect_eq "$(status_of "$dpid" Seccomp)" 0 "the locker has no filter of its own (device-mapper, udev, exec)"

revoke_locks main "$uid1" vol1 "$rec" "$LAB_TMP/daemon.log" \
	"under the filter, a revoked key locks its volume within poll_interval + 1 s"
expect_eq "$(grep -c '^vol2 ' "$rec" || true)" 0 "vol2 (key Active) not touched"
expect_eq "$(pgrep -P "$dpid" | head -n 1)" "$cpid" "the same poller all along (nothing it did broke the filter)"
kill -TERM "$dpid"
wait "$dpid"
expect_eq "$?" 0 "SIGTERM: a clean exit"
dpid=""

[ -z "$asan" ] || pass
# A system call outside the filter: SIGSYS, said by the locker, restarted.
rm -f "$state"
"$D" -c "$conf" --test-volumes "$vols" --test-record "$LAB_TMP/record2" --test-sandbox-violate \
	>"$LAB_TMP/violate.log" 2>&1 &
dpid=$!
killed() { [ "$(grep -c 'the poller was killed by its seccomp filter (SIGSYS' "$LAB_TMP/violate.log")" -ge "$1" ]; }
lab_wait_for 15 killed 2 || { cat "$LAB_TMP/violate.log"; fail "no SIGSYS death of the poller said twice"; }
expect_grep "killed by its seccomp filter \(SIGSYS: a system call it may not make; kmipcryptd\(8\), SANDBOX\): a bug, please report it .*; restarting it in [0-9]+s" \
	"the locker says the poller broke its filter, that it is a bug, and restarts it" cat "$LAB_TMP/violate.log"
kill -0 "$dpid" 2>/dev/null || fail "the locker ended with its poller"
echo "ok the locker outlives its poller's deaths"
[ ! -s "$LAB_TMP/record2" ] || fail "a volume was locked although no key was asked"
echo "ok nothing locked"
kill -TERM "$dpid"
wait "$dpid"
dpid=""
pass
