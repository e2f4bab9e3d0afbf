#!/bin/bash
# kmipcryptd against a server whose Locate ignores the State filter (issue 9;
# KMIP-NOTES.md: servers that ignore a Locate filter, Cosmian KMS #824, #935):
# PyKMIP's own server changed in that one way (tests/lab/pykmip-changed.py
# locate-no-state).  Its Locate of "the Active objects of the host's Object
# Group" lists every object of the group, revoked ones too: a poller that
# believed it would miss a revocation until its next sweep (every tenth
# cycle).  The poller's probe (a Locate of the group's Pre-Active objects
# after each sweep: an object listed as both shows the filter ignored) turns
# Locate off for the group at once, so:
#  - the warning names the group and the server's fault;
#  - a key revoked after that locks its volume within poll_interval + 1 s;
#  - against the unchanged server (test-daemon.sh) no such warning comes.
# Then a server whose Locate answers after the client's timeout (as PyKMIP's
# own does with many objects under a fleet: bench/fleet.sh), 130 keys
# watched (more than one batch message: auto tries Locate only then): the
# default strategy (auto) tries Locate once, takes its silence as "dearer than a
# batch", asks every key in the same cycle and from then on, so
#  - at most that one cycle goes without an answer (PyKMIP does one request
#    at a time: the batch waits behind the slow Locate), no second Locate
#    (before, every cycle but the sweeps tried Locate again and went without
#    an answer: a revocation waited for the next sweep);
#  - a key revoked after that locks its volume within poll_interval + 1 s.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

D=${KMIPCRYPTD:-$(dirname "$KMIPCRYPT")/kmipcryptd}
[ -x "$D" ] || fail "no kmipcryptd beside $KMIPCRYPT"
dpid=""
trap '[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null; lab_cleanup' EXIT

port=$(lab_server_start nostate --change locate-no-state) || fail "the changed server did not start"
conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$port" timeout_ms=3000
slog=$(lab_server_log nostate)
vols=$LAB_TMP/volumes
rec=$LAB_TMP/record
state=$LAB_TMP/run/state.json
: >"$vols"
for i in 1 2 3; do
	img=$(newimg "lv$i")
	expect_rc 0 "enroll vol$i" K enroll "$img" --key-file "$pass"
	echo "vol$i $img" >>"$vols"
	eval "uid$i=\$(uid_of \"\$img\")"
done
# The server's fault, shown with its own client: Locate by State finds an object that is not in it.
lab_pyclient nostate revoke "$uid3" --reason cessation >/dev/null || fail "revoke $uid3"
group=$(token_json "$LAB_TMP/lv1.img" | json_field object_group)
[ -n "$group" ] || fail "the token records no Object Group"
lab_pyclient nostate locate --group "$group" --state active >"$LAB_TMP/loc" 2>&1 ||
	{ cat "$LAB_TMP/loc"; fail "PyKMIP's client: locate --group --state"; }
grep -q "\"$uid3\"" "$LAB_TMP/loc" ||
	{ cat "$LAB_TMP/loc"; fail "the changed server's Locate honours State: this test would prove nothing"; }
echo "ok the changed server's Locate of Active objects lists the revoked key $uid3"
grep -v '^vol3 ' "$vols" >"$vols.new" && mv "$vols.new" "$vols"

cat >>"$conf" <<EOF

[daemon]
poll_interval = 1
user = nobody
state_file = $state
EOF
# --test-strategy locate: Locate every cycle but the sweeps, as auto does
# where Locate is the cheaper (here, with two keys, the batch is).
"$D" -c "$conf" --test-volumes "$vols" --test-record "$rec" --test-strategy locate -v \
	>"$LAB_TMP/daemon.log" 2>&1 &
dpid=$!
locates() { grep -c "Processing operation: Locate" "$slog"; }
warned() { grep -q "ignores Locate's State filter" "$LAB_TMP/daemon.log"; }
lab_wait_for 30 warned || { cat "$LAB_TMP/daemon.log"; fail "no warning that the server ignores Locate's State filter"; }
expect_grep "group \[default\]: .*ignores Locate's State filter" "the poller says the server ignores Locate's State filter" \
	cat "$LAB_TMP/daemon.log"
echo "    after $(locates) Locate(s)"

cycles() { "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$state" 2>/dev/null || echo 0; }
at_least() { [ "$(cycles)" -ge "$1" ]; }
n=$(cycles)
lab_wait_for 10 at_least $(( n + 2 )) || fail "the daemon stopped polling"
revoke_locks nostate "$uid2" vol2 "$rec" "$LAB_TMP/daemon.log" \
	"a key revoked after that: its volume locked within poll_interval + 1 s"
expect_eq "$(grep -c '^vol1 ' "$rec" 2>/dev/null || true)" 0 "vol1 (key Active) not touched"
kill -TERM "$dpid"
wait "$dpid" 2>/dev/null
dpid=""

# ------------------------------------------------ a Locate slower than timeout_ms
port=$(lab_server_start slow --change locate-slow) || fail "the slow server did not start"
conf=$LAB_TMP/slow.conf
lab_config "$conf" "$port" timeout_ms=1500
slog=$(lab_server_log slow)
# More keys than one Get Attributes message holds (KMIP_BATCH_MAX, 128):
# below that auto never tries Locate (test-daemon.sh).  Watched through the
# test seam (--test-keys: volumes of one key each, no header).
: >"$rec"
rm -f "$state"
lab_pyclient slow create --count 130 --activate --group kmipcrypt-test-many | lab_json uids |
	awk '{ printf "k%d default %s\n", NR, $1 }' >"$LAB_TMP/keys"
expect_eq "$(wc -l <"$LAB_TMP/keys")" 130 "130 Active keys in one Object Group on the slow server"
uid5=$(awk '$1 == "k5" { print $3 }' "$LAB_TMP/keys")
cat >>"$conf" <<EOF

[daemon]
poll_interval = 1
user = nobody
state_file = $state
EOF
"$D" -c "$conf" --test-keys "$LAB_TMP/keys" --test-record "$rec" -v >"$LAB_TMP/slow.log" 2>&1 &
dpid=$!
located() { [ "$(locates)" -ge 1 ]; }
lab_wait_for 30 located || { cat "$LAB_TMP/slow.log"; fail "the default strategy never tried Locate"; }
n=$(cycles)
lab_wait_for 20 at_least $(( n + 3 )) || { cat "$LAB_TMP/slow.log"; fail "the daemon stopped polling after a Locate went unanswered"; }
n=$(grep -c 'no usable answer' "$LAB_TMP/slow.log" || true)
[ "$n" -le 1 ] || { cat "$LAB_TMP/slow.log"; fail "$n cycles without an answer after one unanswered Locate"; }
echo "ok at most one cycle without an answer ($n)"
# (Locate answers after 4 s, timeout_ms 1.5 s.)
revoke_locks slow "$uid5" k5 "$rec" "$LAB_TMP/slow.log" \
	"a key revoked after that: its volume locked within poll_interval + 1 s"
expect_eq "$(locates)" 1 "Locate not tried again within LOCATE_RETRY cycles"
expect_eq "$(grep -vc '^k5 ' "$rec" 2>/dev/null || true)" 0 "no other key's volume touched"
expect_grep "group \[default\]: no answer to Locate" "a Locate without an answer: the poller says it asks every key instead" \
	cat "$LAB_TMP/slow.log"
kill -TERM "$dpid"
wait "$dpid" 2>/dev/null
dpid=""
pass
