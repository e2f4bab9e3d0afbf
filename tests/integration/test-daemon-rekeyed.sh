#!/bin/bash
# kmipcryptd and a header that changes under it (against the real PyKMIP):
# a rekey or a reencryption switches a volume's token to a new KMS object
# and then revokes the old one (Superseded); an unbind and a new enroll do
# the same by hand.  The daemon watched the old key: its revocation must not
# lock the volume (the header no longer names it), and the daemon must then
# watch the key the header names now: its revocation locks the volume
# within poll_interval + 1 s.  Here the token is switched by enroll (a
# second token) and unbind of the first, with no rescan in between (image
# files, --test-volumes: no udev event; --test-no-rescan: no periodic
# rescan, which would otherwise race the revocation, as it does in
# production).
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
log=$LAB_TMP/daemon.log
img=$(newimg rk)
expect_rc 0 "enroll the volume (key 1)" K enroll "$img" --kind passphrase --key-file "$pass"
old=$(uid_of "$img")
echo "vol $img" >"$vols"
printf '\n[daemon]\npoll_interval = 1\nuser = nobody\nstate_file = %s\n' "$state" >>"$conf"

cycles() { "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$state" 2>/dev/null || echo 0; }
at_least() { [ "$(cycles)" -ge "$1" ]; }
"$D" -c "$conf" --test-volumes "$vols" --test-record "$rec" --test-no-rescan -v >"$log" 2>&1 &
dpid=$!
lab_wait_for 15 at_least 1 || { cat "$log"; fail "kmipcryptd did not poll"; }
echo "ok kmipcryptd watches the volume's key '$old'"

# The token switched to a new object, the daemon not told.
expect_rc 0 "a second token (key 2)" K enroll "$img" --kind passphrase --key-file "$pass"
expect_rc 0 "the first token unbound" K unbind "$img" --token 0
new=$(uid_of "$img" 1)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "the header names '$new', want a new key"
grep -q "watched with other keys" "$log" && fail "kmipcryptd rescanned before the revocation: the test proves nothing"

lab_pyclient main revoke "$old" --reason superseded >/dev/null || fail "revoke '$old'"
n=$(cycles)
lab_wait_for 15 at_least $((n + 3)) || { cat "$log"; fail "kmipcryptd stopped polling"; }
[ ! -s "$rec" ] || { cat "$rec" "$log"; fail "the volume was locked for a key its header no longer names"; }
expect_grep "vol: key '$old' is Deactivated, but the volume's header no longer names it" \
	"the old key's revocation locks nothing, and says why" cat "$log"
expect_grep "vol \\($img\\): watched with other keys, 1 kmip key\\(s\\) \\(header changed\\)" \
	"the volume is watched again with the key its header names" cat "$log"

revoke_locks main "$new" vol "$rec" "$log" "the new key's revocation locks the volume within poll_interval + 1 s"
kill -TERM "$dpid" && wait "$dpid"
dpid=""
pass
