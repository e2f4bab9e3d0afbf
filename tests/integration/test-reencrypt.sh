#!/bin/bash
# test-timeout: 1800
# kmipcrypt reencrypt: a new volume key, the data re-encrypted offline on an
# image file (no device-mapper here: LAB.md), every binding kept, against
# the real PyKMIP:
#  - for each kind (passphrase, envelope, volume-key, volume-key wrapped):
#    random data written before (luks-data.py: the plaintext through the
#    volume key, as dm-crypt would see it), the volume key changed
#    (--dump-volume-key), the data identical, unlock --test through the
#    token, the keyslot count as before, no record left; volume-key: the
#    token names a new object, the old one Deactivated (PyKMIP's own client)
#    and no object on the KMS that nothing names;
#  - killed (SIGKILL) midway through the data pass (the test hook
#    KMIPCRYPT_FAIL_AT=data:SIGKILL, small hotzones), and at a moment of the
#    data pass chosen from outside: unlock --test works mid-reencryption, a
#    plain reencrypt refuses, --resume completes with identical data;
#  - SIGKILL at every step before and after the data pass, for each kind:
#    afterwards unlock --test works, and reencrypt --resume takes back or
#    finishes it; the same checks after;
#  - a failure injected, and SIGINT, at each step before the data pass:
#    undone, the header as it was; SIGINT in the data pass: stopped at a
#    safe point (exit 130), resumed;
#  - keyslots of no kmip token: kept under their passphrases (--key-file,
#    two of them), a token of another type on one moved along; without
#    the passphrase, refused with the header as it was;
#  - refusals: a kmip-rotation record (a rekey under way), a binding that
#    does not prove (its key revoked), --resume with nothing to resume;
#  - --json: one JSON object per line, progress then "done"; on a terminal:
#    the passphrase of a keyslot asked for, the progress line.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab
D="$LAB_PY $(cd "$(dirname "$0")" && pwd)/luks-data.py"

head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"
kek=$(K key register --type aes --secret-file "$LAB_TMP/kek.bin" --name reenc-kek --activate) ||
	fail "register the KEK"
KF="--kek-file $LAB_TMP/kek.bin"
named=$LAB_TMP/named		# uids that a token, the test, or a finished reencryption accounts for
echo "$kek" >"$named"
kinds="passphrase envelope volume-key wrapped"

# vkey IMG: the volume key as cryptsetup dumps it (keyslot 0's passphrase is kept by reencrypt)
vkey() {
	cryptsetup luksDump --dump-volume-key --batch-mode --key-file "$pass" "$1" >"$LAB_TMP/vk.txt" ||
		fail "dump the volume key of $1"
	echo "$LAB_TMP/vk.txt"
}
vkhex() { vkey "$1" >/dev/null; sed -n '/MK dump:/,$p' "$LAB_TMP/vk.txt" | tr -d ' \t\n' | sed 's/MKdump://'; }
# mk KIND NAME: a bound image of that kind, random data written, its state in IMG, SUM, VK, UID, SLOTS
mk() {
	case $1 in
	wrapped) IMG=$(bound_format="--key-size 256" bound "$2" --kind volume-key --wrap-key "$kek" $KF) ;;
	*) IMG=$(bound "$2" --kind "$1") ;;
	esac
	SUM=$($D fill "$IMG" "$(vkey "$IMG")") || fail "write data into $IMG"
	VK=$(vkhex "$IMG")
	UID0=$(uid_of "$IMG")
	SLOTS=$(keyslots "$IMG" | wc -w)
	echo "$UID0" >>"$named"
}
R() { K reencrypt "$@" $KF; }
# orphans: objects on the KMS that nothing accounts for
orphans() { comm -23 <(lab_pyclient main locate | lab_json uids | sed '/^$/d' | sort) <(sort -u "$named"); }
state() { lab_pyclient main get-state "$1" | lab_json state; }
# done_ok KIND WHAT: $IMG re-encrypted and every check of a finished reencryption
done_ok() {
	local kind=$1 what=$2 uid
	expect_eq "$($D sum "$IMG" "$(vkey "$IMG")")" "$SUM" "$what: the data reads back identical"
	[ "$(vkhex "$IMG")" != "$VK" ] || fail "$what: the volume key did not change"
	echo "ok $what: the volume key changed"
	expect_rc 0 "$what: unlock --test through the token" K unlock --test "$IMG" $KF
	expect_eq "$(keyslots "$IMG" | wc -w)" "$SLOTS" "$what: as many keyslots as before"
	expect_nogrep 'kmip-reencrypt|online-reencrypt|reencrypt \(unbound\)' "$what: no record, no reencryption left in the header" CS luksDump "$IMG"
	uid=$(uid_of "$IMG")
	echo "$uid" >>"$named"
	case $kind in
	volume-key|wrapped)
		[ "$uid" != "$UID0" ] || fail "$what: the token still names the old key"
		expect_eq "$(state "$UID0")" DEACTIVATED "$what: the old key is Deactivated"
		expect_eq "$(state "$uid")" ACTIVE "$what: the new key is Active" ;;
	*)
		expect_eq "$uid" "$UID0" "$what: the token names the same key"
		expect_eq "$(state "$uid")" ACTIVE "$what: ... still Active" ;;
	esac
	expect_eq "$(orphans | tr '\n' ' ')" "" "$what: no object on the KMS that nothing names"
}

# ------------------------------------------------ each kind, start to end
for kind in $kinds; do
	mk $kind "full-$kind"
	expect_rc 0 "$kind: reencrypt" R "$IMG" --key-file "$pass"
	expect_out "re-encrypted with a new volume key" "$kind: says it re-encrypted"
	done_ok $kind "$kind"
	expect_rc 0 "$kind: the user's passphrase still opens the volume" \
		cryptsetup open --test-passphrase --key-file "$pass" "$IMG"
done

# ------------------------------------------------ --json
mk passphrase json
R "$IMG" --key-file "$pass" --json --hotzone-size 1M >"$LAB_TMP/json.out" 2>"$LAB_TMP/json.err" ||
	{ cat "$LAB_TMP/json.err"; fail "reencrypt --json"; }
"$LAB_PY" - "$LAB_TMP/json.out" <<'EOF' || fail "--json: not one JSON object per line, progress then done"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
assert all(isinstance(o, dict) for o in objs)
ev = [o["event"] for o in objs]
assert ev[-1] == "done" and ev[-2] == "done-data" and ev[0] == "progress", ev
for o in objs[:-1]:
    assert {"device", "size", "offset", "percent", "bytes_per_second", "eta_seconds"} <= set(o), o
assert objs[-2]["offset"] == objs[-2]["size"] and objs[-2]["percent"] == 100.0
assert objs[-1]["tokens"][0]["token"] == 0 and objs[-1]["keyslots"][0]["old_keyslot"] == 0
EOF
echo "ok --json: one object per line, progress, done-data at 100%, done with what was re-bound"
expect_eq "$(grep -c . "$LAB_TMP/json.err")" 0 "--json: nothing on standard error (no terminal line)"
done_ok passphrase "--json"

# ------------------------------------------------ killed midway through the data pass
for kind in $kinds; do
	mk $kind "mid-$kind"
	KMIPCRYPT_FAIL_AT=data:SIGKILL expect_rc 137 "$kind: SIGKILL midway through the data pass" \
		R "$IMG" --key-file "$pass" --hotzone-size 1M
	expect_grep 'online-reencrypt' "$kind: the header records a reencryption under way" CS luksDump "$IMG"
	expect_rc 0 "$kind: unlock --test mid-reencryption" K unlock --test "$IMG" $KF
	expect_grep 'state Active' "$kind: status mid-reencryption: the token would unlock" K status "$IMG" $KF
	expect_rc 5 "$kind: a plain reencrypt refuses" R "$IMG" --key-file "$pass"
	expect_out "reencrypt --resume" "$kind: ... and says to resume"
	if [ "$kind" = passphrase ]; then
		# The verbs that change tokens or keyslots, which libcryptsetup
		# refuses mid-reencryption: each says why and what to run.
		expect_rc 5 "$kind: rekey refuses mid-reencryption" K rekey "$IMG"
		expect_out "a reencryption is under way.*kmipcrypt reencrypt --resume .*then rekey" \
			"$kind: ... says to finish the reencryption first"
		expect_rc 5 "$kind: enroll refuses mid-reencryption" K enroll "$IMG" --key-file "$pass"
		expect_out "a reencryption is under way.*then enroll" "$kind: ... says so"
		expect_rc 5 "$kind: unbind refuses mid-reencryption" K unbind "$IMG"
		expect_out "a reencryption is under way.*then unbind" "$kind: ... says so"
	fi
	expect_rc 0 "$kind: reencrypt --resume completes" R "$IMG" --resume
	done_ok $kind "$kind, killed midway and resumed"
done

# Killed from outside at a moment of the data pass (the first progress report past 0 %,
# which comes LUKS_REENCRYPT_PROGRESS_MS after the start: enough data for that).
mk passphrase outside
truncate -s 528M "$IMG"
SUM=$($D fill "$IMG" "$(vkey "$IMG")")
# The program itself in the background (not a shell function: its PID would be a subshell's).
"$KMIPCRYPT" -c "$conf" reencrypt "$IMG" --key-file "$pass" --hotzone-size 4M --json \
	>"$LAB_TMP/bg.json" 2>"$LAB_TMP/bg.err" &
pid=$!
moved() { grep -q '"offset":[1-9]' "$LAB_TMP/bg.json"; }
lab_wait_for 120 moved || { kill -KILL $pid; cat "$LAB_TMP/bg.err"; fail "no progress past 0 %"; }
kill -KILL $pid
wait $pid
rc=$?
expect_eq "$rc" 137 "killed from outside during the data pass ($(tail -n 1 "$LAB_TMP/bg.json" | grep -o '"percent":[0-9.]*'))"
expect_rc 0 "killed from outside: unlock --test" K unlock --test "$IMG"
expect_rc 0 "killed from outside: --resume completes" R "$IMG" --resume
done_ok passphrase "killed from outside and resumed"

# ------------------------------------------------ SIGKILL at every step
steps_of() {
	case $1 in
	volume-key|wrapped) echo "mark keyslots register activate tokens init data complete revoke unmark" ;;
	*) echo "mark keyslots tokens init data complete revoke unmark" ;;
	esac
}
for kind in $kinds; do
	for step in $(steps_of $kind); do
		mk $kind "kill-$kind-$step"
		KMIPCRYPT_FAIL_AT=$step:SIGKILL expect_rc 137 "SIGKILL at $kind/$step" \
			R "$IMG" --key-file "$pass" --hotzone-size 4M
		expect_out "raising SIGKILL at step '$step'" "$kind/$step: killed there"
		expect_rc 0 "$kind/$step: unlock --test afterwards" K unlock --test "$IMG" $KF
		case $step in
		mark)	# killed before its first write: nothing to resume, a new run does it
			expect_rc 1 "$kind/$step: nothing to resume" R "$IMG" --resume
			expect_out "no reencryption to resume" "$kind/$step: ... says so"
			expect_rc 0 "$kind/$step: a new reencrypt" R "$IMG" --key-file "$pass" ;;
		data|complete|revoke|unmark)
			expect_rc 5 "$kind/$step: a plain reencrypt does not start another" \
				R "$IMG" --key-file "$pass"
			expect_rc 0 "$kind/$step: reencrypt --resume finishes it" R "$IMG" --resume ;;
		*)	# before the init: taken back, then run anew (needs keyslot 0's passphrase)
			expect_rc 0 "$kind/$step: reencrypt --resume takes it back and runs anew" \
				R "$IMG" --resume --key-file "$pass"
			expect_out "interrupted before its data pass .*: taking it back first" \
				"$kind/$step: ... saying it took it back" ;;
		esac
		done_ok $kind "SIGKILL at $kind/$step, resumed"
	done
done

# ------------------------------------------------ a failure, or SIGINT, before the data pass: undone
for kind in passphrase envelope wrapped; do
	for step in $(steps_of $kind); do
		case $step in data|complete|revoke|unmark) continue ;; esac
		mk $kind "fail-$kind-$step"
		hdr=$(header "$IMG")
		KMIPCRYPT_FAIL_AT=$step expect_rc 6 "$kind: a failure at $step" R "$IMG" --key-file "$pass"
		expect_out "failed at step '$step'; everything done before was undone" "$kind/$step: undone"
		expect_eq "$(header "$IMG")" "$hdr" "$kind/$step: the header is as it was"
		expect_eq "$(orphans | tr '\n' ' ')" "" "$kind/$step: nothing left on the KMS"
		KMIPCRYPT_FAIL_AT=$step:SIGINT expect_rc 130 "$kind: SIGINT at $step: undone, ended by SIGINT" \
			R "$IMG" --key-file "$pass"
		expect_eq "$(header "$IMG")" "$hdr" "$kind/$step, SIGINT: the header is as it was"
		expect_eq "$(orphans | tr '\n' ' ')" "" "$kind/$step, SIGINT: nothing left on the KMS"
	done
done

# SIGINT in the data pass: stopped at a safe point, resumed later.
mk envelope sigint-data
KMIPCRYPT_FAIL_AT=data:SIGINT expect_rc 130 "SIGINT in the data pass: stopped, ended by SIGINT" \
	R "$IMG" --key-file "$pass" --hotzone-size 1M
expect_out "stopped at a safe point" "SIGINT in the data pass: says where it is and what to do"
expect_rc 0 "SIGINT in the data pass: unlock --test" K unlock --test "$IMG"
expect_rc 0 "SIGINT in the data pass: --resume completes" R "$IMG" --resume
done_ok envelope "SIGINT in the data pass, resumed"

# ------------------------------------------------ several bindings on one volume
mk passphrase two-tokens
K enroll "$IMG" --kind volume-key --key-file "$pass" --name two-tokens-vk >"$LAB_TMP/out" 2>&1 ||
	{ cat "$LAB_TMP/out"; fail "enroll a second token"; }
uid1=$(uid_of "$IMG" 1)
echo "$uid1" >>"$named"
SLOTS=$(keyslots "$IMG" | wc -w)
KMIPCRYPT_FAIL_AT=data:SIGKILL expect_rc 137 "two tokens: SIGKILL midway" R "$IMG" --key-file "$pass" --hotzone-size 1M
for t in 0 1; do
	expect_rc 0 "two tokens: unlock --test --token $t mid-reencryption" K unlock --test --token $t "$IMG"
done
expect_rc 0 "two tokens: --resume --token 1 (the volume-key token opens it)" R "$IMG" --resume --token 1
uid_of "$IMG" 1 >>"$named"
done_ok passphrase "two tokens"
for t in 0 1; do
	expect_rc 0 "two tokens: unlock --test --token $t afterwards" K unlock --test --token $t "$IMG"
done
expect_eq "$(state "$uid1")" DEACTIVATED "two tokens: the volume-key token's old key is Deactivated"
[ "$(uid_of "$IMG" 1)" != "$uid1" ] || fail "two tokens: token 1 still names its old key"
echo "ok two tokens: token 1 names a new key"

# ------------------------------------------------ keyslots of no kmip token
mk passphrase others
printf 'second passphrase' >"$LAB_TMP/pass2"
cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1024 --key-file "$pass" "$IMG" "$LAB_TMP/pass2" ||
	fail "luksAddKey"
s2=$(CS luksDump "$IMG" | sed -n 's/^  \([0-9]*\): luks2$/\1/p' | tail -n 1)
printf '{"type":"other-tool","keyslots":["%s"]}' "$s2" >"$LAB_TMP/other.json"
CS token import --json-file "$LAB_TMP/other.json" "$IMG" || fail "token import"
SLOTS=$(keyslots "$IMG" | wc -w)
hdr=$(header "$IMG")
expect_rc 1 "a keyslot whose passphrase is not given (no terminal): refused" \
	setsid -w "$KMIPCRYPT" -c "$conf" reencrypt "$IMG" --key-file "$pass" </dev/null
expect_out "keyslot $s2 is no kmip token's \(used by token 1 \(other-tool\)\)" "... naming the keyslot and its token"
expect_out "luksKillSlot" "... and what to do"
expect_eq "$(header "$IMG")" "$hdr" "refused: the header is as it was"
expect_rc 0 "two passphrases given: reencrypt keeps both keyslots" \
	R "$IMG" --key-file "$LAB_TMP/pass2" --key-file "$pass"
done_ok passphrase "two passphrases"
expect_rc 0 "the second passphrase still opens the volume" \
	cryptsetup open --test-passphrase --key-file "$LAB_TMP/pass2" "$IMG"
n2=$(CS luksDump "$IMG" | awk '/^Tokens:/{t=1} t && /other-tool/{o=1} o && /Keyslot:/{print $2; exit}')
expect_rc 0 "the other tool's token moved to the second passphrase's new keyslot ($n2)" \
	cryptsetup open --test-passphrase --key-slot "$n2" --key-file "$LAB_TMP/pass2" "$IMG"

# ------------------------------------------------ on a terminal
mk passphrase tty
expect_rc 0 "on a terminal: keyslot 0's passphrase asked for, then re-encrypted" \
	"$LAB_PY" "$(dirname "$0")/pty-answer.py" "Enter the passphrase of keyslot 0 of $IMG (to keep it): " \
	"old passphrase" "$KMIPCRYPT" -c "$conf" reencrypt "$IMG" --hotzone-size 1M
expect_out "100\.0% \([0-9.]+ MiB of [0-9.]+ MiB\), [0-9.]+ MiB/s" "on a terminal: the progress line (percent, bytes, speed)"
done_ok passphrase "on a terminal"

# ------------------------------------------------ refusals
mk passphrase rotation
printf '{"type":"kmip-rotation","keyslots":[],"kmip_version":1,"token":"0","name":"x"}' >"$LAB_TMP/rot.json"
CS token import --json-file "$LAB_TMP/rot.json" "$IMG" || fail "token import"
hdr=$(header "$IMG")
expect_rc 5 "a rotation (kmip-rotation token) under way: refused" R "$IMG" --key-file "$pass"
expect_out "finish it first \('kmipcrypt rekey" "... saying to finish the rekey first"
expect_eq "$(header "$IMG")" "$hdr" "... the header as it was"

mk passphrase revoked
lab_pyclient main revoke "$UID0" --reason cessation >/dev/null || fail "revoke"
hdr=$(header "$IMG")
expect_rc 4 "a binding that does not prove (its key revoked): refused" R "$IMG" --key-file "$pass"
expect_out "does not unlock the volume now: reencrypt keeps every binding" "... saying why"
expect_eq "$(header "$IMG")" "$hdr" "... the header as it was"

# Hostile records: kmipcrypt acts on a kmip-reencrypt token only when its MAC verifies.
victim=$(lab_pyclient main create --activate | lab_json uid) || fail "create a victim key"
echo "$victim" >>"$named"
zero=$(head -c 32 /dev/zero | base64 -w0)
mk passphrase forged-bad
printf '{"type":"kmip-reencrypt","keyslots":[],"kmip_version":1,"pairs":[],"tokens":[],"mac":"%s","mac_old":"%s","extra":1}' \
	"$zero" "$zero" >"$LAB_TMP/forged.json"
CS token import --json-file "$LAB_TMP/forged.json" "$IMG" || fail "token import"
hdr=$(header "$IMG")
expect_rc 5 "a malformed kmip-reencrypt record: refused" R "$IMG" --key-file "$pass"
expect_out "invalid kmip-reencrypt token \(an unknown member: extra\)" "... naming what is wrong"
expect_eq "$(header "$IMG")" "$hdr" "... the header as it was"
expect_rc 0 "... and the volume still unlocks" K unlock --test "$IMG"
for shape in before after; do
	mk passphrase "forged-$shape"
	# before: it claims a run that never reached its init, whose "new" object is the victim;
	# after: one whose data is done (its "new" keyslot is the user's keyslot 0, bound).
	if [ $shape = before ]; then pairs='[["0","7"]]'; else pairs='[["7","0"]]'; fi
	printf '{"type":"kmip-reencrypt","keyslots":[],"kmip_version":1,"pairs":%s,"tokens":[{"token":"0","uid":"%s","name":"victim","new_uid":"%s"}],"mac":"%s","mac_old":"%s"}' \
		"$pairs" "$victim" "$victim" "$zero" "$zero" >"$LAB_TMP/forged.json"
	CS token import --json-file "$LAB_TMP/forged.json" "$IMG" || fail "token import"
	hdr=$(header "$IMG")
	expect_rc 5 "a forged record ($shape the data pass): refused" R "$IMG" --resume --key-file "$pass"
	expect_out "does not verify|cannot be verified" "$shape: ... because its MAC does not verify"
	expect_eq "$(header "$IMG")" "$hdr" "$shape: the header as it was"
	expect_eq "$(state "$victim")" ACTIVE "$shape: the object it names is untouched"
	expect_rc 0 "$shape: keyslot 0 still opens" cryptsetup open --test-passphrase --key-slot 0 \
		--key-file "$pass" "$IMG"
done

mk passphrase nothing
expect_rc 1 "--resume with nothing to resume" R "$IMG" --resume
expect_out "no reencryption to resume" "... says so"
expect_rc 1 "--token without --resume" R "$IMG" --token 0
pass
