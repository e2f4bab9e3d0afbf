#!/bin/bash
# Shared by tests/integration/test-luks-*.sh (sourced after common.sh):
# LUKS2 image files, token access, and the kmipcrypt wrapper.
#
# Images use PBKDF2 with 1024 iterations (LAB.md: argon2 costs 20 s here);
# keyslot 0 holds the passphrase in $LAB_TMP/pass (no newline: a key file is
# read whole, as cryptsetup does).  Not 1000: PBKDF2-SHA256 with exactly
# 1000 iterations and no token is what a kmipcrypt keyslot left behind by a
# removed token looks like, which unbind does not count as a way in.

printf 'old passphrase' >"$LAB_TMP/pass"
pass=$LAB_TMP/pass

# luks_lab [KEY=VALUE...]: the PyKMIP server "main" on a free port ($port) and
# $conf for it (timeout_ms=3000 unless the arguments say otherwise), for K.
luks_lab() {
	port=$(lab_server_start main)
	[ -n "$port" ] || fail "PyKMIP did not start"
	conf=$LAB_TMP/kmipcrypt.conf
	lab_config "$conf" "$port" timeout_ms=3000 "$@"
}
# K ARGS...: kmipcrypt with $conf
K() { "$KMIPCRYPT" -c "$conf" "$@"; }

# newimg NAME [luksFormat options]: a 32 MiB LUKS2 image, passphrase in keyslot 0
newimg() {
	local img=$LAB_TMP/$1.img
	shift
	rm -f "$img"
	truncate -s 32M "$img"
	cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1024 \
		--batch-mode "$@" "$img" "$LAB_TMP/pass" >/dev/null || fail "luksFormat $img"
	echo "$img"
}

# The kmip token plugin may be installed on this machine (test-plugin.sh):
# keep libcryptsetup's own tools from loading it, so that they show what is
# in the header and accept hand-made (also broken) tokens.
CS() { cryptsetup --disable-external-tokens "$@"; }

# token_json IMG [ID]: the token's JSON
token_json() { CS token export --token-id "${2:-0}" "$1"; }
# json_field FIELD: one member of the JSON object on stdin ("" if absent)
json_field() { "$LAB_PY" -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else (json.dumps(v) if isinstance(v, list) else v))' "$1"; }
# token_put IMG ID JSON: replace token ID by JSON (no validation by a plugin)
token_put() {
	printf '%s' "$3" >"$LAB_TMP/token.json"
	CS token import --token-replace --token-id "$2" --json-file "$LAB_TMP/token.json" "$1" ||
		fail "token import into $1"
}
# token_edit IMG ID PYEXPR: rewrite token ID with a Python expression on t (a dict)
token_edit() {
	local j
	j=$(token_json "$1" "$2" | "$LAB_PY" -c 'import json, sys
t = json.load(sys.stdin)
exec(sys.argv[1])
print(json.dumps(t, separators=(",", ":")))' "$3") || fail "token_edit $3"
	token_put "$1" "$2" "$j"
}

# header IMG: luksDump without the lines that change on every metadata write
header() { CS luksDump "$1" | grep -v -E '^(Epoch|Metadata area|Keyslots area):'; }
# keyslots IMG: the keyslot numbers in use, one line
keyslots() { CS luksDump "$1" | sed -n 's/^  \([0-9]*\): luks2.*/\1/p' | tr '\n' ' '; }

# ms_of CMD...: run CMD (output to $LAB_TMP/out, exit status to $LAB_TMP/rc), print its duration in ms
ms_of() {
	local t0
	t0=$(lab_now_ms)
	"$@" >"$LAB_TMP/out" 2>&1
	echo $? >"$LAB_TMP/rc"
	echo $(( $(lab_now_ms) - t0 ))
}

# expect_out RE WHAT: the output of the last expect_rc/expect_grep/ms_of matches RE
expect_out() {
	cp "$LAB_TMP/out" "$LAB_TMP/last"
	expect_grep "$1" "$2" cat "$LAB_TMP/last"
}

# bound NAME [enroll options]: a new image (newimg NAME $bound_format), enrolled
# with KMIP Name "$bound_prefix-NAME"; the enroll's output in the log on failure
bound() {
	local name=$1 img
	shift
	# shellcheck disable=SC2086
	img=$(newimg "$name" ${bound_format:-})
	K enroll "$img" --key-file "$pass" --name "${bound_prefix:-bound}-$name" "$@" \
		>"$LAB_TMP/enroll.out" 2>&1 ||
		{ sed 's/^/    | /' "$LAB_TMP/enroll.out"; fail "enroll $name"; }
	echo "$img"
}
# uid_of IMG [ID]: the uid that token ID (default 0) names
uid_of() { token_json "$1" "${2:-0}" | json_field uid; }

# preactive_binding IMG NAME: a binding of IMG whose key PyKMIP registers and
# never activates (an enroll that did not finish): Secret Data NAME, keyslot 3
# holding its passphrase, a hand-made token 0.  The key's uid in $pre.
preactive_binding() {
	local img=$1 hex
	hex=$(head -c 32 /dev/urandom | xxd -p -c 64)
	pre=$(lab_pyclient main register-secret --hex "$hex" --name "$2" | lab_json uid) ||
		fail "register-secret $2"
	echo "$hex" | xxd -r -p | base64 -w0 >"$LAB_TMP/pre.pass"
	cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot 3 \
		--key-file "$pass" "$img" "$LAB_TMP/pre.pass" || fail "luksAddKey"
	printf '{"type":"kmip","keyslots":["3"],"kmip_version":1,"kind":"passphrase","uid":"%s","group":"default"}' \
		"$pre" >"$LAB_TMP/pre.json"
	CS token import --json-file "$LAB_TMP/pre.json" --key-slot 3 "$img" || fail "token import"
}

# revoke_locks SERVER UID NAME REC LOG WHAT: revoke UID on lab server SERVER
# with PyKMIP's own client; the daemon (poll_interval 1 s) must record NAME's
# lock in REC within poll_interval + 1 s of it (LOG shown when it does not):
# prints the time it took and "ok WHAT".
revoke_locks() {
	local server=$1 uid=$2 name=$3 rec=$4 log=$5 what=$6 t0 ms
	t0=$(lab_now_ms)
	lab_pyclient "$server" revoke "$uid" --reason cessation >/dev/null || fail "revoke $uid"
	lab_wait_for 10 grep -q "^$name " "$rec" || { cat "$log"; fail "$name not locked"; }
	ms=$(( $(lab_now_ms) - t0 ))
	echo "    $name locked ${ms} ms after its key was revoked (poll_interval 1 s)"
	[ "$ms" -le 2000 ] || fail "$name locked after $ms ms, more than poll_interval + 1 s"
	echo "ok $what"
}
