#!/bin/bash
# test-timeout: 1800
# kmipcrypt rekey (docs/rekey.md) against the real PyKMIP server, for each
# kind of REKEY_KINDS (default: passphrase; test-rekey-kinds.sh runs this
# script for the others):
#  - a rotation: the new object unlocks, the old one ends Deactivated, or
#    gone with --destroy-old (asked of PyKMIP's own client), the keyslots
#    as many as before, the new Name the old one's with "-r<8 hex>";
#  - a failure injected at each step (KMIPCRYPT_FAIL_AT=STEP): before the
#    switch everything undone (the header as it was, nothing left on the
#    KMS), after it the volume unlocks with the new key and the next rekey
#    finishes the rotation;
#  - SIGINT at each step: before the switch undone (exit 130), after it the
#    rotation finishes (exit 0);
#  - SIGKILL at each step, and the power cut: the image copied while rekey is
#    stopped at the start of the step (KMIPCRYPT_FAIL_AT=STEP:STOP), then
#    killed.  Afterwards, on the image and on the copy: `unlock --test`
#    succeeds, `status` shows the rotation (when one is recorded), a second
#    rekey completes, and then the invariants hold: no keyslot without a
#    token (but the user's), no token naming a missing keyslot or object, no
#    live (Pre-Active, Active) object on the KMS that no token names;
#  - the server down in the middle, before and after the switch: a clean
#    state, a message that says what to do, and the next rekey completes;
#  - status (text, --json) and unbind during a rotation;
#  - records the header must not be trusted with: a forged MAC (naming
#    another volume's key as the one to revoke), a record copied from
#    another volume, an invalid one: refused, nothing touched.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

kinds=${REKEY_KINDS:-passphrase}
# REKEY_SERVER_CHANGE=rekey (test-rekey-op.sh): PyKMIP with the KMIP Re-key
# operation and the Link attribute (tests/lab/pykmip-changed.py).
change=${REKEY_SERVER_CHANGE:-}
port=$(lab_server_start main ${change:+--change "$change"})
[ -n "$port" ] || fail "PyKMIP did not start"
conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$port" timeout_ms=3000

named=$LAB_TMP/named		# uids a kmip token (or the test itself) accounts for
: >"$named"
# note_bound IMG: the uids IMG's kmip tokens name are accounted for
note_bound() {
	local id
	for id in $(CS luksDump "$1" | sed -n 's/^  \([0-9]*\): kmip$/\1/p'); do
		token_json "$1" "$id" | json_field uid >>"$named"
	done
}
state_of() { lab_pyclient main get-state "$1" | lab_json state; }
# live: the Pre-Active and Active objects on the KMS, one per line
live() { { lab_pyclient main locate --state pre-active | lab_json uids
	   lab_pyclient main locate --state active | lab_json uids; } | sed '/^$/d' | sort -u; }
expect_no_live_orphans() {
	expect_eq "$(comm -23 <(live) <(sort -u "$named") | tr '\n' ' ')" "" \
		"$1: no live object on the KMS that no token names"
}
rotation_tokens() { CS luksDump "$1" | grep -c '^  [0-9]*: kmip-rotation$'; }
nkeyslots() { keyslots "$1" | wc -w; }

# The KEK of the wrapped volume-key kind.
head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"
kek=$(K key register --type aes --secret-file "$LAB_TMP/kek.bin" --name rekey-kek --activate) ||
	fail "register KEK"
echo "$kek" >>"$named"
kekopt=(--kek-file "$LAB_TMP/kek.bin")

# Per kind: the enroll options, the steps of a rotation in order, the
# steps after the switch, and the keyslots of a bound volume.
declare -A opts steps after
opts[passphrase]="--kind passphrase"
steps[passphrase]="mark create record keyslot assign activate hold verify commit drop link revoke destroy finish"
after[passphrase]="drop link revoke destroy finish"
opts[volume-key]="--kind volume-key"
steps[volume-key]="mark create record activate hold verify commit link revoke destroy finish"
after[volume-key]="link revoke destroy finish"
opts[volume-key-wrapped]="--kind volume-key --wrap-key $kek --kek-file $LAB_TMP/kek.bin"
steps[volume-key-wrapped]=${steps[volume-key]}
after[volume-key-wrapped]=${after[volume-key]}
opts[envelope]="--kind envelope"
steps[envelope]="mark create record encrypt hold verify commit link revoke destroy finish"
after[envelope]="link revoke destroy finish"
in_list() { local x=$1; shift; case " $* " in *" $x "*) return 0 ;; esac; return 1; }

run=0
# fresh KIND: a new image bound with this kind, in $img; its key in $old, its keyslots in $nslots
fresh() {
	run=$((run + 1))
	# shellcheck disable=SC2086
	img=$(bound "rk-$1-$run" ${opts[$1]})
	note_bound "$img"
	old=$(uid_of "$img")
	nslots=$(nkeyslots "$img")
	hdr=$(header "$img")
}
# rekey IMG [options]: kmipcrypt rekey with the KEK file (harmless for the other kinds)
rekey() { local i=$1; shift; K rekey "$i" "${kekopt[@]}" "$@"; }

# invariants KIND IMG WHAT: after a completed rotation of IMG from $old
invariants() {
	local kind=$1 i=$2 what=$3 s tid uid
	expect_rc 0 "$what: unlock --test" K unlock "$i" --test "${kekopt[@]}"
	expect_eq "$(rotation_tokens "$i")" 0 "$what: no rotation record left"
	expect_eq "$(nkeyslots "$i")" "$nslots" "$what: as many keyslots as before ($nslots)"
	# every keyslot but the user's (0) is a token's; every token's keyslot exists
	for s in $(keyslots "$i"); do
		[ "$s" = 0 ] && continue
		CS luksDump "$i" | sed -n '/^Tokens:/,/^Digests:/p' | grep -q "Keyslot: *$s\$" ||
			fail "$what: keyslot $s has no token"
	done
	for s in $(CS luksDump "$i" | sed -n '/^Tokens:/,/^Digests:/p' | sed -n 's/^\tKeyslot: *//p'); do
		in_list "$s" $(keyslots "$i") || fail "$what: a token names keyslot $s, which does not exist"
	done
	echo "ok $what: no keyslot without a token, no token naming a missing keyslot"
	for tid in $(CS luksDump "$i" | sed -n 's/^  \([0-9]*\): kmip$/\1/p'); do
		uid=$(token_json "$i" "$tid" | json_field uid)
		expect_eq "$(state_of "$uid")" ACTIVE "$what: token $tid names key '$uid', Active"
		[ "$uid" != "$old" ] || fail "$what: token $tid still names the old key"
		echo "$uid" >>"$named"
	done
	expect_no_live_orphans "$what"
}
# old_gone WHAT DESTROYED: the old key Deactivated (kept), or not found (--destroy-old)
old_gone() {
	if [ "$2" = destroyed ]; then
		lab_pyclient main get-state "$old" >"$LAB_TMP/st" 2>&1 && fail "$1: the old key '$old' is still there"
		echo "ok $1: the old key '$old' destroyed"
	else
		expect_eq "$(state_of "$old")" DEACTIVATED "$1: the old key '$old' Deactivated (kept)"
	fi
}
# wait_stopped PID: until the process is stopped (T) or gone
wait_stopped() { lab_wait_for 60 sh -c "! kill -0 $1 2>/dev/null || grep -q '^[^ ]* ([^)]*) T' /proc/$1/stat"; }

for kind in $kinds; do
	# ---------------------------------------------------- a rotation
	fresh "$kind"
	oldname=$(lab_pyclient main get-attributes "$old" Name | "$LAB_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')
	expect_rc 0 "$kind: rekey" K -v rekey "$img" "${kekopt[@]}"
	expect_out "now names key '[^']*' \(kind ${kind%-wrapped}" "$kind: says which key the token names now"
	new=$(uid_of "$img")
	if [ "$change" = rekey ] && [ "$kind" = envelope ]; then
		expect_out "key '$new' made on the KMS by KMIP Re-key" "$kind: the server's Re-key made the new key"
		lab_pyclient main get-attributes "$old" Link >"$LAB_TMP/links"
		grep -q "REPLACEMENT_OBJECT_LINK" "$LAB_TMP/links" && grep -q "\"$new\"" "$LAB_TMP/links" ||
			{ cat "$LAB_TMP/links"; fail "$kind: the old key is not linked to its replacement"; }
		echo "ok $kind: the old key links to its replacement (Replacement Object)"
	elif [ "$kind" = envelope ]; then
		expect_out "key '$new' made on the KMS by Create" "$kind: no Re-key here: Create made the new key"
	fi
	invariants "$kind" "$img" "$kind: rekey"
	old_gone "$kind: rekey" kept
	newname=$(lab_pyclient main get-attributes "$new" Name)
	grep -qE "rk-$kind-$run-r[0-9a-f]{8}" <<<"$newname" || fail "$kind: the new key's Name: $newname (old: $oldname)"
	echo "ok $kind: the new key is named after the old one, with -r<8 hex>"
	old=$new
	expect_rc 0 "$kind: rekey again, --destroy-old" rekey "$img" --destroy-old
	invariants "$kind" "$img" "$kind: rekey --destroy-old"
	old_gone "$kind: rekey --destroy-old" destroyed
	newname=$(lab_pyclient main get-attributes "$(uid_of "$img")" Name)
	grep -qE "rk-$kind-$run-r[0-9a-f]{8}\"" <<<"$newname" || fail "$kind: a second rotation's Name: $newname"
	echo "ok $kind: a second rotation's Name does not pile up suffixes"

	# ---------------------------------------------------- a failure at each step
	for step in ${steps[$kind]}; do
		fresh "$kind"
		dopt=(); [ "$step" = destroy ] && dopt=(--destroy-old)
		KMIPCRYPT_FAIL_AT=$step expect_rc 6 "$kind, failure at $step: rekey fails" rekey "$img" "${dopt[@]}"
		expect_out "injecting a failure at step '$step'" "$kind/$step: the failure was injected there"
		if in_list "$step" ${after[$kind]}; then
			expect_out "rekey failed at step '$step', after the token was switched to the new key: that is kept" \
				"$kind/$step: says the switch is kept"
			expect_out "run 'kmipcrypt rekey [^']*' again to finish it" "$kind/$step: says how to finish"
			expect_rc 0 "$kind/$step: unlock --test (the new key)" K unlock "$img" --test "${kekopt[@]}"
			expect_grep "switched from key '$old' to" "$kind/$step: status shows the rotation, switched" \
				K status "$img" "${kekopt[@]}"
			expect_rc 0 "$kind/$step: the next rekey finishes it" rekey "$img" "${dopt[@]}"
			expect_out "an interrupted rotation finished" "$kind/$step: ... and says so"
			invariants "$kind" "$img" "$kind/$step, finished"
			old_gone "$kind/$step" "$([ "$step" = destroy ] && echo destroyed || echo kept)"
		else
			expect_out "rekey failed at step '$step'; everything done before was undone" \
				"$kind/$step: says everything was undone"
			expect_eq "$(header "$img")" "$hdr" "$kind/$step: the header is as it was"
			expect_eq "$(state_of "$old")" ACTIVE "$kind/$step: the old key is Active"
			expect_no_live_orphans "$kind/$step"
		fi
	done

	# ---------------------------------------------------- SIGINT at each step
	for step in ${steps[$kind]}; do
		[ "$step" = destroy ] && continue
		fresh "$kind"
		if in_list "$step" ${after[$kind]}; then
			KMIPCRYPT_FAIL_AT=$step:SIGINT expect_rc 0 "SIGINT at $kind/$step (switched): rekey finishes" rekey "$img"
			expect_out "interrupted \(SIGINT\) after the token was switched to the new key: finishing the rekey" \
				"SIGINT at $kind/$step: says it finishes"
			invariants "$kind" "$img" "SIGINT at $kind/$step"
			old_gone "SIGINT at $kind/$step" kept
		else
			KMIPCRYPT_FAIL_AT=$step:SIGINT expect_rc 130 "SIGINT at $kind/$step: undone, ended by SIGINT" rekey "$img"
			expect_out "rekey interrupted \(SIGINT\) at step '$step'; undone" "SIGINT at $kind/$step: says it undid"
			expect_eq "$(header "$img")" "$hdr" "SIGINT at $kind/$step: the header is as it was"
			expect_eq "$(state_of "$old")" ACTIVE "SIGINT at $kind/$step: the old key is Active"
			expect_no_live_orphans "SIGINT at $kind/$step"
		fi
	done

	# ---------------------------------------------------- SIGKILL, and the power cut, at each step
	for step in ${steps[$kind]}; do
		dopt=(); [ "$step" = destroy ] && dopt=(--destroy-old)
		gone=$([ "$step" = destroy ] && echo destroyed || echo kept)
		fresh "$kind"
		KMIPCRYPT_FAIL_AT=$step:SIGKILL expect_rc 137 "SIGKILL at $kind/$step" rekey "$img" "${dopt[@]}"
		expect_rc 0 "SIGKILL at $kind/$step: unlock --test" K unlock "$img" --test "${kekopt[@]}"
		if [ "$(rotation_tokens "$img")" != 0 ]; then
			expect_grep "ROTATION in progress" "SIGKILL at $kind/$step: status shows the rotation" \
				K status "$img" "${kekopt[@]}"
		fi
		expect_rc 0 "SIGKILL at $kind/$step: a second rekey completes" rekey "$img" "${dopt[@]}"
		invariants "$kind" "$img" "SIGKILL at $kind/$step, then rekey"
		old_gone "SIGKILL at $kind/$step" "$gone"

		# The power cut: the image as it is at the start of the step, rekey never going on.
		fresh "$kind"
		# (not through a function: $! must be kmipcrypt itself)
		KMIPCRYPT_FAIL_AT=$step:STOP "$KMIPCRYPT" -c "$conf" rekey "$img" "${kekopt[@]}" "${dopt[@]}" \
			>"$LAB_TMP/stop.out" 2>&1 &
		pid=$!
		wait_stopped $pid || fail "power cut at $kind/$step: rekey did not stop"
		kill -0 $pid 2>/dev/null || { cat "$LAB_TMP/stop.out"; fail "power cut at $kind/$step: rekey ended instead of stopping"; }
		cp --sparse=always "$img" "$img.cut"
		kill -KILL $pid
		wait $pid 2>/dev/null
		grep -q "stopping at step '$step'" "$LAB_TMP/stop.out" || { cat "$LAB_TMP/stop.out"; fail "power cut at $kind/$step: not stopped there"; }
		echo "ok power cut at $kind/$step: image copied at the start of the step"
		expect_rc 0 "power cut at $kind/$step: unlock --test of the copy" K unlock "$img.cut" --test "${kekopt[@]}"
		expect_rc 0 "power cut at $kind/$step: a second rekey of the copy completes" rekey "$img.cut" "${dopt[@]}"
		invariants "$kind" "$img.cut" "power cut at $kind/$step, then rekey"
		old_gone "power cut at $kind/$step" "$gone"
	done
done

# ---------------------------------------------------- the rest: passphrase only
in_list passphrase $kinds || pass
kind=passphrase

# The server down in the middle, before the switch (at activate) and after it (at revoke).
for step in activate revoke; do
	fresh $kind
	KMIPCRYPT_FAIL_AT=$step:STOP "$KMIPCRYPT" -c "$conf" rekey "$img" >"$LAB_TMP/down.out" 2>&1 &
	pid=$!
	wait_stopped $pid && kill -0 $pid || fail "server down at $step: rekey did not stop"
	lab_server_stop main
	kill -CONT $pid
	wait $pid
	rc=$?
	sed 's/^/    | /' "$LAB_TMP/down.out"
	expect_eq "$rc" 2 "server down at $step: exit 2 (no usable answer)"
	cp "$LAB_TMP/down.out" "$LAB_TMP/out"
	if [ $step = activate ]; then
		expect_out "rekey failed at step 'activate'" "server down at $step: says where"
		expect_out "the rotation record \(token [0-9]*\) is kept: it names what could not be taken back; run 'kmipcrypt rekey" \
			"server down at $step: says the record stays and what to run"
		expect_eq "$(nkeyslots "$img")" "$nslots" "server down at $step: the new keyslot is gone again"
	else
		expect_out "the volume unlocks with the new key '[^']*'; the rest of the rotation is recorded \(token [0-9]*\): run 'kmipcrypt rekey" \
			"server down at $step: says it unlocks with the new key and what to run"
	fi
	lab_server_restart main || fail "restart the server"
	expect_rc 0 "server down at $step, back: unlock --test" K unlock "$img" --test
	expect_grep "ROTATION in progress" "server down at $step, back: status shows the rotation" K status "$img"
	expect_rc 0 "server down at $step, back: rekey completes" rekey "$img"
	invariants $kind "$img" "server down at $step, then rekey"
	old_gone "server down at $step" kept
done

# One rekey of a volume at a time: a second one meanwhile is refused, touches nothing.
fresh $kind
KMIPCRYPT_FAIL_AT=hold:STOP "$KMIPCRYPT" -c "$conf" rekey "$img" >"$LAB_TMP/first.out" 2>&1 &
pid=$!
wait_stopped $pid && kill -0 $pid || fail "concurrent: the first rekey did not stop"
expect_rc 5 "concurrent: a second rekey of the same volume is refused" rekey "$img"
expect_out "another kmipcrypt rekey of this volume is running" "... and says why"
expect_grep "ROTATION in progress" "concurrent: status shows the first one's rotation" K status "$img"
kill -CONT $pid
wait $pid
expect_eq "$?" 0 "concurrent: the first rekey, continued, finishes"
invariants $kind "$img" "concurrent, the first finished"
old_gone "concurrent" kept

# enroll beside an interrupted rotation: the keyslot the record had chosen (not added yet)
# goes to the new binding, which the next rekey then leaves alone.
fresh $kind
KMIPCRYPT_FAIL_AT=keyslot:SIGKILL expect_rc 137 "enroll beside: a rotation killed before its keyslot" rekey "$img"
chosen=$(token_json "$img" 1 | json_field new_keyslot)
expect_rc 0 "enroll beside: a second binding enrolls" K enroll "$img" --key-file "$pass" --name rk-beside
expect_eq "$(CS luksDump "$img" | sed -n '/^Tokens:/,/^Digests:/p' | grep -c ': kmip$')" 2 "enroll beside: two kmip tokens now"
tid2=$(CS luksDump "$img" | sed -n 's/^  \([0-9]*\): kmip$/\1/p' | tail -1)
expect_eq "$(token_json "$img" "$tid2" | json_field keyslots)" "[\"$chosen\"]" \
	"enroll beside: it took keyslot $chosen, the one the record had chosen"
expect_rc 0 "enroll beside: rekey --token 0 takes the rotation back and rotates" rekey "$img" --token 0
expect_out "keyslot $chosen, named by the rotation record, is a binding's: kept" "... leaving the new binding's keyslot"
expect_rc 0 "enroll beside: the new binding unlocks" K unlock "$img" --test --token "$tid2"
nslots=$((nslots + 1))
invariants $kind "$img" "enroll beside, then rekey"

# status and unbind during a rotation, before and after the switch.
fresh $kind
KMIPCRYPT_FAIL_AT=verify:SIGKILL expect_rc 137 "status: a rotation killed before the switch" rekey "$img"
expect_grep "ROTATION in progress \(record: token 1\): to key '[^']*', not switched yet \(this key still unlocks\); run 'kmipcrypt rekey $img --token 0' to take it back and rotate anew" \
	"status shows the rotation not switched, and what to run" K status "$img"
expect_rc 0 "status exits 0: the token unlocks" K status "$img"
echo "$img" >"$LAB_TMP/list"
expect_rc 0 "unlock --all finds the volume by its kmip token, not confused by the record" \
	K unlock --all --test --from "$LAB_TMP/list"
expect_out "$img: verified" "... and verifies it"
K status --json "$img" >"$LAB_TMP/st.json" || fail "status --json"
"$LAB_PY" - "$LAB_TMP/st.json" "$img" "$old" <<'EOF' || fail "status --json: the rotation"
import json, sys
v = json.load(open(sys.argv[1]))[0]
r = v["rotations"]
assert len(r) == 1 and r[0]["token"] == 1 and r[0]["valid"] and r[0]["rotates"] == 0, r
assert r[0]["switched"] is False and r[0]["old_uid"] == sys.argv[3] and r[0]["uid"], r
assert r[0]["run"] == "kmipcrypt rekey %s --token 0" % sys.argv[2], r
assert v["tokens"][0]["rotation"] == 1 and v["tokens"][0]["usable"], v["tokens"]
EOF
echo "ok status --json: rotations (not switched, the command to run), the token's rotation"
expect_rc 5 "unbind of a token under rotation: refused" K unbind "$img"
expect_out "refusing to unbind token 0: a rotation of its key is in progress \(record: token 1\); nothing was changed.  Run 'kmipcrypt rekey $img --token 0' first" \
	"unbind says why and what to run"
expect_rc 5 "... even with --force" K unbind "$img" --force
expect_rc 0 "rekey takes it back and rotates" rekey "$img"
expect_out "interrupted rotation was taken back first" "... and says so"
invariants $kind "$img" "status/unbind, then rekey"
KMIPCRYPT_FAIL_AT=revoke:SIGKILL expect_rc 137 "status: a rotation killed after the switch" rekey "$img"
cur=$(uid_of "$img")
expect_grep "ROTATION in progress \(record: token 1\): switched from key '[^']*' to '$cur', not finished" \
	"status shows the rotation switched" K status "$img"
K status --json "$img" | "$LAB_PY" -c 'import json,sys; r=json.load(sys.stdin)[0]["rotations"][0]; assert r["switched"] is True, r' ||
	fail "status --json: switched"
echo "ok status --json: switched"
expect_rc 5 "unbind after the switch: refused too" K unbind "$img"
old=$(token_json "$img" 1 | json_field old_uid)
expect_rc 0 "rekey finishes it" rekey "$img"
invariants $kind "$img" "rekey after the switch"
old_gone "rekey after the switch" kept
expect_rc 0 "unbind once it is finished" K unbind "$img" --destroy-key

# Records the header must not be trusted with.
fresh $kind
victim_img=$img
victim=$old
fresh $kind
KMIPCRYPT_FAIL_AT=revoke:SIGKILL expect_rc 137 "forged record: a rotation killed after the switch" rekey "$img"
good=$(token_json "$img" 1)
token_edit "$img" 1 "t['old_uid'] = '$victim'"
expect_rc 5 "a record naming another key to revoke (its MAC does not verify): refused" rekey "$img"
expect_out "the rotation record \(token 1\) does not verify with this volume's key" "... says so"
expect_eq "$(state_of "$victim")" ACTIVE "... the other volume's key is untouched (Active)"
expect_rc 0 "... the other volume still unlocks" K unlock "$victim_img" --test
expect_rc 5 "... unbind refuses too (a rotation is recorded)" K unbind "$img"
# The same record on another volume (a copy of this one with a UUID of its own): the MAC binds it.
token_put "$img" 1 "$good"
cp --sparse=always "$img" "$img.other"
cryptsetup luksUUID -q --uuid "$(cat /proc/sys/kernel/random/uuid)" "$img.other" || fail "luksUUID"
expect_rc 5 "the record on a volume of another UUID: refused" rekey "$img.other"
expect_out "does not verify with this volume's key" "... says so"
old=$(token_json "$img" 1 | json_field old_uid)
expect_rc 0 "the genuine record: rekey finishes it" rekey "$img"
invariants $kind "$img" "after the forged records"
# An invalid record: nothing is done on it.
fresh $kind
KMIPCRYPT_FAIL_AT=hold:SIGKILL expect_rc 137 "invalid record: a rotation killed before the switch" rekey "$img"
good=$(token_json "$img" 1)
token_edit "$img" 1 "t['comment'] = 'x'"
expect_rc 5 "an invalid record: rekey refuses" rekey "$img"
expect_out "token 1 is an invalid kmip-rotation token \(above\) that may record a rotation of token 0" "... says why and what to do"
expect_out "invalid kmip-rotation token: unknown field 'comment'" "... with the parser's reason"
expect_grep "token 1: INVALID kmip-rotation token: unknown field 'comment'" \
	"status shows the invalid record" K status "$img"
K status --json "$img" | "$LAB_PY" -c 'import json,sys
r = json.load(sys.stdin)[0]["rotations"]
assert len(r) == 1 and r[0]["valid"] is False and r[0]["reason"] == "unknown field '"'"'comment'"'"'", r' ||
	fail "status --json: the invalid record"
echo "ok status --json: the invalid record, and why"
expect_rc 5 "unbind refuses while an invalid record may name the token" K unbind "$img"
expect_out "token 1 is an invalid kmip-rotation token that may record a rotation of it" "... says so"
expect_rc 0 "unlock --test is not confused by it" K unlock "$img" --test
expect_eq "$(state_of "$old")" ACTIVE "... the old key is Active"
token_put "$img" 1 "$good"
expect_rc 0 "the record repaired: rekey takes the rotation back and rotates" rekey "$img"
invariants $kind "$img" "the invalid record repaired, then rekey"

# Options.
fresh $kind
expect_rc 1 "rekey --token 32: usage error" K rekey "$img" --token 32
expect_rc 5 "rekey --token 3 (no such kmip token)" K rekey "$img" --token 3
expect_out "token 3 is not a kmip token" "... says so"
expect_rc 1 "rekey without a DEVICE: usage error" K rekey
KMIPCRYPT_FAIL_AT=nonsense expect_rc 0 "an unknown hook value injects nothing" rekey "$img"
expect_out "KMIPCRYPT_FAIL_AT=nonsense names no step of this command; ignored" "... and says so"
invariants $kind "$img" "rekey with a hook value that names nothing"
pass
