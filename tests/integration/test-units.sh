#!/bin/bash
# The systemd units, the udev rule and the generator (issue 10), checked
# against the real tools of this machine and the real daemon:
#  - systemd-analyze verify: every unit (ExecStart pointed at the built
#    binaries), silent: a warning fails; its Documentation= pages exist;
#  - systemd-analyze security: kmipcryptd.service's exposure is the one
#    kmipcryptd(8), SANDBOX, states, and each directive it rates as weaker
#    is named there with its reason;
#  - kmipcryptd run as the unit runs it, as far as a process outside systemd
#    can be: only the unit's capabilities (CapabilityBoundingSet=), no new
#    privileges, LimitMEMLOCK=, UMask=; it polls PyKMIP, locks a revoked
#    volume, runs its exec command, reloads on SIGHUP (its old poller gone),
#    stops on SIGTERM; traced by strace, every system call it and its
#    children make is in the unit's SystemCallFilter=, every socket family in
#    RestrictAddressFamilies=, and it writes nowhere ProtectSystem=strict
#    forbids and opens no device DeviceAllow= does not grant;
#  - the udev rule (udevadm test, on loop devices, in a mount namespace that
#    holds only the system's blkid rules and ours): a LUKS2 device asks for
#    kmipcrypt-unlock@NAME.service only when the opt-in file exists and no
#    earlier rule opted the device out; LUKS1 and non-LUKS devices never;
#  - kmipcrypt-unlock@.service's ExecCondition, run as systemd would run it:
#    a kmip-bound LUKS2 device passes, others are skipped (exit 1, not 255);
#    its ExecStart reaches the activation (no device-mapper here: -95);
#  - kmipcrypt-generator on a crypttab of its own: a drop-in exactly for the
#    units systemd-cryptsetup-generator makes for _netdev lines, under the
#    same names, read by systemd-analyze verify;
#  - kmipcrypt-rekey.timer (daily, randomized, persistent, enabled by the
#    administrator into timers.target) and kmipcrypt-rekey.service: its
#    exposure the one kmipcrypt-rekey(8), SYSTEMD, states, with a reason
#    for each directive left weaker; its ExecStart (rekey --due) run as the
#    unit runs it, with no capability: it rotates a due key, and every system
#    call, socket family, write and device is one the unit allows.
# Needs root, systemd (systemd-analyze), udev (udevadm), strace, util-linux.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
D=${KMIPCRYPTD:-$(dirname "$KMIPCRYPT")/kmipcryptd}
[ -x "$D" ] || fail "no kmipcryptd beside $KMIPCRYPT"
[ "$(id -u)" = 0 ] || fail "needs root (capabilities, loop devices, a mount namespace)"
for tool in systemd-analyze systemd-escape udevadm strace setpriv prlimit unshare losetup; do
	command -v "$tool" >/dev/null 2>&1 ||
		fail "$tool is not installed; install it with 'apt-get install systemd udev strace util-linux'"
done

U=$root/systemd
daemon_unit=$U/kmipcryptd.service
unlock_unit=$U/kmipcrypt-unlock@.service
generator=$U/kmipcrypt-generator
rules=$root/udev/90-kmipcrypt.rules
T=$LAB_TMP/units
mkdir -p "$T"
loops=()
dpid=""
spid=""
# udevadm test writes its database and /dev/block links: into tmpfs mounted
# over these in its namespace when they exist, else into what it creates,
# removed at the end.
made=()
for d in /run/udev /dev/block; do [ -d "$d" ] || made+=("$d"); done
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	for d in "${made[@]}"; do rm -rf "$d"; done
	lab_cleanup
}
trap cleanup EXIT

# unit_values FILE KEY: each KEY= value of FILE, one per line, continuation
# lines joined (a trailing backslash and the newline become a space).
unit_values() {
	sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' "$1" | sed -n "s/^$2=//p"
}

# ------------------------------------------------------------ verify
# Copies with the installed paths replaced by the built binaries; each
# replacement must happen (a changed path in a unit fails here).
subst() {	# subst FILE FROM TO OUT
	grep -qF "$2" "$1" || fail "$(basename "$1"): no '$2' to replace by the built binary"
	sed "s|$2|$3|g" "$1" >"$4"
}
subst "$daemon_unit" "=/usr/sbin/kmipcryptd" "=$D" "$T/kmipcryptd.service"
subst "$unlock_unit" "/usr/sbin/kmipcrypt " "$KMIPCRYPT " "$T/kmipcrypt-unlock@.service"
cp "$T/kmipcrypt-unlock@.service" "$T/kmipcrypt-unlock@sdb.service"
# The password agent's pair (kmipcrypt-askpass(8)): the path unit names its service.
subst "$U/kmipcrypt-askpass.service" "/usr/sbin/kmipcrypt " "$KMIPCRYPT " "$T/kmipcrypt-askpass.service"
cp "$U/kmipcrypt-askpass.path" "$T/"
# The rotation timer and the service it starts (kmipcrypt-rekey(8), POLICY).
rekey_unit=$U/kmipcrypt-rekey.service
timer_unit=$U/kmipcrypt-rekey.timer
subst "$rekey_unit" "=/usr/sbin/kmipcrypt " "=$KMIPCRYPT " "$T/kmipcrypt-rekey.service"
cp "$timer_unit" "$T/"
for u in kmipcryptd.service kmipcrypt-unlock@.service kmipcrypt-unlock@sdb.service \
	 kmipcrypt-askpass.service kmipcrypt-askpass.path kmipcrypt-rekey.service \
	 kmipcrypt-rekey.timer; do
	out=$(cd "$T" && systemd-analyze verify --man=no "./$u" 2>&1)
	rc=$?
	[ $rc = 0 ] && [ -z "$out" ] ||
		{ printf '%s\n' "$out" | sed 's/^/    | /'; fail "systemd-analyze verify $u: exit $rc, output above"; }
	echo "ok systemd-analyze verify $u: no error, no warning"
done
# The check above can fail: a misspelt directive and a bad value are reported.
sed 's/^NoNewPrivileges=/NoNewPrivilege=/; s/^ProtectSystem=strict/ProtectSystem=stric/' \
	"$T/kmipcryptd.service" >"$T/broken.service"
out=$(cd "$T" && systemd-analyze verify --man=no ./broken.service 2>&1)
grep -q "NoNewPrivilege" <<<"$out" && grep -q "stric" <<<"$out" ||
	fail "systemd-analyze verify did not report a broken unit: the checks above prove nothing"
echo "ok ... and it reports a misspelt directive and a bad value (the check can fail)"
for f in "$daemon_unit" "$unlock_unit" "$rekey_unit" "$timer_unit"; do
	for m in $(unit_values "$f" Documentation | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([1-8]\))$/\1.\2/p'); do
		[ -f "$root/docs/$m" ] || fail "$(basename "$f"): Documentation= names $m, not in docs/"
	done
done
echo "ok the units' Documentation= pages are in docs/"

# ------------------------------------------------------------ security
# exposure UNIT PAGE SECTION: UNIT's exposure (systemd-analyze security) is
# the one PAGE's SECTION states ("exposure level of N.N"), and each
# directive it rates as weaker is named there (with its reason).
exposure() {
	local unit=$1 page=$root/docs/$2 section=$3 name sec score sandbox documented missing part directive
	name=$(basename "$unit")
	sec=$(systemd-analyze security --offline=yes "$unit" 2>&1) || {
		printf '%s\n' "$sec" | sed 's/^/    | /'; fail "systemd-analyze security --offline=yes $name"; }
	score=$(sed -n "s/^.*Overall exposure level for $name: \\([0-9.]*\\) .*\$/\\1/p" <<<"$sec")
	[ -n "$score" ] || { printf '%s\n' "$sec" | sed 's/^/    | /'; fail "no overall exposure in the output above"; }
	# the page as text (roff escapes made plain; \[u2026] the ellipsis of "~…")
	sandbox=$(awk -v s="$section" '/^\.SH /{p = ($2 == s)} p' "$page" | sed 's/\\-/-/g; s/\\(ti/~/g; s/\\&//g; s/\\fB//g; s/\\fR//g; s/\\fI//g; s/\\\[u2026\]/…/g')
	[ -n "$sandbox" ] || fail "$2 has no $section section"
	documented=$(sed -n 's/^.*exposure level of \([0-9]*\.[0-9]\).*$/\1/p' <<<"$sandbox" | head -n 1)
	[ -n "$documented" ] || fail "$2, $section: no 'exposure level of N.N'"
	echo "    systemd-analyze security: $name exposure $score ($2 says $documented)"
	[ "$score" = "$documented" ] ||
		fail "$name's exposure is $score, $2 says $documented: harden the unit back, or document the new value and why"
	echo "ok $name's exposure is $score, as $2 documents"
	missing=""
	while read -r directive; do
		for part in ${directive//\// }; do	# "User=/DynamicUser=": both named
			grep -qF -- "$part" <<<"$sandbox" || missing="$missing $part"
		done
	done < <(sed -n 's/^✗ \([^ ]*\) .*$/\1/p' <<<"$sec")
	[ -z "$missing" ] || fail "$2, $section, gives no reason for:$missing"
	echo "ok every directive left weaker ($(grep -c '^✗' <<<"$sec")) has its reason in $2"
}
exposure "$daemon_unit" kmipcryptd.8 SANDBOX
exposure "$rekey_unit" kmipcrypt-rekey.8 SYSTEMD

# ------------------------------------------------------------ the daemon as the unit runs it
luks_lab
vols=$LAB_TMP/volumes
rec=$LAB_TMP/record
state=$LAB_TMP/run/state.json
user=nobody
for i in 1 2; do
	img=$(newimg "dv$i")
	expect_rc 0 "enroll vol$i" K enroll "$img" --kind passphrase --key-file "$pass"
	echo "vol$i $img" >>"$vols"
done
uid2=$(uid_of "$img")	# vol2's key
hookout=$LAB_TMP/hook.out
printf '#!/bin/sh\nenv | grep "^KMIPCRYPT_ACTION=" >"%s.tmp" && mv "%s.tmp" "%s"\n' \
	"$hookout" "$hookout" "$hookout" >"$LAB_TMP/hook"
chmod 0755 "$LAB_TMP/hook"
cat >>"$conf" <<EOF

[daemon]
poll_interval = 1
user = $user
state_file = $state
exec = $LAB_TMP/hook
EOF

# sandboxed UNIT TRACE CMD...: CMD as UNIT's service would run it, as far as
# a process outside systemd can: only its capabilities, no new privileges,
# its LimitMEMLOCK= and UMask=; traced by strace into TRACE.
sandboxed() {
	local unit=$1 trace=$2 caps memlock um
	shift 2
	grep -q '^CapabilityBoundingSet=' "$unit" || fail "$(basename "$unit") has no CapabilityBoundingSet="
	# "CapabilityBoundingSet=" with nothing: no capability at all
	caps=$(unit_values "$unit" CapabilityBoundingSet | tr ' ' '\n' | grep . |
	       sed 's/^CAP_//' | tr '[:upper:]' '[:lower:]' | sed 's/^/+/' | paste -sd,)
	[ "$(unit_values "$unit" NoNewPrivileges)" = yes ] || fail "$(basename "$unit"): NoNewPrivileges=yes expected"
	memlock=$(unit_values "$unit" LimitMEMLOCK | tail -n 1)
	case $memlock in
	'') memlock=$((8 * 1024 * 1024)) ;;	# systemd's default
	*K) memlock=$(( ${memlock%K} * 1024 )) ;;
	*M) memlock=$(( ${memlock%M} * 1024 * 1024 )) ;;
	*[!0-9]*) fail "LimitMEMLOCK='$memlock': a number with K or M expected here" ;;
	esac
	um=$(unit_values "$unit" UMask | tail -n 1)
	echo "    $(basename "$unit"): capabilities ${caps:-none}; RLIMIT_MEMLOCK $memlock; umask ${um:-0022}; no_new_privs"
	(
		umask "${um:-0022}"
		exec strace -f -qq -y -e signal=none -o "$trace" \
			setpriv --bounding-set "-all${caps:+,$caps}" --inh-caps -all --no-new-privs \
			prlimit --memlock="$memlock:$memlock" "$@"
	)
}

trace=$LAB_TMP/strace.out
sandboxed "$daemon_unit" "$trace" "$D" -c "$conf" --test-volumes "$vols" --test-record "$rec" -v \
	>"$LAB_TMP/daemon.log" 2>&1 &
spid=$!
cycles() { "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$state" 2>/dev/null || echo 0; }
at_least() { [ "$(cycles)" -ge "$1" ]; }
lab_wait_for 60 at_least 1 || { cat "$LAB_TMP/daemon.log"; fail "no poll cycle within 60 s"; }
dpid=$("$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$state")
st() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
echo "    locker $dpid: CapBnd $(st "$dpid" CapBnd), CapEff $(st "$dpid" CapEff), NoNewPrivs $(st "$dpid" NoNewPrivs)"
expect_eq "$(st "$dpid" NoNewPrivs)" 1 "the daemon polls with only the unit's capabilities and no_new_privs"
cpid=$(pgrep -P "$dpid" | head -1)
[ -n "$cpid" ] || fail "no poller under $dpid"
expect_eq "$(st "$cpid" Uid | awk '{print $1}') $(st "$cpid" CapEff)" "$(id -u "$user") 0000000000000000" \
	"... its poller dropped to $user (CAP_SETUID, CAP_SETGID suffice)"
rec_has() { grep -q "^$1 " "$rec" 2>/dev/null; }
lab_pyclient main revoke "$uid2" --reason cessation >/dev/null || fail "revoke $uid2"
lab_wait_for 30 rec_has vol2 || { cat "$LAB_TMP/daemon.log"; fail "vol2 not locked after its key was revoked"; }
lab_wait_for 10 test -s "$hookout" || fail "the exec command did not run"
expect_eq "$(cat "$hookout")" "KMIPCRYPT_ACTION=suspend" "a revoked key: the volume locked, the exec command run"
old=$cpid
kill -HUP "$dpid"
gone() { ! kill -0 "$old" 2>/dev/null; }
lab_wait_for 15 gone || { cat "$LAB_TMP/daemon.log"; fail "SIGHUP: the old poller $old still runs 15 s later (the locker cannot signal it: CAP_KILL?)"; }
newpoller() { cpid=$(pgrep -P "$dpid" | head -1); [ -n "$cpid" ] && [ "$cpid" != "$old" ]; }
lab_wait_for 15 newpoller || fail "SIGHUP: no new poller"
n=$(cycles)
lab_wait_for 30 at_least $(( n + 1 )) || fail "SIGHUP: no poll cycle since"
echo "ok SIGHUP: the old poller stopped by the locker, a new one polls"
kill -TERM "$dpid"
wait "$spid"
rc=$?
spid=""
dpid=""
expect_eq "$rc" 0 "SIGTERM: a clean exit"
! kill -0 "$cpid" 2>/dev/null || fail "the poller $cpid outlived the locker"
[ -s "$trace" ] || fail "no strace output"

# A unit without CAP_KILL (an administrator's stricter drop-in): the locker
# cannot signal its poller (another user), yet a SIGHUP still replaces it,
# within a second: the poller ends when the locker closes its socket.
rm -f "$state"
setpriv --bounding-set -all,+sys_admin,+setuid,+setgid --inh-caps -all --no-new-privs \
	"$D" -c "$conf" --test-volumes "$vols" --test-record "$rec" -v >"$LAB_TMP/nokill.log" 2>&1 &
spid=$!
lab_wait_for 60 at_least 1 || { cat "$LAB_TMP/nokill.log"; fail "without CAP_KILL: no poll cycle within 60 s"; }
dpid=$("$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$state")
old=$(pgrep -P "$dpid" | head -1)
[ -n "$old" ] || fail "without CAP_KILL: no poller under $dpid"
t0=$(lab_now_ms)
kill -HUP "$dpid"
lab_wait_for 15 gone || { cat "$LAB_TMP/nokill.log"; fail "without CAP_KILL: the old poller $old still runs 15 s after SIGHUP"; }
ms=$(( $(lab_now_ms) - t0 ))
[ "$ms" -le 1000 ] || fail "without CAP_KILL: the old poller took $ms ms to go (more than a second)"
lab_wait_for 15 newpoller || fail "without CAP_KILL: no new poller after SIGHUP"
expect_grep "cannot signal the poller .*CAP_KILL" "without CAP_KILL: SIGHUP replaces the poller anyway (${ms} ms), and says why it could not signal it" \
	cat "$LAB_TMP/nokill.log"
kill -TERM "$dpid"
wait "$spid"
spid=""
dpid=""

# trace_paths TRACE write|device: from an strace -y log, the paths written
# (opened for writing or created, made, removed, renamed), or the /dev paths
# opened, whether the call succeeded or not; a relative path resolved against
# its directory descriptor.
trace_paths() {
	"$LAB_PY" - "$@" <<'PY'
import re, sys
call = re.compile(r'^\d+ +([a-z0-9_]+)\((.*)$')	# finished or not: every attempt
first = re.compile(r'(?:(?:AT_FDCWD|-?\d+)(?:<([^>]*)>)?, )?"((?:[^"\\]|\\.)*)"(?:, ([A-Z0-9_|]+))?')
out = set()
for line in open(sys.argv[1], errors="replace"):
    m = call.match(line)
    a = m and first.match(m.group(2))
    if not a:
        continue
    name, path, flags = m.group(1), a.group(2), a.group(3) or ""
    if not path.startswith("/") and a.group(1):
        path = a.group(1).rstrip("/") + "/" + path
    if sys.argv[2] == "device":
        if name in ("open", "openat") and path.startswith("/dev/"):
            out.add(path)
    elif (name in ("open", "openat") and re.search(r"O_(WRONLY|RDWR|CREAT)", flags)) or \
         name in ("creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir",
                  "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"):
        out.add(path)
print("\n".join(sorted(out)))
PY
}
declare -A seen_group=()
expand() {	# expand @GROUP|NAME: the system call names, groups expanded
	local w
	case $1 in
	@*)	[ -n "${seen_group[$1]:-}" ] && return
		seen_group[$1]=1
		for w in $(systemd-analyze syscall-filter "$1" | sed -n 's/^ \{4\}\([@a-z0-9_-]*\)$/\1/p'); do
			expand "$w"
		done ;;
	*) echo "$1" ;;
	esac
}
# check_trace UNIT TRACE BINARY WHAT: what BINARY did under strace, from its
# exec on (setpriv's and prlimit's own calls are not its), against UNIT:
# system calls, socket families, writes, devices.
check_trace() {
	local unit=$1 trace=$2 bin=$3 what=$4 used allow="" deny="" allowed bad line w families f rw writes p d ok
	sed -n "\|execve(\"$bin\"|,\$p" "$trace" >"$trace.d"
	[ -s "$trace.d" ] || fail "no execve of $bin in the trace"
	used=$(sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p; s/^[0-9]+ +<\.\.\. ([a-z0-9_]+) resumed>.*/\1/p' "$trace.d" | sort -u)
	while read -r line; do
		case $line in
		'~'*) for w in ${line#\~}; do deny="$deny $(seen_group=(); expand "$w" | tr '\n' ' ')"; done ;;
		*) for w in $line; do allow="$allow $(seen_group=(); expand "$w" | tr '\n' ' ')"; done ;;
		esac
	done < <(unit_values "$unit" SystemCallFilter)
	[ -n "$allow" ] || fail "$(basename "$unit") has no SystemCallFilter= allow list"
	allowed=$(comm -23 <(tr ' ' '\n' <<<"$allow" | grep . | sort -u) <(tr ' ' '\n' <<<"$deny" | grep . | sort -u))
	echo "    $(wc -w <<<"$used") system calls used, $(wc -l <<<"$allowed") allowed"
	bad=$(comm -23 <(printf '%s\n' "$used") <(printf '%s\n' "$allowed") | paste -sd' ')
	[ -z "$bad" ] || { grep -E "^[0-9]+ +($(tr ' ' '|' <<<"$bad"))\(" "$trace.d" | head -n 5 | sed 's/^/    | /'
			   fail "system calls outside $(basename "$unit")'s SystemCallFilter=: $bad"; }
	echo "ok $what: every system call in $(basename "$unit")'s SystemCallFilter="
	families=$(grep -oE '^[0-9]+ +socket(pair)?\(AF_[A-Z0-9]+' "$trace.d" | sed 's/.*(//' | sort -u)
	for f in $families; do
		grep -qw "$f" <<<"$(unit_values "$unit" RestrictAddressFamilies)" ||
			fail "$what: a socket of family $f, not in RestrictAddressFamilies="
	done
	families=$(paste -sd' ' <<<"$families")
	echo "ok ... every socket family (${families:-none}) in RestrictAddressFamilies="
	# ProtectSystem=strict: writable only the runtime directory,
	# ReadWritePaths=, PrivateTmp's /tmp and /var/tmp, the API file systems
	# (and the test's own files, under $LAB_TMP, standing for /run/kmipcryptd).
	rw="$(unit_values "$unit" RuntimeDirectory | sed 's|^.|/run/&|') $(unit_values "$unit" ReadWritePaths | sed 's/^-//') /tmp /var/tmp /dev /proc $LAB_TMP"
	writes=$(trace_paths "$trace.d" write)
	for p in $(sort -u <<<"$writes"); do
		ok=""
		for d in $rw; do case $p in "$d" | "$d"/*) ok=1 ;; esac; done
		[ -n "$ok" ] || fail "$what: it writes $p, read-only under ProtectSystem=strict (writable: $rw)"
	done
	echo "ok ... it writes only where ProtectSystem=strict lets it ($(sort -u <<<"$writes" | grep -c .) paths)"
	[ "$(unit_values "$unit" DevicePolicy)" = closed ] || return 0
	# DevicePolicy=closed: the pseudo devices, and what DeviceAllow= grants.
	for p in $(trace_paths "$trace.d" device); do
		case $p in
		/dev/null | /dev/zero | /dev/full | /dev/random | /dev/urandom | /dev/tty | /dev/ptmx) ;;
		/dev/mapper/control) grep -q "^/dev/mapper/control rw" <<<"$(unit_values "$unit" DeviceAllow)" ||
			fail "$what: it opens /dev/mapper/control, not granted rw by DeviceAllow=" ;;
		*) [ -b "$p" ] || fail "$what: it opens the device $p, which DevicePolicy=closed forbids"
		   ! grep -qxF "$p" <<<"$writes" || fail "$what: it opens the block device $p for writing" ;;
		esac
	done
	echo "ok ... it opens no device DeviceAllow= does not grant"
}
check_trace "$daemon_unit" "$trace" "$D" "kmipcryptd, its poller and its exec command"

# ------------------------------------------------------------ udev rule
# Loop devices: a kmip-bound LUKS2 volume, a LUKS2 one with a token of another
# type, LUKS1, and no LUKS at all.
bound=$(newimg bound)
expect_rc 0 "enroll a volume for the hot-plug checks" K enroll "$bound" --kind passphrase --key-file "$pass"
plain2=$(newimg plain2)
# ... with a token of another type whose name only contains "kmip"
token_put "$plain2" 0 '{"type":"kmipish","keyslots":[]}'
luks1=$LAB_TMP/luks1.img
truncate -s 32M "$luks1"
cryptsetup luksFormat --type luks1 --pbkdf-force-iterations 1000 --batch-mode "$luks1" "$pass" >/dev/null ||
	fail "luksFormat luks1"
nolux=$LAB_TMP/nolux.img
truncate -s 32M "$nolux"
for img in "$bound" "$plain2" "$luks1" "$nolux"; do
	l=$(losetup -f --show "$img") || fail "losetup $img"
	loops+=("$l")
done
k_bound=${loops[0]#/dev/} k_plain2=${loops[1]#/dev/} k_luks1=${loops[2]#/dev/} k_nolux=${loops[3]#/dev/}
echo "    loop devices: bound $k_bound, LUKS2 with a kmipish token $k_plain2, LUKS1 $k_luks1, none $k_nolux"

R=$T/rules
mkdir -p "$R"
flag=$T/hotplug
grep -c 'TEST!="/etc/kmipcrypt/hotplug"' "$rules" | grep -qx 1 || fail "90-kmipcrypt.rules: one TEST of /etc/kmipcrypt/hotplug expected"
sed "s|/etc/kmipcrypt/hotplug|$flag|" "$rules" >"$R/90-kmipcrypt.rules"
sysrules=/usr/lib/udev/rules.d
[ -f "$sysrules/60-persistent-storage.rules" ] || sysrules=/lib/udev/rules.d
[ -f "$sysrules/60-persistent-storage.rules" ] || fail "no 60-persistent-storage.rules (udev's blkid rules)"
cp "$sysrules/60-persistent-storage.rules" "$R/"
# udev_run NAME [ACTION]: udevadm test in a namespace where udev sees only
# $R's rules and writes its database and /dev/block links into throw-away
# tmpfs; the properties it would set in $T/udev.props.
udev_run() {
	unshare -m --propagation private sh -c '
		for d in /etc/udev/rules.d /run/udev /dev/block; do
			if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d" || exit 1; fi
		done
		mount --bind "$1" "$2" && udevadm test --action="$4" "/sys/class/block/$3"' \
		sh "$R" "$sysrules" "$1" "${2:-add}" >"$T/udev.out" 2>&1 ||
		{ sed 's/^/    | /' "$T/udev.out"; fail "udevadm test $1 failed"; }
	! grep -E '90-kmipcrypt\.rules:[0-9]+ .*(nvalid|rror|gnoring|nknown)' "$T/udev.out" ||
		fail "udevadm reports a problem in 90-kmipcrypt.rules (above)"
	grep -E '^[A-Z_]+=' "$T/udev.out" >"$T/udev.props"
}
prop() { sed -n "s/^$1=//p" "$T/udev.props"; }
rm -f "$flag"
udev_run "$k_bound"
expect_eq "$(prop SYSTEMD_WANTS)" "" "udev: hot-plug not enabled (no opt-in file): nothing asked of systemd"
expect_eq "$(prop ID_FS_TYPE) $(prop ID_FS_VERSION)" "crypto_LUKS 2" "... though udev sees the LUKS2 volume"
touch "$flag"
udev_run "$k_bound"
expect_eq "$(prop SYSTEMD_WANTS)" "kmipcrypt-unlock@$k_bound.service" \
	"udev: enabled, a LUKS2 device: kmipcrypt-unlock@$k_bound.service"
grep -q ':systemd:' <<<"$(prop TAGS)" || fail "... without the systemd tag"
echo "ok ... tagged for systemd"
[ -f "$U/kmipcrypt-unlock@.service" ] || fail "the rule asks for a unit that systemd/ does not hold"
udev_run "$k_bound" change
expect_eq "$(prop SYSTEMD_WANTS)" "kmipcrypt-unlock@$k_bound.service" "udev: the same on a change event"
udev_run "$k_plain2"
expect_eq "$(prop SYSTEMD_WANTS)" "kmipcrypt-unlock@$k_plain2.service" \
	"udev: a LUKS2 device without kmip token too (the unit checks the token)"
udev_run "$k_luks1"
expect_eq "$(prop ID_FS_VERSION):$(prop SYSTEMD_WANTS)" "1:" "udev: LUKS1 (no tokens): nothing"
udev_run "$k_nolux"
expect_eq "$(prop SYSTEMD_WANTS)" "" "udev: not LUKS: nothing"
udev_run "$k_bound" remove
expect_eq "$(prop SYSTEMD_WANTS)" "" "udev: a remove event: nothing"
printf 'SUBSYSTEM=="block", KERNEL=="%s", ENV{KMIPCRYPT_HOTPLUG}="0"\n' "$k_bound" >"$R/89-local.rules"
udev_run "$k_bound"
expect_eq "$(prop SYSTEMD_WANTS)" "" "udev: a device opted out by an earlier rule (KMIPCRYPT_HOTPLUG=0): nothing"
rm -f "$R/89-local.rules"

# ------------------------------------------------------------ kmipcrypt-unlock@.service
# Its ExecCondition and ExecStart as systemd runs them: words unquoted, "$$"
# a "$", %i the instance, systemd's PATH and no other environment.
unit_cmd() {	# unit_cmd KEY INSTANCE: the command's words, NUL-separated
	"$LAB_PY" -c '
import shlex, sys
words = shlex.split(sys.argv[1])
sys.stdout.write("\0".join(w.replace("$$", "$").replace("%i", sys.argv[2]) for w in words))
' "$(unit_values "$unlock_unit" "$1" | sed 's/^[-+@!:]*//')" "$2"
}
run_unit_cmd() {	# run_unit_cmd KEY INSTANCE [TRACE]: run it (sandboxed and traced
	# into TRACE if given), output to $T/cmd.out, print the exit status
	local -a argv
	mapfile -d '' argv < <(unit_cmd "$1" "$2")
	# kmipcrypt with the lab's configuration instead of /etc/kmipcrypt's
	[ "${argv[0]}" = "$KMIPCRYPT" ] && argv=("$KMIPCRYPT" -c "$conf" "${argv[@]:1}")
	argv=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${argv[@]}")
	if [ -n "${3:-}" ]; then
		sandboxed "$unlock_unit" "$3" "${argv[@]}" >"$T/cmd.out" 2>&1
	else
		"${argv[@]}" >"$T/cmd.out" 2>&1
	fi
	echo $?
}
expect_eq "$(run_unit_cmd ExecCondition "$k_bound" "$LAB_TMP/strace-cond.out")" 0 \
	"ExecCondition, sandboxed as the unit: a kmip-bound LUKS2 device, not open: unlocked"
check_trace "$unlock_unit" "$LAB_TMP/strace-cond.out" /bin/sh "ExecCondition (sh, ls, cryptsetup luksDump, grep)"
for k in "$k_plain2" "$k_luks1" "$k_nolux" nosuchdev0; do
	expect_eq "$(run_unit_cmd ExecCondition "$k")" 1 "ExecCondition: $k skipped (exit 1: not a failure)"
	sed 's/^/    | /' "$T/cmd.out"
done
grep -q "nosuchdev0: no such block device" "$T/cmd.out" || fail "... without saying why"
# ExecStart, with the built binary: the activation itself needs device-mapper.
unlock_unit=$T/kmipcrypt-unlock@.service	# the copy with the built binary
rc=$(run_unit_cmd ExecStart "$k_bound" "$LAB_TMP/strace-unlock.out")
sed 's/^/    | /' "$T/cmd.out"
expect_eq "$rc" 5 "ExecStart, sandboxed as the unit: kmipcrypt unlock fetches the secret and activates (exit 5: no device-mapper here)"
grep -qE "device-mapper|-95" "$T/cmd.out" || fail "... for another reason than device-mapper"
echo "ok ... because of device-mapper"
check_trace "$unlock_unit" "$LAB_TMP/strace-unlock.out" "$KMIPCRYPT" "kmipcrypt unlock"

# ------------------------------------------------------------ kmipcrypt-rekey.timer and .service
# The timer: daily, at a random moment, caught up after downtime, and
# enabled by the administrator into timers.target (not by the package).
expect_eq "$(unit_values "$timer_unit" OnCalendar)" daily "kmipcrypt-rekey.timer: OnCalendar=daily"
systemd-analyze calendar daily >/dev/null || fail "systemd-analyze calendar daily"
[ -n "$(unit_values "$timer_unit" RandomizedDelaySec)" ] || fail "kmipcrypt-rekey.timer: no RandomizedDelaySec="
expect_eq "$(unit_values "$timer_unit" Persistent)" true "... Persistent=true, RandomizedDelaySec=$(unit_values "$timer_unit" RandomizedDelaySec)"
expect_eq "$(unit_values "$timer_unit" WantedBy)" timers.target "... [Install] WantedBy=timers.target"
[ -z "$(unit_values "$timer_unit" Unit)" ] && [ -f "$U/kmipcrypt-rekey.service" ] ||
	fail "kmipcrypt-rekey.timer must start kmipcrypt-rekey.service (no Unit=), which systemd/ must hold"
expect_eq "$(unit_values "$rekey_unit" Type)" oneshot "kmipcrypt-rekey.service: Type=oneshot"
rekey_unit=$T/kmipcrypt-rekey.service	# the copy with the built binary
# Its ExecStart as systemd runs it (the lab's configuration, and the test's
# volumes instead of the system's), sandboxed as the unit: a volume of a
# group with a rotate_after of 1s is rotated once its key is due.
rimg=$(newimg rk)
sed -i '/^\[default\]$/a rotate_after = 1s' "$conf"
expect_rc 0 "enroll a volume for the rotation timer" K enroll "$rimg" --kind passphrase --key-file "$pass"
rold=$(uid_of "$rimg")
echo "$rimg" >"$T/rekey.list"
due() { K status --json "$rimg" | grep -q '"rotation_due":true'; }
lab_wait_for 30 due || { K status "$rimg"; fail "the key of $rimg is not due 30 s after its enroll (rotate_after 1s)"; }
mapfile -t rargv < <(unit_values "$rekey_unit" ExecStart | tr ' ' '\n' | grep .)
[ "${rargv[0]}" = "$KMIPCRYPT" ] && [ "${rargv[1]}" = rekey ] && [ "${rargv[2]}" = --due ] && [ ${#rargv[@]} = 3 ] ||
	fail "kmipcrypt-rekey.service: ExecStart is '${rargv[*]}', want 'kmipcrypt rekey --due'"
sandboxed "$rekey_unit" "$LAB_TMP/strace-rekey.out" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	"$KMIPCRYPT" -c "$conf" rekey --due --from "$T/rekey.list" >"$T/cmd.out" 2>&1
rc=$?
sed 's/^/    | /' "$T/cmd.out"
expect_eq "$rc" 0 "ExecStart, sandboxed as kmipcrypt-rekey.service (no capability): kmipcrypt rekey --due"
[ "$(uid_of "$rimg")" != "$rold" ] || fail "... did not rotate the due key '$rold'"
expect_eq "$(lab_pyclient main get-state "$rold" | lab_json state)" DEACTIVATED \
	"... it rotated the due key; the old one '$rold' is Deactivated"
check_trace "$rekey_unit" "$LAB_TMP/strace-rekey.out" "$KMIPCRYPT" "kmipcrypt rekey --due"

# ------------------------------------------------------------ generator
G=$T/gen
mkdir -p "$G/ours" "$G/systemd"
ct=$G/crypttab
cat >"$ct" <<'EOF'
# a comment, then volumes: local, network, nofail, noauto, spacing, look-alikes
data UUID=5e1c0d2a-1111-2222-3333-444455556666 none luks
iscsi-db /dev/disk/by-path/ip-10.0.0.1:3260-iscsi-iqn.2026-01.example:db-lun-0 none luks,_netdev
opt /dev/sdb1 none _netdev,nofail
manual /dev/sdc1 none noauto
   spaced	/dev/sdd1	none	discard,_netdev
lookalike /dev/sde1 none x_netdev,_netdevs
EOF
printf 'last /dev/sdf1 none _netdev' >>"$ct"	# no newline at the end
[ -x "$generator" ] || fail "$generator is not executable"
expect_rc 0 "kmipcrypt-generator on a crypttab" env SYSTEMD_CRYPTTAB="$ct" "$generator" "$G/ours" "$G/ours" "$G/ours"
[ ! -s "$LAB_TMP/out" ] || fail "... with output (above)"
ours=$(cd "$G/ours" && ls -d *.service.d 2>/dev/null | sed 's/\.d$//' | sort)
cg=/lib/systemd/system-generators/systemd-cryptsetup-generator
[ -x "$cg" ] || fail "no $cg to compare with"
SYSTEMD_CRYPTTAB=$ct "$cg" "$G/systemd" "$G/systemd" "$G/systemd" >/dev/null 2>&1 || fail "$cg failed"
netdev=$(cd "$G/systemd" && grep -l '^After=remote-fs-pre.target' *.service | sort)
[ "$(wc -l <<<"$netdev")" = 4 ] || fail "systemd-cryptsetup-generator marks $(wc -l <<<"$netdev") lines as _netdev, not the 4 of the crypttab"
expect_eq "$(paste -sd' ' <<<"$ours")" "$(paste -sd' ' <<<"$netdev")" \
	"a drop-in for each _netdev line's unit, named as systemd-cryptsetup-generator names it"
for u in $ours; do
	expect_eq "$(grep -v '^#' "$G/ours/$u.d/50-kmipcrypt-network.conf" | paste -sd' ')" \
		"[Unit] Wants=network-online.target After=network-online.target" "$u: waits for network-online.target"
done
cp -r "$G/ours/." "$G/systemd/"
u=$(head -n 1 <<<"$ours")
out=$(SYSTEMD_UNIT_PATH=$G/systemd: systemd-analyze verify --man=no "$G/systemd/$u" 2>&1)
! grep -q 50-kmipcrypt-network.conf <<<"$out" || { printf '%s\n' "$out" | sed 's/^/    | /'; fail "verify: a problem in the drop-in"; }
echo "Bogus=1" >>"$G/systemd/$u.d/50-kmipcrypt-network.conf"
out=$(SYSTEMD_UNIT_PATH=$G/systemd: systemd-analyze verify --man=no "$G/systemd/$u" 2>&1)
grep -q "50-kmipcrypt-network.conf.*Bogus" <<<"$out" ||
	fail "verify does not read the drop-in of $u: its name or place is wrong"
echo "ok systemd-analyze verify reads the drop-in with its unit, and finds nothing wrong"
rm -rf "$G/none" && mkdir "$G/none"
expect_rc 0 "kmipcrypt-generator without a crypttab" env SYSTEMD_CRYPTTAB="$G/absent" "$generator" "$G/none"
[ -z "$(ls -A "$G/none")" ] || fail "... wrote something"
expect_rc 1 "kmipcrypt-generator without its directory argument" "$generator"
pass
