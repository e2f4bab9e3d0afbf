#!/bin/bash
# test-timeout: 900
# The rotation policy (issue 11, Policy; kmipcrypt-rekey(8), "Rotation
# policy" and "Audit trail") against the real PyKMIP server:
#  - rotate_after per server group: [aged] (REKEY_DUE_AGE seconds, default
#    20), [default] (1d), [plain] (none); a bad value is refused with its
#    file and line;
#  - a key's age from the KMS's dates (PyKMIP keeps no Activation Date: its
#    Initial Date, checked against PyKMIP's own client): `status` (text and
#    --json) marks exactly the due key, and its exit status stays 0;
#  - `rekey --due` before anything is due rotates nothing; once the [aged]
#    volume's key is due, `rekey --due` over crypttab's volumes (the search of
#    status and unlock --all) rotates exactly it (the old object Deactivated
#    per PyKMIP's client, the other volumes' tokens unchanged) and a second
#    `rekey --due` right after rotates nothing;
#  - a rotation left half-done (rekey killed after the switch) is finished by
#    `rekey --due` although its key is not due;
#  - a key revoked behind its back is left alone and fails the run (exit 4,
#    the worst), the other tokens still looked at;
#  - the audit entry of each rotation, as the real systemd-journald stores
#    it (journald started in a mount namespace of the test's own, where
#    kmipcrypt runs too): MESSAGE_ID and fields; no entry for a run that
#    rotates nothing; the line on stderr beside it with -v, and not when
#    stderr is the journal's stream ($JOURNAL_STREAM); without a journal,
#    the line, also without -v (not with -q).
# No fixed sleeps: the test waits on conditions (the key becoming due, the
# journal holding an entry or a marker sent after it).  Needs root (mount
# namespaces) and systemd (systemd-journald, journalctl).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

AGE=${REKEY_DUE_AGE:-20}
ID=b360f40b9530423d8a83debbd4637991	# kmipcrypt-rekey(8), Audit trail
JD=/lib/systemd/systemd-journald
[ "$(id -u)" = 0 ] || fail "needs root (mount namespaces)"
for tool in unshare nsenter journalctl; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed; install it with 'apt-get install systemd util-linux'"
done
[ -x "$JD" ] || fail "no $JD; install it with 'apt-get install systemd'"
[ -d /run/systemd ] && [ -d /run/log ] || fail "no /run/systemd or /run/log to mount a journal of the test's own over"

jpid=""
cleanup() {
	[ -n "$jpid" ] && kill -KILL "$jpid" 2>/dev/null
	lab_cleanup
}
trap cleanup EXIT

luks_lab
# [default]'s servers and credentials, for the other groups
keys=$(sed -n '/^\[default\]$/,$p' "$conf" | tail -n +2)
{
	echo "rotate_after = 1d"
	echo
	echo "[aged]"
	echo "$keys"
	echo "rotate_after = ${AGE}s"
	echo
	echo "[plain]"
	echo "$keys"
} >>"$conf"

# enroll_in GROUP NAME: a new image bound in GROUP (passphrase kind)
enroll_in() {
	local img
	img=$(newimg "$2")
	K -g "$1" enroll "$img" --kind passphrase --key-file "$pass" --name "due-$2" \
		>"$LAB_TMP/enroll.out" 2>&1 || { sed 's/^/    | /' "$LAB_TMP/enroll.out"; fail "enroll $2 in [$1]"; }
	echo "$img"
}
state_of() { lab_pyclient main get-state "$1" | lab_json state; }
# jget IMG FIELD: FIELD of token 0 in `status --json IMG` ("absent" if not there)
jget() {
	K status --json "$1" 2>/dev/null | "$LAB_PY" -c '
import json, sys
t = json.load(sys.stdin)[0]["tokens"][0]
v = t.get(sys.argv[1], "absent")
print("null" if v is None else ("true" if v is True else "false" if v is False else v))' "$2"
}
epoch() { date -u -d "$1" +%s; }

# ------------------------------------------------------------ the key
a=$(enroll_in aged a) || exit 1	# due once AGE seconds old
olda=$(uid_of "$a")
b=$(enroll_in default b) || exit 1	# 1d: never due here
c=$(enroll_in plain c) || exit 1	# no policy
d=$(enroll_in default d) || exit 1	# for a rotation left half-done
echo "    [aged] $a (key $olda), [default] $b, [plain] $c, [default] $d"

# A bad rotate_after is refused, with the file and line (kmipcrypt.conf(5)).
cp "$conf" "$LAB_TMP/bad.conf"
sed -i 's/^rotate_after = 1d$/rotate_after = 90days/' "$LAB_TMP/bad.conf"
line=$(grep -n '^rotate_after = 90days$' "$LAB_TMP/bad.conf" | cut -d: -f1)
expect_rc 1 "a rotate_after of '90days'" "$KMIPCRYPT" -c "$LAB_TMP/bad.conf" status "$b"
expect_out "bad.conf:$line: key 'rotate_after': '90days' is not a duration" "... refused with its file, line and key"
sed -i 's/^rotate_after = 90days$/rotate_afer = 90d/' "$LAB_TMP/bad.conf"
expect_rc 1 "a misspelt rotate_after" "$KMIPCRYPT" -c "$LAB_TMP/bad.conf" status "$b"
expect_out "bad.conf:$line: key 'rotate_afer': unknown key; did you mean 'rotate_after'\\?" "... with a hint"

# The age: PyKMIP's Initial Date of the key, as its own client reads it.
initial=$(lab_pyclient main get-attributes "$olda" "Initial Date" | "$LAB_PY" -c '
import json, sys; print(json.load(sys.stdin)["attributes"]["Initial Date"])')
case $initial in '' | *[!0-9]*) fail "PyKMIP's client gave no Initial Date for '$olda': '$initial'" ;; esac
expect_eq "$(epoch "$(jget "$a" activated)") $(jget "$a" activated_from)" "$initial Initial Date" \
	"status --json: the key's age counts from its Initial Date (PyKMIP keeps no Activation Date), as PyKMIP's client reads it"
# young IMG: its key is younger than AGE now (the checks of "not due" need it)
young() {
	local t
	t=$(epoch "$(jget "$1" activated)") || return 1
	[ $(( $(date +%s) - t )) -lt "$AGE" ] ||
		fail "the key of $1 is $(( $(date +%s) - t )) s old already: this machine is too slow for REKEY_DUE_AGE=$AGE (raise it)"
}
young "$a"
expect_eq "$(jget "$a" rotate_after) $(jget "$a" rotation_due) $(jget "$b" rotate_after) $(jget "$b" rotation_due)" \
	"$AGE false 86400 false" "status --json: rotate_after and rotation_due of [aged] and [default], none due yet"
expect_eq "$(jget "$a" rotation_due_at)" "$(date -u -d "@$((initial + AGE))" +%Y-%m-%dT%H:%M:%SZ)" \
	"... due at the Initial Date + rotate_after"
expect_eq "$(jget "$c" rotate_after) $(jget "$c" rotation_due) $(jget "$c" rotation_due_at) $(jget "$c" activated)" \
	"absent absent absent absent" "... none of the rotation fields without a policy ([plain])"
expect_rc 0 "status, nothing due" K status "$a" "$b" "$c"
expect_out "rotation: key created [0-9TZ:-]+ \\(no Activation Date\\), rotate_after ${AGE}s: due [0-9TZ:-]+$" \
	"... the [aged] key: its age, its policy and when it is due"
! grep -q "ROTATION DUE" "$LAB_TMP/last" || fail "... a key marked due already"
[ "$(grep -c "rotation" "$LAB_TMP/last")" = 2 ] || fail "... want a rotation line for [aged] and [default] only"
echo "ok ... one for [default] (1d), none for [plain]"

expect_rc 0 "rekey --due, nothing due" K rekey --due "$a" "$b" "$c"
young "$a"
expect_out "$a: token 0: key created .*, rotate_after ${AGE}s: not due until .*: left alone" "... [aged]: not due yet, left alone"
expect_out "$b: token 0: .*rotate_after 1d: not due until .*: left alone" "... [default]: left alone"
expect_out "$c: token 0: group \\[plain\\] has no rotate_after: left alone" "... [plain]: no policy, left alone"
expect_eq "$(uid_of "$a") $(uid_of "$b")" "$olda $(uid_of "$b")" "... nothing rotated"
tb=$(token_json "$b")
tc=$(token_json "$c")

# ------------------------------------------------------------ a journal of the test's own
# The real systemd-journald in a mount namespace where /run/systemd and
# /run/log (and /var/log/journal) are tmpfs of its own: its socket is where
# libsystemd looks, for the commands run in that namespace (in_journal).
unshare -m --propagation private sh -c '
	mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal &&
	mount -t tmpfs tmpfs /run/log || exit 1
	if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal || exit 1; fi
	exec "$0"' "$JD" >"$LAB_TMP/journald.out" 2>&1 &
jpid=$!
disown "$jpid"	# killed by cleanup(): no job report
in_journal() { nsenter -t "$jpid" -m -- "$@"; }
lab_wait_for 20 in_journal test -S /run/systemd/journal/socket ||
	{ cat "$LAB_TMP/journald.out"; fail "systemd-journald did not make its socket"; }
echo "ok systemd-journald runs in a mount namespace of the test's own (pid $jpid)"
# entries: the JSON lines of the entries with our MESSAGE_ID
entries() { in_journal journalctl -D /run/log/journal -o json --no-pager "MESSAGE_ID=$ID" 2>/dev/null; }
n_entries() { entries | grep -c . || true; }
# mark: a marker entry, sent to the socket after whatever came before it; once
# journald stores it, every earlier datagram has been handled
markers=0
mark() {
	markers=$((markers + 1))
	in_journal "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(("MESSAGE=rekey-due-marker-" + sys.argv[1] + "\n").encode(), "/run/systemd/journal/socket")' "$markers"
	lab_wait_for 20 sh -c "nsenter -t $jpid -m -- journalctl -D /run/log/journal -o cat --no-pager | grep -qx rekey-due-marker-$markers" ||
		fail "journald did not store marker $markers"
}
# field N NAME: field NAME of entry N (1 the oldest) with our MESSAGE_ID ("absent" if not there)
field() { entries | sed -n "${1}p" | "$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], "absent"))' "$2"; }

# ------------------------------------------------------------ due
due() { [ "$(jget "$a" rotation_due)" = true ]; }
lab_wait_for $((AGE + 60)) due || { K status "$a"; fail "the [aged] key is not due $((AGE + 60)) s after its enroll"; }
expect_rc 0 "status once the [aged] key is due: still exit 0 (a due key unlocks)" K status "$a" "$b" "$c"
expect_out "ROTATION DUE: key created .*, rotate_after ${AGE}s \\(due since [0-9TZ:-]+\\); run 'kmipcrypt rekey $a'" \
	"... the [aged] key marked due, with the command"
[ "$(grep -c "ROTATION DUE" "$LAB_TMP/last")" = 1 ] || fail "... and only it"
echo "ok ... and only it"
expect_eq "$(jget "$a" rotation_due) $(jget "$b" rotation_due) $(jget "$c" rotation_due)" "true false absent" \
	"status --json: rotation_due true for [aged] only ([default] false, [plain] none)"

# rekey --due over the volumes crypttab lists (what the timer's unit finds,
# without scanning this machine's block devices), in the journal's namespace.
ct=$LAB_TMP/crypttab
printf '%s\n' "due-a $a none luks" "due-b $b none luks" "due-c $c none luks" >"$ct"
expect_rc 0 "rekey --due (crypttab's volumes): the due key rotated" \
	in_journal "$KMIPCRYPT" -c "$conf" rekey --due --no-blkid --crypttab "$ct"
expect_out "$a: token 0: key created .*, rotate_after ${AGE}s: due since .*: rotating" "... [aged]: due, rotating"
expect_out "$a: token 0 now names key '[^']+' \\(kind passphrase, keyslot [0-9]+\\); the old key '$olda' revoked" \
	"... rotated"
expect_out "$b: token 0: .*: not due until .*: left alone" "... [default] left alone"
expect_out "$c: token 0: group \\[plain\\] has no rotate_after: left alone" "... [plain] left alone"
! grep -q "rotated" "$LAB_TMP/last" || fail "... the audit line on stderr without -v, the journal having the entry"
echo "ok ... the journal took the entry: no audit line on stderr without -v (it is at info level)"
newa=$(uid_of "$a")
[ "$newa" != "$olda" ] || fail "the [aged] token still names '$olda'"
expect_eq "$(state_of "$olda") $(state_of "$newa")" "DEACTIVATED ACTIVE" \
	"PyKMIP's client: the old key '$olda' Deactivated, the new '$newa' Active"
expect_eq "$(token_json "$b")" "$tb" "the [default] volume's token unchanged"
expect_eq "$(token_json "$c")" "$tc" "the [plain] volume's token unchanged"
expect_rc 0 "unlock --test of the rotated volume" K unlock "$a" --test

lab_wait_for 20 sh -c "[ \"\$(nsenter -t $jpid -m -- journalctl -D /run/log/journal -o json --no-pager MESSAGE_ID=$ID | grep -c .)\" -ge 1 ]" ||
	fail "no journal entry with MESSAGE_ID=$ID"
mark
expect_eq "$(n_entries)" 1 "the journal: one entry with MESSAGE_ID=$ID (one rotation)"
expect_eq "$(field 1 KMIPCRYPT_DEVICE) $(field 1 KMIPCRYPT_TOKEN) $(field 1 KMIPCRYPT_KIND)" "$a 0 passphrase" \
	"... KMIPCRYPT_DEVICE, KMIPCRYPT_TOKEN, KMIPCRYPT_KIND"
expect_eq "$(field 1 KMIPCRYPT_OLD_KEY_UID) $(field 1 KMIPCRYPT_NEW_KEY_UID) $(field 1 KMIPCRYPT_OLD_KEY)" \
	"$olda $newa revoked" "... KMIPCRYPT_OLD_KEY_UID, KMIPCRYPT_NEW_KEY_UID, KMIPCRYPT_OLD_KEY"
expect_eq "$(field 1 KMIPCRYPT_ROTATION) $(field 1 KMIPCRYPT_TRIGGER) $(field 1 KMIPCRYPT_ROTATE_AFTER) $(field 1 KMIPCRYPT_ERRNO)" \
	"new due $AGE 0" "... KMIPCRYPT_ROTATION, KMIPCRYPT_TRIGGER, KMIPCRYPT_ROTATE_AFTER, KMIPCRYPT_ERRNO"
expect_eq "$(field 1 PRIORITY) $(field 1 SYSLOG_IDENTIFIER) $(field 1 _TRANSPORT)" "6 kmipcrypt journal" \
	"... PRIORITY 6 (info), SYSLOG_IDENTIFIER kmipcrypt, sent as a structured entry"
expect_eq "$(field 1 MESSAGE)" "kmipcrypt: $a: token 0 rotated: key '$olda' replaced by key '$newa' (kind passphrase); the old key revoked (Superseded)" \
	"... MESSAGE"

expect_rc 0 "a second rekey --due right after" in_journal "$KMIPCRYPT" -c "$conf" rekey --due --no-blkid --crypttab "$ct"
young "$a"
expect_out "$a: token 0: key created .*: not due until .*: left alone" "... the new key is not due: left alone"
! grep -q "rotating\|now names" "$LAB_TMP/last" || fail "... rotated something"
[ "$(token_json "$b")" = "$tb" ] && [ "$(token_json "$c")" = "$tc" ] || fail "... a token changed"
expect_eq "$(uid_of "$a")" "$newa" "... nothing rotated"
mark
expect_eq "$(n_entries)" 1 "... and no new journal entry"

# ------------------------------------------------------------ a rotation left half-done
oldd=$(uid_of "$d")
KMIPCRYPT_FAIL_AT=revoke:SIGKILL K rekey "$d" >"$LAB_TMP/out" 2>&1
expect_eq "$?" 137 "rekey of the [default] volume killed (SIGKILL) after the switch, before the old key is revoked"
expect_eq "$(state_of "$oldd")" ACTIVE "... its old key '$oldd' still Active"
expect_rc 0 "rekey --due of it, its new key not due" in_journal "$KMIPCRYPT" -c "$conf" rekey --due "$d"
expect_out "$d: token 0: a rotation was left half-done: finishing it" "... the half-done rotation finished"
newd=$(uid_of "$d")
expect_eq "$(state_of "$oldd") $(state_of "$newd")" "DEACTIVATED ACTIVE" "... the old key '$oldd' Deactivated, the new '$newd' Active"
expect_eq "$(CS luksDump "$d" | grep -c '^  [0-9]*: kmip-rotation$')" 0 "... no rotation record left"
lab_wait_for 20 sh -c "[ \"\$(nsenter -t $jpid -m -- journalctl -D /run/log/journal -o json --no-pager MESSAGE_ID=$ID | grep -c .)\" -ge 2 ]" ||
	fail "no journal entry for the finished rotation"
expect_eq "$(field 2 KMIPCRYPT_DEVICE) $(field 2 KMIPCRYPT_OLD_KEY_UID) $(field 2 KMIPCRYPT_NEW_KEY_UID) $(field 2 KMIPCRYPT_ROTATION) $(field 2 KMIPCRYPT_OLD_KEY) $(field 2 KMIPCRYPT_TRIGGER)" \
	"$d $oldd $newd resumed revoked finish" "... its journal entry: KMIPCRYPT_ROTATION=resumed (the killed run logged nothing), KMIPCRYPT_TRIGGER=finish"

# ------------------------------------------------------------ by name, and stderr as the journal's stream
# JOURNAL_STREAM names stderr's device and inode: stderr is the journal
# already, the entry is enough, also with -v.
oldb=$(uid_of "$b")
err=$LAB_TMP/stderr
: >"$err"
js=$(stat -c '%d:%i' "$err")
in_journal env JOURNAL_STREAM="$js" "$KMIPCRYPT" -v -c "$conf" rekey "$b" >"$LAB_TMP/out" 2>"$err"
expect_eq "$?" 0 "rekey -v of the [default] volume by name, stderr as the journal's stream"
newb=$(uid_of "$b")
grep -q "token 0 now names key" "$err" || { cat "$err"; fail "... no info line at all: -v did not work"; }
! grep -q "rotated" "$err" || { cat "$err"; fail "... the audit line on stderr too"; }
echo "ok ... no audit line on stderr (its other info lines there)"
lab_wait_for 20 sh -c "[ \"\$(nsenter -t $jpid -m -- journalctl -D /run/log/journal -o json --no-pager MESSAGE_ID=$ID | grep -c .)\" -ge 3 ]" ||
	fail "no journal entry for the rotation by name"
expect_eq "$(field 3 KMIPCRYPT_DEVICE) $(field 3 KMIPCRYPT_OLD_KEY_UID) $(field 3 KMIPCRYPT_NEW_KEY_UID) $(field 3 KMIPCRYPT_TRIGGER) $(field 3 KMIPCRYPT_ROTATE_AFTER)" \
	"$b $oldb $newb command absent" "... the journal entry: KMIPCRYPT_TRIGGER=command, no KMIPCRYPT_ROTATE_AFTER"
# ... the same variable, but stderr elsewhere (a child that redirected it): with -v the line comes.
in_journal env JOURNAL_STREAM="$js" "$KMIPCRYPT" -v -c "$conf" rekey "$b" >"$LAB_TMP/out" 2>"$err.2"
expect_eq "$?" 0 "rekey -v again, JOURNAL_STREAM naming another file than stderr"
expect_grep "^kmipcrypt: $b: token 0 rotated: key '$newb' replaced by key" "... the audit line on stderr" cat "$err.2"
newb=$(uid_of "$b")

# ------------------------------------------------------------ no journal
# A mount namespace whose /run/systemd has no journal socket: the line is all
# there is, and comes without -v.
oldc=$(uid_of "$c")
expect_rc 0 "rekey without a journal" unshare -m --propagation private sh -c \
	'mount -t tmpfs tmpfs /run/systemd && exec "$@"' sh "$KMIPCRYPT" -c "$conf" rekey "$c"
newc=$(uid_of "$c")
expect_out "^kmipcrypt: $c: token 0 rotated: key '$oldc' replaced by key '$newc' \\(kind passphrase\\); the old key revoked \\(Superseded\\)$" \
	"... the audit line on stderr, without -v"
expect_rc 0 "rekey -q without a journal" unshare -m --propagation private sh -c \
	'mount -t tmpfs tmpfs /run/systemd && exec "$@"' sh "$KMIPCRYPT" -q -c "$conf" rekey "$c"
! grep -q "rotated" "$LAB_TMP/out" || fail "... the audit line although -q"
echo "ok ... with -q, no line"

# ------------------------------------------------------------ a key that is not Active
lab_pyclient main revoke "$newb" --reason cessation >/dev/null || fail "revoke $newb"
expect_rc 4 "rekey --due with a key revoked behind its back: exit 4, the worst" K rekey --due "$b" "$c"
expect_out "$b: token 0: key '$newb' is Deactivated .*: not rotated" "... that token not rotated, and why"
expect_out "$c: token 0: group \\[plain\\] has no rotate_after: left alone" "... the next volume still looked at"
expect_eq "$(uid_of "$b")" "$newb" "... its token unchanged"

# ------------------------------------------------------------ the command line
expect_grep "--due" "rekey --help shows --due" K rekey --help
expect_rc 1 "rekey --due --token: refused" K rekey --due --token 0 "$a"
expect_rc 1 "rekey --crypttab without --due: refused" K rekey --crypttab "$ct" "$a"
expect_rc 1 "rekey --due DEVICE --no-blkid: refused" K rekey --due --no-blkid "$a"
expect_rc 1 "rekey with two DEVICEs and no --due: refused" K rekey "$a" "$b"
: >"$LAB_TMP/empty.crypttab"
expect_rc 0 "rekey --due with a crypttab that lists nothing" K rekey --due --no-blkid --crypttab "$LAB_TMP/empty.crypttab"
expect_out "nothing to rotate" "... says so"
pass
