#!/bin/bash
# kmipcryptd on the host (issue 9): the real PyKMIP server over mutual TLS,
# LUKS2 image files standing in for open mappings (--test-volumes: no
# device-mapper here) and the recording locker (--test-record) observing
# its decisions.  The locks themselves on real dm-crypt: tests/vm.
#  - the binary holds no Get, Decrypt, enroll or unbind code, no libxml2;
#  - two processes: the locker root, the poller another user with no
#    capability and no_new_privs;
#  - a key revoked with PyKMIP's own client: only its volume's action, within
#    poll_interval + 1 s (measured); Key Compromise and Destroy likewise; each
#    once (idempotent);
#  - a server that answers garbage locks nothing;
#  - SIGHUP: a changed configuration (a per-volume action, exec with its
#    environment, offline_grace) and a changed volume list take effect;
#  - the server killed: no action before offline_grace, the action after;
#    back: polling resumes without a restart;
#  - SIGTERM: both processes gone within a second, the state file removed.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

D=${KMIPCRYPTD:-$(dirname "$KMIPCRYPT")/kmipcryptd}
[ -x "$D" ] || fail "no kmipcryptd beside $KMIPCRYPT"
dpid=""
npid=""
trap '[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null; [ -n "$npid" ] && kill "$npid" 2>/dev/null; lab_cleanup' EXIT

# What the daemon must not contain (linked with --gc-sections: only what it calls).
syms=$(nm --defined-only "$D" | awk '{print $3}')
for s in kmip_get kmip_decrypt kmip_encrypt kmip_fetch kmip_fetch_many kmip_build_get \
	 kmip_build_fetch kmip_parse_get luks_fetch_secret luks_prove luks_enroll luks_unbind \
	 luks_unlock_ex; do
	! grep -qx "$s" <<<"$syms" || fail "kmipcryptd contains $s"
done
grep -qx kmip_get_attrs_each <<<"$syms" && grep -qx kmip_locate <<<"$syms" ||
	fail "nm shows no kmip_get_attrs_each or kmip_locate: the check above proves nothing"
echo "ok kmipcryptd holds no Get, Decrypt, enroll or unbind code (nm)"
expect_nogrep 'libxml2|libicu|libstdc\+\+' "kmipcryptd does not load libxml2, ICU or libstdc++" \
	readelf -d "$D"

luks_lab
user=nobody
vols=$LAB_TMP/volumes
rec=$LAB_TMP/record
state=$LAB_TMP/run/state.json
: >"$vols"
for i in 1 2 3 4; do
	img=$(newimg "dv$i")
	expect_rc 0 "enroll vol$i" K enroll "$img" --kind passphrase --key-file "$pass"
	echo "vol$i $img" >>"$vols"
	eval "uid$i=\$(uid_of \"\$img\")"
	eval "img$i=\$img"
done
# A fifth volume whose group's server answers garbage.
fport=$(lab_fake_start garbage --mode garbage) || fail "the garbage server did not start"
img5=$(newimg dv5)
expect_rc 0 "enroll vol5" K enroll "$img5" --kind passphrase --key-file "$pass"
token_edit "$img5" 0 't["group"] = "garbage"'
echo "vol5 $img5" >>"$vols"
cat >>"$conf" <<EOF

[garbage]
servers = 127.0.0.1:$fport
ca = $LAB_CERTS/ca.crt
cert = $LAB_CERTS/client.crt
key = $LAB_CERTS/client.key
timeout_ms = 2000

[daemon]
poll_interval = 1
user = $user
state_file = $state
EOF

# systemd's notification socket, as a test listens to it: every datagram a line.
nsock=$LAB_TMP/notify.sock
notes=$LAB_TMP/notify.log
"$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")' "$nsock" "$notes" &
npid=$!
lab_wait_for 10 test -S "$nsock" || fail "the notification listener did not start"
NOTIFY_SOCKET=$nsock WATCHDOG_USEC=1000000 \
	"$D" -c "$conf" --test-volumes "$vols" --test-record "$rec" -v >"$LAB_TMP/daemon.log" 2>&1 &
dpid=$!
cycles() { "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$state" 2>/dev/null || echo 0; }
at_least() { [ "$(cycles)" -ge "$1" ]; }
lab_wait_for 30 at_least 1 || { cat "$LAB_TMP/daemon.log"; fail "no poll cycle within 30 s"; }
echo "ok the daemon polls (state file $state)"
expect_grep "client key .* loaded; OpenSSL's secure heap holds [1-9][0-9]* bytes" \
	"the poller holds the client key in OpenSSL's secure heap (locked, wiped)" cat "$LAB_TMP/daemon.log"
dogs() { [ "$(grep -c 'WATCHDOG=1' "$notes")" -ge "$1" ]; }
lab_wait_for 10 dogs 3 || { cat "$notes"; fail "fewer than 3 watchdog pings in 10 s (WATCHDOG_USEC 1 s)"; }
expect_grep '^READY=1 \| STATUS=watching 5 volume\(s\), 0 locked; last poll: [0-9]+ request\(s\)' \
	"sd_notify: READY=1 after the first poll, with a STATUS" head -n 1 "$notes"
echo "ok ... and watchdog pings while it polls ($(grep -c 'WATCHDOG=1' "$notes") so far)"
# kmipcrypt status shows whether the daemon runs (no mapping is open here:
# the daemon's view of a mapping is checked in the guest, test-vm-daemon.sh).
expect_rc 0 "kmipcrypt status while the daemon runs" K status "$img1"
expect_out "kmipcryptd: running \\(pid $dpid\\), not watching this volume \\(not open\\)" \
	"... says the daemon runs"
expect_rc 0 "kmipcrypt status --json" K status --json "$img1"
expect_out '"daemon": *\{' "... with a daemon object (empty: the volume is not watched)"

# The cheap question: with keys that one Get Attributes message asks (5 <=
# KMIP_BATCH_MAX), auto asks by batch and never tries Locate, which could
# not save a request and costs PyKMIP more (bench/results/fleet-*.md; the
# Locate path: test-daemon-locate.sh).
slog=$(lab_server_log main)
lab_wait_for 10 at_least 3 || fail "fewer than 3 cycles"
locates() { grep -c "Processing operation: Locate" "$slog"; }
expect_eq "$(locates)" 0 "after 3 cycles, no Locate: one batch asks the 5 keys"

# Privilege separation, as the kernel sees it.
cpid=$(pgrep -P "$dpid" | head -1)
[ -n "$cpid" ] || fail "no poller process under $dpid"
st() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
nuid=$(id -u "$user")
expect_eq "$(st "$dpid" Uid | awk '{print $1, $2, $3}')" "0 0 0" "the locker runs as root"
expect_eq "$(st "$cpid" Uid | awk '{print $1, $2, $3, $4}')" "$nuid $nuid $nuid $nuid" \
	"the poller runs as $user (real, effective, saved, fs)"
expect_eq "$(st "$cpid" Groups)" "" "... with no supplementary group"
expect_eq "$(st "$cpid" CapPrm) $(st "$cpid" CapEff) $(st "$cpid" CapAmb)" \
	"0000000000000000 0000000000000000 0000000000000000" "... with no capability"
expect_eq "$(st "$cpid" NoNewPrivs)" "1" "... and no_new_privs"
echo "    locker $dpid: Uid $(st "$dpid" Uid), CapEff $(st "$dpid" CapEff)"
echo "    poller $cpid: Uid $(st "$cpid" Uid), CapEff $(st "$cpid" CapEff)"

# rec_has NAME: the record file has a line for NAME
rec_has() { grep -q "^$1 " "$rec" 2>/dev/null; }
lines_of() { grep -c "^$1 " "$rec" 2>/dev/null || true; }

revoke_locks main "$uid2" vol2 "$rec" "$LAB_TMP/daemon.log" \
	"a revoked key: its volume locked within poll_interval + 1 s"
expect_grep "^vol2 suspend $uid2 Deactivated deactivated\$" \
	"... by the default action, with its state and rule" cat "$rec"
expect_grep "vol2 \(.*\): key '$uid2' is Deactivated \(rule deactivated\): suspend done" \
	"... and the audit line" cat "$LAB_TMP/daemon.log"

lab_pyclient main revoke "$uid3" --reason compromise >/dev/null || fail "compromise $uid3"
lab_wait_for 10 rec_has vol3 || fail "vol3 not locked"
expect_grep "^vol3 suspend $uid3 Compromised compromised\$" "Key Compromise: locked" cat "$rec"
lab_pyclient main revoke "$uid4" --reason cessation >/dev/null &&
	lab_pyclient main destroy "$uid4" >/dev/null || fail "destroy $uid4"
lab_wait_for 10 rec_has vol4 || fail "vol4 not locked"
expect_grep "^vol4 suspend $uid4 (Deactivated deactivated|not-found not-found|Destroyed destroyed)\$" \
	"Destroy: locked" cat "$rec"
n=$(cycles)
lab_wait_for 10 at_least $(( n + 3 )) || fail "the daemon stopped polling"
for v in vol2 vol3 vol4; do
	expect_eq "$(lines_of $v)" 1 "$v locked once over the cycles since (idempotent)"
done
expect_eq "$(lines_of vol1)" 0 "vol1 (key Active) not touched"
expect_eq "$(lines_of vol5)" 0 "vol5 (its server answers garbage) not touched"
v5=$("$LAB_PY" -c 'import json,sys
for v in json.load(open(sys.argv[1]))["volumes"]:
    if v["mapping"] == "vol5": print(v["verdict"], v["locked"])' "$state")
expect_eq "$v5" "unreachable False" "... the state file shows it unreachable, not locked"
expect_grep "group \[garbage\]: no usable answer" "the garbage group logged as giving no usable answer" \
	cat "$LAB_TMP/daemon.log"

# SIGHUP: vol5 leaves the list, vol6 comes with an action of its own; an
# exec command and offline_grace for what follows.
img6=$(newimg dv6)
expect_rc 0 "enroll vol6" K enroll "$img6" --kind passphrase --key-file "$pass"
uid6=$(uid_of "$img6")
grep -v '^vol5 ' "$vols" >"$vols.new" && mv "$vols.new" "$vols"
echo "vol6 $img6" >>"$vols"
envout=$LAB_TMP/exec-env
printf '#!/bin/sh\nenv | grep "^KMIPCRYPT_" | sort >"%s.tmp" && mv "%s.tmp" "%s"\n' \
	"$envout" "$envout" "$envout" >"$LAB_TMP/hook"
chmod 0755 "$LAB_TMP/hook"
"$LAB_PY" - "$conf" "$LAB_TMP/hook" <<'PY'
import sys
path, hook = sys.argv[1], sys.argv[2]
text = open(path).read().replace("poll_interval = 1\n",
    "poll_interval = 1\noffline_grace = 3s\nexec = %s\n" % hook)
open(path, "w").write(text + "\n[volume vol6]\naction = close\n")
PY
old_cpid=$cpid
kill -HUP "$dpid"
newpoller() { cpid=$(pgrep -P "$dpid" | head -1); [ -n "$cpid" ] && [ "$cpid" != "$old_cpid" ]; }
lab_wait_for 10 newpoller || fail "no new poller after SIGHUP"
watched6() { grep -q '"mapping":"vol6"' "$state" 2>/dev/null && ! grep -q '"mapping":"vol5"' "$state"; }
lab_wait_for 10 watched6 || fail "after SIGHUP the state file does not show the new list"
echo "ok SIGHUP: configuration reloaded, a new poller, the new volume list watched"
lab_pyclient main revoke "$uid6" --reason cessation >/dev/null || fail "revoke $uid6"
lab_wait_for 10 rec_has vol6 || fail "vol6 not locked"
expect_grep "^vol6 close $uid6 Deactivated deactivated\$" "vol6: its own action (close)" cat "$rec"
lab_wait_for 10 test -s "$envout" || fail "the exec command did not run"
expect_eq "$(tr '\n' ' ' <"$envout")" \
	"KMIPCRYPT_ACTION=close KMIPCRYPT_DEVICE=$img6 KMIPCRYPT_GROUP=default KMIPCRYPT_KEY_STATE=Deactivated KMIPCRYPT_KEY_UID=$uid6 KMIPCRYPT_MAPPING=vol6 KMIPCRYPT_RULE=deactivated " \
	"exec: run with the volume, key, state and rule in its environment"

# The server killed: vol1 (still Active) only after offline_grace.
t0=$(lab_now_ms)
m=$(wc -l <"$LAB_TMP/daemon.log")
lab_server_stop main
lab_wait_for 20 rec_has vol1 || fail "vol1 not locked after offline_grace"
ms=$(( $(lab_now_ms) - t0 ))
echo "    vol1 locked ${ms} ms after the server was killed (offline_grace 3 s)"
[ "$ms" -ge 3000 ] || fail "vol1 locked after $ms ms, before offline_grace"
expect_grep "^vol1 suspend $uid1 unreachable offline-grace\$" \
	"the server unreachable: no action before offline_grace, the action after" cat "$rec"
expect_grep "group \[default\]: no usable answer" "... the group's change logged" \
	cat "$LAB_TMP/daemon.log"
# Each group once a cycle, also in the cycle it stopped answering (it was
# asked again at once in the cycle's second pass, for the groups that did not
# answer: twice the requests, twice the timeout, to a server in trouble).
dup=$(tail -n +"$m" "$LAB_TMP/daemon.log" |
	sed -n 's/.*group \[default\]: cycle \([0-9]*\): by .*/\1/p' | sort | uniq -d | head -n 1)
[ -z "$dup" ] || fail "group [default] was asked twice in cycle $dup (the poller's -v lines)"
grep -q "group \[default\]: cycle [0-9]*: by" "$LAB_TMP/daemon.log" || fail "no poller cycle lines in the -v log"
echo "ok each group asked once a cycle, also in the cycle its server stopped answering"
lab_server_restart main || fail "PyKMIP did not restart"
answering() { grep -q "group \[default\]: its servers answer again" "$LAB_TMP/daemon.log"; }
lab_wait_for 15 answering || fail "polling did not resume after the server came back"
echo "ok the server back: polling resumes without a restart of the daemon"
expect_eq "$(pgrep -P "$dpid" | head -1)" "$cpid" "... the same poller"

# SIGTERM: gone within a second, both processes; the state file removed.
t0=$(lab_now_ms)
kill -TERM "$dpid"
wait "$dpid"
rc=$?
ms=$(( $(lab_now_ms) - t0 ))
dpid=""
expect_eq "$rc" 0 "SIGTERM: a clean exit"
[ "$ms" -le 1000 ] || fail "SIGTERM: $ms ms to stop"
echo "ok ... within a second ($ms ms)"
! kill -0 "$cpid" 2>/dev/null || fail "the poller $cpid outlived the locker"
echo "ok ... the poller gone too"
[ ! -e "$state" ] || fail "the state file is left behind"
echo "ok ... the state file removed"
expect_rc 0 "kmipcrypt status after the daemon stopped" K status "$img1"
expect_out "kmipcryptd: not running" "... says it does not run"
pass
