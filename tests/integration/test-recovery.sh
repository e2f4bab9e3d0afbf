#!/bin/bash
# The recovery that kmipcrypt-unlock(8) and kmipcrypt(8) document, when the
# token plugin (or kmipcrypt unlock) cannot be used: the keyslot passphrase
# of a passphrase binding is base64 of its secret, and
#   kmipcrypt key get --passphrase UID
# prints exactly that, so that the documented commands open the keyslot
# with plain cryptsetup, no plugin (--disable-external-tokens):
#   kmipcrypt key get --passphrase UID | cryptsetup open --test-passphrase --key-file=- DEV
# (no newline in a pipe: --key-file=- would take it as part of the passphrase),
# typed at a prompt (on a terminal it ends with a newline), with --key-slot
# from the token.  The hex of `key get --show-secret`, which the docs used to
# advise typing, does not open it.  An envelope binding has no secret on the
# KMS to print: --passphrase refuses it and names 'kmipcrypt unlock', which
# verifies.  Against the real PyKMIP server, on LUKS2 image files.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

# ------------------------------------------------------------ passphrase
img=$(newimg recovery)
expect_rc 0 "enroll a passphrase binding" K enroll "$img" --kind passphrase --key-file "$pass"
uid=$(token_json "$img" | json_field uid)
slot=$(token_json "$img" | "$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin)["keyslots"][0])')
[ -n "$uid" ] && [ "$slot" = 1 ] || fail "token: uid '$uid', keyslot '$slot'"
expect_eq "$(K status --json "$img" | "$LAB_PY" -c 'import json, sys
t = json.load(sys.stdin)[0]["tokens"][0]
print(t["keyslot"], t["uid"])')" "$slot $uid" "status names the keyslot and the key UID that the recovery needs"

# What it prints: base64 of the secret (cross-checked with PyKMIP's own
# client), 44 characters, and no newline when it goes to a pipe.
K key get --passphrase "$uid" 2>/dev/null | od -c | sed 's/^/    | /'
want=$(lab_pyclient main get "$uid" | lab_json hex | xxd -r -p | base64 -w0)
expect_eq "$(K key get --passphrase "$uid" 2>/dev/null)" "$want" \
	"key get --passphrase prints base64 of the secret (PyKMIP's bytes)"
expect_eq "$(K key get --passphrase "$uid" 2>/dev/null | wc -c)" "44" \
	"44 bytes in a pipe: no newline"
expect_eq "$(K key get --passphrase "$uid" --json | lab_json passphrase)" "$want" "--json: the same in \"passphrase\""

# The documented commands, with libcryptsetup's own keyslot handling only.
pipe_open() { K key get --passphrase "$uid" | CS open --test-passphrase --key-file=- "$@" "$img"; }
expect_rc 0 "kmipcrypt key get --passphrase UID | cryptsetup open --test-passphrase --key-file=- IMG" pipe_open
expect_rc 0 "... with --key-slot $slot from the token" pipe_open --key-slot "$slot"
expect_rc 2 "... and it is not keyslot 0's passphrase (--key-slot 0 fails)" pipe_open --key-slot 0
# Typed at a prompt: cryptsetup without --key-file reads one line.
typed_open() { printf '%s\n' "$(K key get --passphrase "$uid")" | CS open --test-passphrase "$img"; }
expect_rc 0 "typed at the passphrase prompt (one line, Enter)" typed_open
# The old advice: the hex of --show-secret is not the passphrase.
hex_open() {
	K key get "$uid" --show-secret --json | lab_json material | tr -d '\n' |
		CS open --test-passphrase --key-file=- "$img"
}
expect_rc 2 "the hex of 'key get --show-secret' (the old advice) does not open it" hex_open

# On a terminal: a newline after it, and where to use it (stderr).
script -qec "$KMIPCRYPT -c $conf key get --passphrase $uid" /dev/null >"$LAB_TMP/tty.out" 2>&1 ||
	fail "key get --passphrase on a terminal"
sed 's/^/    | /' "$LAB_TMP/tty.out"
expect_eq "$(head -n 1 "$LAB_TMP/tty.out" | tr -d '\r')" "$want" "on a terminal: the passphrase on a line of its own"
grep -q "kmipcrypt status DEVICE" "$LAB_TMP/tty.out" ||
	fail "on a terminal it does not say how to find the keyslot"
echo "ok on a terminal it says that 'kmipcrypt status DEVICE' names the keyslot"

# Into a file: it works, with a warning that the secret is now on the disk.
K key get --passphrase "$uid" >"$LAB_TMP/pp.file" 2>"$LAB_TMP/pp.err" || fail "key get --passphrase > file"
expect_eq "$(cat "$LAB_TMP/pp.file")" "$want" "redirected to a file: the same bytes"
grep -q "is now in a file" "$LAB_TMP/pp.err" || fail "no warning about the file"
echo "ok a warning says the keyslot passphrase is now in a file"
expect_rc 0 "... and cryptsetup --key-file FILE opens with it" \
	CS open --test-passphrase --key-file "$LAB_TMP/pp.file" --key-slot "$slot" "$img"
rm -f "$LAB_TMP/pp.file"

# --------------------------------------------------------------- envelope
# The secret of an envelope binding is on no KMS: only Decrypt of the
# token's ciphertext gives it, which kmipcrypt unlock does.
eimg=$(newimg recovery-envelope)
expect_rc 0 "enroll an envelope binding" K enroll "$eimg" --kind envelope --key-file "$pass"
euid=$(token_json "$eimg" | json_field uid)
expect_rc 4 "key get --passphrase of the envelope key: exit 4" K key get --passphrase "$euid"
expect_out "recovered with 'kmipcrypt unlock DEVICE'" "... naming the recovery that applies"
expect_rc 0 "kmipcrypt unlock --test verifies the envelope binding without the plugin" K unlock --test "$eimg"
pass
