#!/bin/bash
# The LUKS2 header is hostile input: nothing a token says may cost the user
# data (issue 7), against the real PyKMIP server on LUKS2 image files.
#  a) a token naming another volume's key (its uid edited, or the whole token
#     copied from another disk, for each kind): unbind --destroy-key refuses
#     and names device, token, key and reason; the other volume's key stays
#     Active, this volume's own key too, the header is unchanged; --force
#     removes the token, keeps the keyslot and destroys the key named (a
#     throwaway object here); a binding that is what it says unbinds as ever;
#     the server down, the key revoked or Pre-Active: refused with that
#     exit status, nothing changed;
#  b) a token listing the user's keyslot ("keyslots":["0"], or ["1","0"],
#     which is an invalid token): unbind never removes keyslot 0 and the
#     user's passphrase still opens the volume; a volume-key token moved to a
#     keyslot bound to the data keeps that keyslot; a kmipcrypt keyslot whose
#     token is gone is no "way in" for the last-keyslot rule;
#  c) status flags, in text and --json, with a reason and a non-zero exit,
#     every binding that unlock refuses although its key is Active: another
#     object's secret, an object of the wrong type, a missing KEK file;
#  d) unlock --all --from LIST and status --from LIST name a listed device
#     that is missing, or has no kmip token, and fail; the others still run;
#  e) unbind interrupted (SIGINT, SIGTERM, SIGHUP: KMIPCRYPT_FAIL_AT=STEP:SIGNAL)
#     before the header changes: nothing changed, the process ends by the
#     signal; after it: it finishes and says so.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

bound_prefix=hostile
bound_format="--key-size 256"
# state UID: the key's State as `kmipcrypt key show` says it ("gone" if not found)
state() { K key show "$1" 2>/dev/null | sed -n 's/^State  *//p' | grep . || echo gone; }
# opens IMG: the user's passphrase still opens the volume (any keyslot)
opens() { cryptsetup open --test-passphrase --key-file "$pass" "$1"; }

# ------------------------------------------------ a) another volume's key
for kind in passphrase envelope volume-key; do
	a=$(bound "a-$kind" --kind $kind)
	b=$(bound "b-$kind" --kind $kind)
	ua=$(uid_of "$a") ub=$(uid_of "$b")
	# The uid edited (every kind), or the whole token copied from A (envelope, volume-key).
	if [ $kind = passphrase ]; then
		token_edit "$b" 0 "t['uid'] = '$ua'"
	else
		token_put "$b" 0 "$(token_json "$a")"
	fi
	h=$(header "$b")
	expect_rc 5 "$kind: unbind --destroy-key of B whose token names A's key: refused (exit 5)" \
		K unbind "$b" --destroy-key
	expect_out "$b: refusing to unbind token 0 \(key '$ua'" "$kind: ... naming device, token and key"
	expect_out "does not (unlock|open)" "$kind: ... and the reason (the secret does not open B)"
	expect_out "nothing was changed" "$kind: ... saying nothing was changed"
	expect_eq "$(state "$ua")" "Active" "$kind: A's key is still Active (kmipcrypt key show)"
	expect_eq "$(state "$ub")" "Active" "$kind: B's own key is still Active"
	expect_eq "$(header "$b")" "$h" "$kind: B's header is unchanged"
	expect_rc 0 "$kind: A still unlocks" K unlock "$a" --test
	expect_rc 5 "$kind: plain unbind of B (no --destroy-key) is refused too" K unbind "$b"
	expect_eq "$(header "$b")" "$h" "$kind: ... B's header is unchanged"
done

# A binding that is what it says is still unbound as before, for each kind.
for kind in passphrase envelope volume-key; do
	img=$(bound "plain-$kind" --kind $kind)
	uid=$(uid_of "$img")
	expect_rc 0 "$kind: unbind --destroy-key of a proven binding" K unbind "$img" --destroy-key
	expect_eq "$(keyslots "$img")" "0 " "$kind: ... its keyslot 1 removed, keyslot 0 kept"
	expect_eq "$(state "$uid")" "gone" "$kind: ... its key destroyed"
done

# --force: the token goes, the keyslot stays (with the command to remove it),
# the key the token names is destroyed: a throwaway object here.
b=$(bound force)
ub=$(uid_of "$b")
junk=$(K key register --type secret --generate 32 --name hostile-throwaway --activate) || fail "register"
token_edit "$b" 0 "t['uid'] = '$junk'"
expect_rc 0 "--force: unbind --destroy-key --force of a token naming a throwaway secret" \
	K unbind "$b" --destroy-key --force
expect_out "keyslot 1 kept" "--force: ... keeps the keyslot the key does not open"
expect_out "cryptsetup luksKillSlot $b 1" "--force: ... with the command to remove it by hand"
expect_eq "$(keyslots "$b")" "0 1 " "--force: keyslots 0 and 1 are both still there"
expect_nogrep ": kmip" "--force: the token is removed" CS luksDump "$b"
expect_eq "$(state "$junk")" "gone" "--force: the key named was revoked and destroyed"
expect_eq "$(state "$ub")" "Active" "--force: B's own key was not touched"
expect_rc 0 "--force: the passphrase still opens B" opens "$b"

# The proof cannot be made: refused with that cause's exit status, nothing changed.
img=$(bound down)
uid=$(uid_of "$img")
h=$(header "$img")
lab_config "$LAB_TMP/refused.conf" "$(lab_refused_port)" timeout_ms=2000
expect_rc 2 "server down: unbind refuses (exit 2)" "$KMIPCRYPT" -c "$LAB_TMP/refused.conf" unbind "$img"
expect_out "refusing to unbind token 0 \(key '$uid'.*[Cc]onnection refused" "server down: ... saying why"
expect_eq "$(header "$img")" "$h" "server down: ... header unchanged"
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "pyclient revoke"
expect_rc 4 "key revoked: unbind refuses (exit 4)" K unbind "$img" --destroy-key
expect_out "Deactivated" "key revoked: ... saying why"
expect_eq "$(header "$img")" "$h" "key revoked: ... header unchanged"
expect_rc 0 "key revoked: unbind --force --destroy-key removes the token" K unbind "$img" --force --destroy-key
expect_eq "$(keyslots "$img")" "0 1 " "key revoked: ... and keeps its keyslot"
expect_eq "$(state "$uid")" "gone" "key revoked: ... and destroys the key"
# A Pre-Active key (an enroll that did not finish): activating it makes the proof possible.
img=$(newimg preactive --key-size 256)
preactive_binding "$img" hostile-preactive
expect_rc 4 "Pre-Active key: unbind refuses (exit 4)" K unbind "$img" --destroy-key
expect_out "key activate $pre" "Pre-Active key: ... and says how to make the proof possible"
K key activate "$pre" >/dev/null || fail "key activate"
expect_rc 0 "Pre-Active key, activated: unbind --destroy-key" K unbind "$img" --destroy-key
expect_eq "$(keyslots "$img")" "0 " "Pre-Active key, activated: ... its keyslot 3 removed"
expect_eq "$(state "$pre")" "gone" "Pre-Active key, activated: ... and the key destroyed"

# ------------------------------------------------ b) the user's keyslot in a token
img=$(bound slot0)
uid=$(uid_of "$img")
good=$(token_json "$img")
token_edit "$img" 0 "t['keyslots'] = ['0']"
h=$(header "$img")
expect_rc 5 "keyslots [\"0\"]: unbind refuses (the secret does not open keyslot 0)" K unbind "$img"
expect_out "does not unlock keyslot 0" "keyslots [\"0\"]: ... saying why"
expect_eq "$(header "$img")" "$h" "keyslots [\"0\"]: ... header unchanged"
expect_rc 5 "keyslots [\"0\"]: unbind --destroy-key refuses too" K unbind "$img" --destroy-key
expect_eq "$(state "$uid")" "Active" "keyslots [\"0\"]: ... the key is untouched"
expect_rc 0 "keyslots [\"0\"]: unbind --force removes the token" K unbind "$img" --force
expect_out "keyslot 0 kept" "keyslots [\"0\"]: ... and keeps keyslot 0"
expect_eq "$(keyslots "$img")" "0 1 " "keyslots [\"0\"]: keyslots 0 and 1 are both still there"
expect_rc 0 "keyslots [\"0\"]: the passphrase still opens keyslot 0" \
	cryptsetup open --test-passphrase --key-slot 0 --key-file "$pass" "$img"

img=$(bound slot10)
token_edit "$img" 0 "t['keyslots'] = ['1', '0']"
expect_rc 5 "keyslots [\"1\",\"0\"]: status calls the token invalid (exit 5)" K status "$img"
expect_out "INVALID" "keyslots [\"1\",\"0\"]: ... INVALID"
expect_rc 0 "keyslots [\"1\",\"0\"]: unbind removes the invalid token" K unbind "$img"
expect_out "keyslot 0 kept" "keyslots [\"1\",\"0\"]: ... keeps keyslot 0"
expect_out "keyslot 1 kept" "keyslots [\"1\",\"0\"]: ... and keyslot 1 (nothing proves what they are)"
expect_eq "$(keyslots "$img")" "0 1 " "keyslots [\"1\",\"0\"]: no keyslot removed"
expect_rc 0 "keyslots [\"1\",\"0\"]: the passphrase still opens keyslot 0" \
	cryptsetup open --test-passphrase --key-slot 0 --key-file "$pass" "$img"

# A volume-key token moved to keyslot 0 (bound to the data): the key is the
# volume key (proven), but keyslot 0 is not the token's unbound keyslot.
img=$(bound vk-slot0 --kind volume-key)
token_edit "$img" 0 "t['keyslots'] = ['0']"
expect_rc 0 "volume-key token on keyslot 0: unbind removes the token" K unbind "$img"
expect_out "keyslot 0 kept" "volume-key token on keyslot 0: ... and keeps keyslot 0"
expect_eq "$(keyslots "$img")" "0 1 " "volume-key token on keyslot 0: no keyslot removed"
expect_rc 0 "volume-key token on keyslot 0: the passphrase still opens keyslot 0" \
	cryptsetup open --test-passphrase --key-slot 0 --key-file "$pass" "$img"

# The last way in: keyslot 2 was kmipcrypt's, its token removed by hand; the
# user's keyslot 0 is gone.  Keyslot 2 is no way in for a person.
img=$(bound last)
K enroll "$img" --key-file "$pass" --name hostile-last-2 >/dev/null 2>&1 || fail "second enroll"
uid=$(uid_of "$img")
CS token remove --token-id 1 "$img" || fail "token remove"
cryptsetup luksKillSlot -q "$img" 0 </dev/null 2>/dev/null || fail "luksKillSlot 0"
h=$(header "$img")
expect_rc 5 "orphaned kmipcrypt keyslot 2 is no way in: unbind refuses" K unbind "$img" --destroy-key
expect_out "last way" "... saying it is the last way in"
expect_out "keyslot 2 .*(not counted|left behind)" "... and why keyslot 2 does not count"
expect_eq "$(header "$img")" "$h" "... header unchanged"
expect_eq "$(state "$uid")" "Active" "... key untouched"
expect_rc 0 "... the volume still unlocks" K unlock "$img" --test

# ------------------------------------------------ c) status says what unlock would
# status_is IMG RC RE WHAT: text exits RC with RE on the token's line or the
# next; --json too, with "usable": false and RE in "reason".
status_is() {
	local img=$1 rc=$2 re=$3 what=$4 out
	expect_rc "$rc" "status: $what: exit $rc" K status "$img"
	expect_out "NOT usable|would not unlock" "status: $what: text says the binding would not unlock"
	expect_out "$re" "status: $what: text gives the reason"
	K status --json "$img" >"$LAB_TMP/s.json" 2>"$LAB_TMP/s.err"
	expect_eq "$?" "$rc" "status --json: $what: exit $rc"
	out=$("$LAB_PY" -c 'import json,sys; t=json.load(open(sys.argv[1]))[0]["tokens"][0]; print(t.get("usable"), t.get("reason"))' "$LAB_TMP/s.json")
	expect_grep "^False .*$re" "status --json: $what: \"usable\": false and the reason" echo "$out"
}

img=$(bound healthy)
expect_rc 0 "status of a healthy binding: exit 0" K status "$img"
K status --json "$img" >"$LAB_TMP/s.json" || fail "status --json"
expect_eq "$("$LAB_PY" -c 'import json,sys; t=json.load(open(sys.argv[1]))[0]["tokens"][0]; print(t["usable"], t["reason"], t["state"])' "$LAB_TMP/s.json")" \
	"True None Active" "status --json of a healthy binding: usable, no reason, Active"

other=$(K key register --type secret --generate 32 --name hostile-other --activate) || fail "register"
token_edit "$img" 0 "t['uid'] = '$other'"
status_is "$img" 5 "does not unlock keyslot 1" "another Active object's secret"
aes=$(K key create --name hostile-aes) || fail "create"
token_edit "$img" 0 "t['uid'] = '$aes'"
status_is "$img" 4 "is a Symmetric Key; a passphrase token needs Secret Data" "a Symmetric Key for kind passphrase"

head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"
kek=$(K key register --type aes --secret-file "$LAB_TMP/kek.bin" --name hostile-kek --activate) || fail "register KEK"
img=$(bound wrapped --kind volume-key --wrap-key "$kek" --kek-file "$LAB_TMP/kek.bin")
status_is "$img" 1 "key-encryption key.*kek/$kek" "the KEK file missing (default path)"
expect_rc 0 "status --kek-file F of the same: exit 0" K status --kek-file "$LAB_TMP/kek.bin" "$img"

# ------------------------------------------------ d) --from LIST: a listed device is a promise
ok=$(bound listed)
none=$(newimg no-token)
printf '%s\n' "$LAB_TMP/no-such.img" "$ok" "$none" >"$LAB_TMP/list"
expect_rc 5 "unlock --all --from: a missing device and one without a token: exit 5" \
	K unlock --all --test --from "$LAB_TMP/list"
expect_out "$LAB_TMP/no-such.img: .*No such file" "unlock --all --from: ... names the missing device"
expect_out "$none: .*no kmip token" "unlock --all --from: ... names the device without a token"
expect_out "^$ok: verified" "unlock --all --from: ... the listed bound volume is still unlocked"
expect_rc 5 "status --from: the same list: exit 5" K status --from "$LAB_TMP/list"
expect_out "$LAB_TMP/no-such.img: .*No such file" "status --from: ... names the missing device"
expect_out "$none: .*no kmip token" "status --from: ... names the device without a token"
expect_out "token 0: keyslot 1, kind passphrase.*state Active" "status --from: ... and shows the bound one"
K status --json --from "$LAB_TMP/list" >"$LAB_TMP/s.json" 2>/dev/null
expect_eq "$("$LAB_PY" -c 'import json,sys; print(" ".join(str("error" in v) for v in json.load(open(sys.argv[1]))))' "$LAB_TMP/s.json")" \
	"True False True" "status --json --from: an error for each of the two, not for the bound one"

# ------------------------------------------------ e) unbind interrupted
signum() { kill -l "${1#SIG}"; }
for sig in SIGINT SIGTERM SIGHUP; do
	for stp in prove token; do
		img=$(bound "int-$stp-$sig")
		uid=$(uid_of "$img")
		h=$(header "$img")
		KMIPCRYPT_FAIL_AT=$stp:$sig expect_rc $((128 + $(signum $sig))) \
			"unbind --destroy-key, $sig at '$stp' (before the header changes): ends by $sig" \
			K unbind "$img" --destroy-key
		expect_out "interrupted.*nothing was changed" "$sig at '$stp': ... says nothing was changed"
		expect_eq "$(header "$img")" "$h" "$sig at '$stp': the header is unchanged"
		expect_eq "$(state "$uid")" "Active" "$sig at '$stp': the key is untouched"
	done
done
for stp in keyslot destroy; do
	img=$(bound "int-$stp")
	uid=$(uid_of "$img")
	KMIPCRYPT_FAIL_AT=$stp:SIGINT expect_rc 0 \
		"unbind --destroy-key, SIGINT at '$stp' (after the token is removed): finishes" \
		K unbind "$img" --destroy-key
	expect_out "finishing" "SIGINT at '$stp': ... says it finishes"
	expect_eq "$(keyslots "$img")" "0 " "SIGINT at '$stp': keyslot 1 removed"
	expect_eq "$(state "$uid")" "gone" "SIGINT at '$stp': the key is destroyed"
done
pass
