#!/bin/bash
# kmipcrypt enroll, unlock, status and unbind against the real PyKMIP server
# over mutual TLS, on LUKS2 image files, for each secret kind:
#   passphrase  Secret Data (Password) unlocks a new PBKDF2-1000 keyslot whose
#               passphrase is base64 of the secret (cross-checked with
#               cryptsetup and PyKMIP's own client);
#   envelope    an AES key on the KMS encrypts the keyslot secret with AES-GCM
#               bound to the volume (token format 2, mode aes-gcm): the token's
#               ciphertext decrypted here with the key PyKMIP hands out and the
#               documented Additional Data opens the keyslot; a changed
#               ciphertext or tag, a copied token and a wrong secret all fail
#               alike (exit 5, the same output); format 1 AES-CBC tokens made
#               with PyKMIP's own client still unlock, and a padding failure
#               looks like a wrong secret too; a server spoken to in KMIP 1.2
#               (no GCM tag there) gets AES-CBC with a warning;
#   volume-key  the volume key itself on the KMS (equal to what cryptsetup
#               dumps), the token on an unbound keyslot; with --wrap-key the
#               key travels wrapped (NIST key wrap) and is unwrapped with the
#               host copy of the KEK (explicit and config-relative default).
# For each: `unlock --test` verifies, a real `unlock IMG NAME` gets libcryptsetup's
# device-mapper error on this kernel (exit 5).  Then status (text, --json),
# unlock --all --from, and unbind (with --destroy-key, and refusals).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

# gcm decrypt|encrypt KEYHEX IVHEX DATAHEX AAD: AES-GCM here (python3-cryptography), hex out;
# decrypt takes ciphertext and tag, encrypt gives them; exit 1 when the tag does not verify.
gcm() {
	"$LAB_PY" -c 'import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.exceptions import InvalidTag
op, k, iv, data, aad = sys.argv[1], *map(bytes.fromhex, sys.argv[2:5]), sys.argv[5].encode()
try:
    out = (AESGCM(k).decrypt if op == "decrypt" else AESGCM(k).encrypt)(iv, data, aad)
except InvalidTag:
    sys.exit(1)
print(out.hex())' "$@"
}

# ------------------------------------------------------- each kind
for kind in passphrase envelope volume-key; do
	echo "--- $kind"
	extra=()
	# 256-bit volume keys: see the 512-bit case below
	[ $kind = volume-key ] && extra=(--key-size 256)
	img=$(newimg "$kind" "${extra[@]}")
	before=$(keyslots "$img")
	expect_rc 0 "$kind: enroll" K enroll "$img" --kind $kind --key-file "$pass" \
		--name "luks-$kind" --object-group "luks-tests"
	expect_out "token 0 on keyslot 1.*kind $kind" "$kind: enroll reports token and keyslot"
	[ $kind = envelope ] && expect_out "kind envelope aes-gcm" "envelope: enroll reports the mode"
	expect_eq "$(keyslots "$img")" "${before}1 " "$kind: one keyslot added"
	uid=$(token_json "$img" | json_field uid)
	[ -n "$uid" ] || fail "$kind: no uid in the token"
	expect_eq "$(token_json "$img" | json_field type)" "kmip" "$kind: token type kmip"
	expect_eq "$(token_json "$img" | json_field kind)" "$kind" "$kind: token kind"
	expect_eq "$(token_json "$img" | json_field keyslots)" '["1"]' "$kind: token bound to keyslot 1"
	# The oldest format that says it: 2 only for the AES-GCM envelope.
	expect_eq "$(token_json "$img" | json_field kmip_version)" "$([ $kind = envelope ] && echo 2 || echo 1)" \
		"$kind: token format version"
	expect_eq "$(token_json "$img" | json_field group)" "default" "$kind: token names the server group"
	expect_eq "$(lab_pyclient main get-state "$uid" | lab_json state)" "ACTIVE" "$kind: key Active on the server"
	attrs=$(lab_pyclient main get-attributes "$uid")
	expect_eq "$(echo "$attrs" | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)["attributes"]["Name"])')" \
		"luks-$kind" "$kind: KMIP Name as asked"
	expect_eq "$(lab_pyclient main locate --group luks-tests --name "luks-$kind" | lab_json uids)" "$uid" \
		"$kind: located by Object Group and Name"

	expect_rc 0 "$kind: unlock --test" K unlock "$img" --test
	expect_out "verified" "$kind: unlock --test says it only verified"
	expect_rc 5 "$kind: a real unlock fails with the device-mapper error" K unlock "$img" "vol-$kind"
	expect_out "device-mapper is not available" "$kind: ... and says device-mapper is missing"
	expect_out "error -95" "$kind: ... with libcryptsetup's -95"
	expect_rc 0 "$kind: the old passphrase still opens keyslot 0" \
		cryptsetup open --test-passphrase --key-slot 0 --key-file "$pass" "$img"
	expect_grep "token 0: keyslot 1.*kind $kind, key '$uid', group \[default\], state Active" \
		"$kind: status shows token, keyslot, kind, key, state" K status "$img"
	expect_grep "mapping: not open" "$kind: status: no mapping open" K status "$img"

	case $kind in
	passphrase)
		secret_hex=$(K key get "$uid" --show-secret --json | lab_json material)
		expect_eq "${#secret_hex}" "64" "passphrase: the secret on the server is 32 bytes"
		expect_eq "$(lab_pyclient main get "$uid" | lab_json type)" "SECRET_DATA" "passphrase: Secret Data"
		expect_eq "$(lab_pyclient main get "$uid" | lab_json data_type)" "PASSWORD" "passphrase: of type Password"
		b64=$(echo "$secret_hex" | xxd -r -p | base64 -w0)
		expect_rc 0 "passphrase: base64 of the secret opens keyslot 1 (cryptsetup)" \
			sh -c "printf %s '$b64' | cryptsetup open --test-passphrase --key-slot 1 --key-file - '$img'"
		CS luksDump "$img" | sed -n '/^  1: luks2/,/Digest ID/p' >"$LAB_TMP/slot1"
		expect_grep "PBKDF: +pbkdf2" "passphrase: keyslot 1 uses PBKDF2" cat "$LAB_TMP/slot1"
		expect_grep "Iterations: +1000$" "passphrase: ... with 1000 iterations" cat "$LAB_TMP/slot1"
		pass_img=$img pass_uid=$uid
		;;
	envelope)
		expect_eq "$(lab_pyclient main get "$uid" | lab_json type)" "SYMMETRIC_KEY" "envelope: an AES key"
		expect_eq "$(token_json "$img" | json_field mode)" "aes-gcm" "envelope: mode aes-gcm"
		ct=$(token_json "$img" | json_field ciphertext | base64 -d | xxd -p -c 256)
		iv=$(token_json "$img" | json_field iv | base64 -d | xxd -p -c 256)
		tag=$(token_json "$img" | json_field tag | base64 -d | xxd -p -c 256)
		expect_eq "${#ct}" "64" "envelope: 32 bytes of AES-GCM ciphertext in the token"
		expect_eq "${#iv}" "24" "envelope: a 12-byte nonce in the token"
		expect_eq "${#tag}" "32" "envelope: a 16-byte tag in the token"
		# The key leaves PyKMIP on Get: decrypt here, with the documented Additional Data.
		env_key=$(lab_pyclient main get "$uid" | lab_json hex)
		aad="kmipcrypt-envelope:$(cryptsetup luksUUID "$img"):1"
		plain=$(gcm decrypt "$env_key" "$iv" "$ct$tag" "$aad")
		expect_eq "${#plain}" "64" "envelope: AES-256-GCM with Additional Data '$aad' gives 32 bytes"
		expect_rc 1 "envelope: ... and with another volume's UUID the tag does not verify" \
			gcm decrypt "$env_key" "$iv" "$ct$tag" "kmipcrypt-envelope:$(cat /proc/sys/kernel/random/uuid):1"
		expect_rc 1 "envelope: ... nor with another keyslot" gcm decrypt "$env_key" "$iv" "$ct$tag" "${aad%:1}:2"
		b64=$(echo "$plain" | xxd -r -p | base64 -w0)
		expect_rc 0 "envelope: base64 of that opens keyslot 1 (cryptsetup)" \
			sh -c "printf %s '$b64' | cryptsetup open --test-passphrase --key-slot 1 --key-file - '$img'"
		expect_nogrep "$(echo "$plain" | cut -c1-16)" "envelope: the header holds no plaintext secret" \
			sh -c "CS() { cryptsetup --disable-external-tokens \"\$@\"; }; CS luksDump '$img'; CS token export --token-id 0 '$img' | base64 -d 2>/dev/null | xxd -p"
		env_img=$img env_uid=$uid
		;;
	volume-key)
		expect_grep "^  1: luks2 \(unbound\)" "volume-key: the token's keyslot 1 is unbound" CS luksDump "$img"
		vk=$(CS luksDump --dump-volume-key -q --key-file "$pass" "$img" |
			sed -n '/MK dump:/,$p' | sed 's/MK dump://' | tr -d ' \t\n')
		expect_eq "$(lab_pyclient main get "$uid" | lab_json hex)" "$vk" \
			"volume-key: the key on the server is the volume key (PyKMIP vs cryptsetup)"
		expect_rc 2 "volume-key: the unbound keyslot does not unlock the volume" \
			cryptsetup open --test-passphrase --key-slot 1 --key-file "$pass" "$img"
		vk_img=$img vk_uid=$uid
		;;
	esac
done

# ------------------------------------------------ envelope: one failure for every wrong envelope
# Whatever is wrong with the envelope (a changed ciphertext or tag, a token
# copied from another volume, a padding failure, a wrong secret), unlock
# fails the same way: exit 5 and the same words, so that nobody learns from
# unlock which it was (no padding or tag oracle).
echo "--- envelope: uniform failures"
img=$(newimg env-uniform)
K enroll "$img" --kind envelope --key-file "$pass" --name luks-env-uniform >/dev/null 2>&1 || fail "enroll env-uniform"
good=$(token_json "$img")
uid=$(echo "$good" | json_field uid)
key=$(lab_pyclient main get "$uid" | lab_json hex)
iv=$(echo "$good" | json_field iv | base64 -d | xxd -p -c 256)
aad="kmipcrypt-envelope:$(cryptsetup luksUUID "$img"):1"
# wrong_envelope WHAT PYEXPR: the good token edited; unlock fails with exit 5, output kept in $LAB_TMP/WHAT
wrong_envelope() {
	token_put "$img" 0 "$good"
	token_edit "$img" 0 "$2"
	expect_rc 5 "envelope, $1: exit 5" K unlock "$img" --test
	cp "$LAB_TMP/out" "$LAB_TMP/uniform-$1"
	expect_rc 5 "envelope, $1, -v: exit 5" K -v unlock "$img" --test
	cp "$LAB_TMP/out" "$LAB_TMP/uniform-v-$1"
}
other=$(gcm encrypt "$key" "$iv" "$(head -c 32 /dev/urandom | xxd -p -c 256)" "$aad")
wrong_envelope wrong-secret "import base64; t['ciphertext'] = base64.b64encode(bytes.fromhex('${other:0:64}')).decode(); t['tag'] = base64.b64encode(bytes.fromhex('${other:64}')).decode()"
expect_out "does not unlock keyslot 1" "envelope: a wrong secret says it does not unlock the keyslot"
wrong_envelope ciphertext "import base64; c = bytearray(base64.b64decode(t['ciphertext'])); c[5] ^= 1; t['ciphertext'] = base64.b64encode(c).decode()"
wrong_envelope tag "import base64; c = bytearray(base64.b64decode(t['tag'])); c[15] ^= 0x80; t['tag'] = base64.b64encode(c).decode()"
wrong_envelope nonce "import base64; c = bytearray(base64.b64decode(t['iv'])); c[0] ^= 1; t['iv'] = base64.b64encode(c).decode()"
for w in ciphertext tag nonce; do
	expect_eq "$(cat "$LAB_TMP/uniform-$w")" "$(cat "$LAB_TMP/uniform-wrong-secret")" \
		"envelope: a changed $w fails word for word as a wrong secret"
	expect_eq "$(cat "$LAB_TMP/uniform-v-$w")" "$(cat "$LAB_TMP/uniform-v-wrong-secret")" \
		"envelope: ... also with -v"
done
token_put "$img" 0 "$good"
expect_rc 0 "envelope: the good token still unlocks" K unlock "$img" --test
# Copied to another volume (a keyslot 1 there too): its UUID is not the one authenticated.
img2=$(newimg env-copy)
printf 'other secret' >"$LAB_TMP/other"
cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$pass" "$img2" "$LAB_TMP/other" || fail "luksAddKey"
token_put "$img2" 0 "$good"
expect_rc 5 "envelope: a token copied to another volume: exit 5" K unlock "$img2" --test
expect_eq "$(sed "s|$img2|IMG|g" "$LAB_TMP/out")" "$(sed "s|$img|IMG|g" "$LAB_TMP/uniform-wrong-secret")" \
	"envelope: ... failing word for word as a wrong secret"

# Format 1 (AES-CBC) tokens, as earlier kmipcrypt wrote them: made here with PyKMIP's own client.
echo "--- envelope: format 1, AES-CBC"
img=$(newimg env-cbc)
cuid=$(lab_pyclient main create --name luks-env-cbc | lab_json uid) || fail "create"
lab_pyclient main activate "$cuid" >/dev/null || fail "activate"
secret=$(head -c 32 /dev/urandom | xxd -p -c 256)
civ=$(head -c 16 /dev/urandom | xxd -p -c 256)
cct=$(lab_pyclient main encrypt "$cuid" --hex "$secret" --iv "$civ" | lab_json hex)
expect_eq "${#cct}" "96" "cbc: PyKMIP encrypts 32 bytes to 48"
echo "$secret" | xxd -r -p | base64 -w0 >"$LAB_TMP/cbc-pass"
cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$pass" "$img" "$LAB_TMP/cbc-pass" || fail "luksAddKey"
b64() { echo "$1" | xxd -r -p | base64 -w0; }
cbc_good=$(printf '{"type":"kmip","keyslots":["1"],"kmip_version":1,"kind":"envelope","uid":"%s","group":"default","ciphertext":"%s","iv":"%s"}' \
	"$cuid" "$(b64 "$cct")" "$(b64 "$civ")")
token_put "$img" 0 "$cbc_good"
expect_rc 0 "cbc: a format 1 token unlocks" K unlock "$img" --test
expect_grep "kind envelope" "cbc: status shows it" K status "$img"
# cbc_wrong WHAT HEX: the token with ciphertext HEX fails with exit 5
cbc_wrong() {
	token_put "$img" 0 "$(echo "$cbc_good" | sed "s|\"ciphertext\":\"[^\"]*\"|\"ciphertext\":\"$(b64 "$2")\"|")"
	expect_rc 5 "cbc, $1: exit 5" K unlock "$img" --test
	cp "$LAB_TMP/out" "$LAB_TMP/cbc-$1"
}
other=$(lab_pyclient main encrypt "$cuid" --hex "$(head -c 32 /dev/urandom | xxd -p -c 256)" --iv "$civ" | lab_json hex)
cbc_wrong wrong-secret "$other"
# The last byte of the second block decides the padding of the third.
flip() { printf '%s%02x%s' "${cct:0:62}" $(( 0x${cct:62:2} ^ $1 )) "${cct:64}"; }
cbc_wrong bad-padding "$(flip 0x10)"	# last plaintext byte 0x00: no valid padding
cbc_wrong short-plaintext "$(flip 0x11)"	# last plaintext byte 0x01: valid, 47 bytes
for w in bad-padding short-plaintext; do
	expect_eq "$(cat "$LAB_TMP/cbc-$w")" "$(cat "$LAB_TMP/cbc-wrong-secret")" \
		"cbc: $w fails word for word as a wrong secret (no padding oracle)"
done

# A server spoken to in KMIP 1.2 has no GCM tag: AES-CBC, with a warning; the token says so.
lab_config "$LAB_TMP/v12.conf" "$port" timeout_ms=3000 kmip_version=1.2
img=$(newimg env-v12)
expect_rc 0 "KMIP 1.2: envelope enroll" "$KMIPCRYPT" -c "$LAB_TMP/v12.conf" enroll "$img" --kind envelope \
	--key-file "$pass" --name luks-env-v12
expect_out "does not do AES-GCM" "KMIP 1.2: ... warns that it falls back"
expect_eq "$(token_json "$img" | json_field kmip_version)/$(token_json "$img" | json_field mode)" "1/" \
	"KMIP 1.2: ... and writes a format 1 (AES-CBC) token"
expect_rc 0 "KMIP 1.2: it unlocks" "$KMIPCRYPT" -c "$LAB_TMP/v12.conf" unlock "$img" --test
expect_rc 6 "KMIP 1.2: an AES-GCM token cannot be unlocked in 1.2" "$KMIPCRYPT" -c "$LAB_TMP/v12.conf" unlock "$env_img" --test
expect_out "AES-GCM, which needs KMIP 1.4" "... and says why"

# ------------------------------------------------ volume-key, wrapped
echo "--- volume-key with --wrap-key"
head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"
kek=$(K key register --type aes --secret-file "$LAB_TMP/kek.bin" --name luks-kek --activate) || fail "register KEK"
img=$(newimg wrapped --key-size 256)
expect_rc 0 "wrap: enroll --wrap-key with --kek-file" K enroll "$img" --kind volume-key \
	--wrap-key "$kek" --kek-file "$LAB_TMP/kek.bin" --key-file "$pass" --name luks-wrapped
expect_eq "$(token_json "$img" | json_field wrap_uid)" "$kek" "wrap: the token names the wrapping key"
expect_rc 0 "wrap: unlock --test --kek-file" K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
# The default host copy: <directory of the configuration>/kek/<WRAP UID>
expect_rc 1 "wrap: no --kek-file and no default file: exit 1" K unlock "$img" --test
expect_out "kek/$kek" "wrap: ... naming the default path"
mkdir -p "$LAB_TMP/kek"
cp "$LAB_TMP/kek.bin" "$LAB_TMP/kek/$kek"
chmod 644 "$LAB_TMP/kek/$kek"
expect_rc 1 "wrap: a KEK file readable by others is refused" K unlock "$img" --test
expect_out "must not be accessible to others" "wrap: ... saying why"
chmod 600 "$LAB_TMP/kek/$kek"
expect_rc 0 "wrap: unlock --test with the default KEK path" K unlock "$img" --test
head -c 32 /dev/urandom >"$LAB_TMP/wrong-kek.bin"
chmod 600 "$LAB_TMP/wrong-kek.bin"
expect_rc 6 "wrap: a wrong KEK fails the unwrap integrity check" K unlock "$img" --test --kek-file "$LAB_TMP/wrong-kek.bin"
expect_out "integrity check failed" "wrap: ... and says so"
expect_grep "wrapped by '$kek'" "wrap: status shows the wrapping key" K status "$img"
img2=$(newimg wrapped-bad --key-size 256)
h=$(header "$img2")
expect_rc 6 "wrap: enroll with a wrong KEK file fails" K enroll "$img2" --kind volume-key \
	--wrap-key "$kek" --kek-file "$LAB_TMP/wrong-kek.bin" --key-file "$pass" --name luks-wrapped-bad
expect_out "undone" "wrap: ... and is undone"
expect_eq "$(header "$img2")" "$h" "wrap: ... the header is as it was"
expect_eq "$(lab_pyclient main locate --name luks-wrapped-bad | lab_json uids)" "" "wrap: ... no object left on the KMS"
# A missing or malformed host copy of the KEK is found before anything is
# created on the KMS: no object to undo, none left behind, exit 1.
head -c 5 /dev/urandom >"$LAB_TMP/short-kek.bin"
chmod 600 "$LAB_TMP/short-kek.bin"
for bad in "$LAB_TMP/no-such-kek.bin" "$LAB_TMP/short-kek.bin"; do
	w=$(basename "$bad" .bin)
	objects=$(K key list | wc -l)
	expect_rc 1 "wrap: enroll with KEK file $w: exit 1" K enroll "$img2" --kind volume-key \
		--wrap-key "$kek" --kek-file "$bad" --key-file "$pass" --name "luks-wrapped-$w"
	expect_out "$w" "wrap: ... naming the file"
	expect_out "nothing was created on the KMS" "wrap: ... saying nothing was created on the KMS"
	expect_nogrep "created on the KMS, Pre-Active|undone" "wrap: ... and there was nothing to undo" cat "$LAB_TMP/last"
	expect_eq "$(K key list | wc -l)" "$objects" "wrap: ... the KMS holds as many objects as before"
	expect_eq "$(header "$img2")" "$h" "wrap: ... the header is as it was"
done

# ------------------------------------------------ 512-bit volume key
# LUKS2's default aes-xts-plain64 key is 512 bits: registered as a 512-bit
# AES key (PyKMIP stores it), fetched in the clear and wrapped (RFC 3394 of
# 64 bytes by a 256-bit KEK).
img=$(newimg xts512)
expect_eq "$(CS luksDump "$img" | sed -n 's/^.*Key: *\([0-9]*\) bits$/\1/p' | head -1)" "512" "xts512: a 512-bit volume key"
expect_rc 0 "xts512: enroll --kind volume-key" K enroll "$img" --kind volume-key --key-file "$pass" --name luks-xts512
expect_eq "$(lab_pyclient main get "$(token_json "$img" | json_field uid)" | lab_json length)" "512" \
	"xts512: PyKMIP holds a 512-bit key"
expect_rc 0 "xts512: unlock --test with a 512-bit volume key" K unlock "$img" --test
img=$(newimg xts512-wrapped)
expect_rc 0 "xts512 wrapped: enroll --wrap-key" K enroll "$img" --kind volume-key --wrap-key "$kek" \
	--kek-file "$LAB_TMP/kek.bin" --key-file "$pass" --name luks-xts512-wrapped
expect_rc 0 "xts512 wrapped: unlock --test" K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"

# ------------------------------------------------ the passphrase from the terminal
img=$(newimg prompt)
expect_rc 0 "enroll asks for the passphrase on the terminal" "$LAB_PY" "$(dirname "$0")/pty-answer.py" \
	"Enter an existing passphrase of $img: " "old passphrase" "$KMIPCRYPT" -c "$conf" enroll "$img" --name luks-prompt
cp "$LAB_TMP/out" "$LAB_TMP/last"
expect_nogrep "old passphrase" "the typed passphrase is not echoed" cat "$LAB_TMP/last"
expect_rc 0 "... and the volume unlocks" K unlock "$img" --test
expect_rc 1 "no terminal and no --key-file: exit 1" sh -c "setsid '$KMIPCRYPT' -c '$conf' enroll '$img' </dev/null"
expect_out "no terminal to ask for the passphrase" "... saying so"

# ------------------------------------------------ usage and refusals at enroll
img=$(newimg usage)
h=$(header "$img")
expect_rc 1 "enroll: unknown kind" K enroll "$img" --kind tpm --key-file "$pass"
expect_rc 1 "enroll: --wrap-key with kind passphrase" K enroll "$img" --wrap-key 1 --key-file "$pass"
expect_rc 1 "enroll: --kek-file without --wrap-key" K enroll "$img" --kind volume-key --kek-file x --key-file "$pass"
expect_rc 1 "enroll: no DEVICE" K enroll --key-file "$pass"
printf 'wrong' >"$LAB_TMP/wrong"
expect_rc 5 "enroll: a wrong passphrase" K enroll "$img" --key-file "$LAB_TMP/wrong" --name luks-wrongpass
expect_out "does not unlock any keyslot" "enroll: ... says the passphrase is wrong"
expect_eq "$(lab_pyclient main locate --name luks-wrongpass | lab_json uids)" "" "enroll: ... nothing created on the KMS"
expect_eq "$(header "$img")" "$h" "enroll: ... header unchanged"
truncate -s 32M "$LAB_TMP/luks1.img"
cryptsetup luksFormat --type luks1 --pbkdf-force-iterations 1000 --batch-mode "$LAB_TMP/luks1.img" "$pass" >/dev/null
expect_rc 5 "enroll: LUKS1 refused" K enroll "$LAB_TMP/luks1.img" --key-file "$pass"
expect_out "need LUKS2" "enroll: ... saying tokens need LUKS2"
truncate -s 1M "$LAB_TMP/plain.img"
expect_rc 5 "enroll: not LUKS" K enroll "$LAB_TMP/plain.img" --key-file "$pass"
expect_rc 0 "enroll --help" K enroll --help
expect_rc 0 "unlock --help" K unlock --help

# ------------------------------------------------ status, --all
printf '%s\n' "# the three kinds" "$pass_img" "$env_img pretty-name" "$vk_img" >"$LAB_TMP/list"
expect_rc 0 "status --from LIST (every key Active: exit 0)" K status --from "$LAB_TMP/list"
K status --json --from "$LAB_TMP/list" >"$LAB_TMP/status.json" || fail "status --json"
expect_eq "$("$LAB_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(t["kind"]+":"+t["state"] for v in d for t in v["tokens"]))' "$LAB_TMP/status.json")" \
	"passphrase:Active envelope:Active volume-key:Active" "status --json: kinds and states"
expect_eq "$("$LAB_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[1]["tokens"][0]["uid"], d[1]["tokens"][0]["keyslot"], d[1]["mapping_open"])' "$LAB_TMP/status.json")" \
	"$env_uid 1 False" "status --json: uid, keyslot, mapping"
expect_rc 0 "unlock --all --test --from LIST" K unlock --all --test --from "$LAB_TMP/list"
expect_eq "$(grep -c 'verified' "$LAB_TMP/out")" "3" "unlock --all: three volumes verified"
expect_rc 5 "unlock --all (real) --from LIST: device-mapper error, exit 5" K unlock --all --from "$LAB_TMP/list"
expect_eq "$(grep -c 'FAILED (exit 5' "$LAB_TMP/out")" "3" "unlock --all: each volume reports exit 5"
# An image without a kmip token in the list is skipped; a crypttab is read
img=$(newimg unbound)
printf '%s\n' "crypt-a $pass_img none luks" "# comment" "crypt-b $img" >"$LAB_TMP/crypttab"
expect_rc 0 "unlock --all --test --crypttab (one bound, one not)" K unlock --all --test --no-blkid --crypttab "$LAB_TMP/crypttab"
expect_eq "$(grep -c 'verified' "$LAB_TMP/out")" "1" "unlock --all: only the bound volume is unlocked"

# crypttab: the line's NAME and options for `unlock DEVICE`; noauto and
# header= keep a line out of --all; the first line of a device wins.
printf '%s\n' "# name device keyfile options" \
	"vol-tab $pass_img none discard,readonly,nofail,x-systemd.device-timeout=10s" \
	"vol-later $pass_img none luks" >"$LAB_TMP/crypttab2"
expect_rc 5 "unlock DEVICE listed in crypttab: activation tried (no device-mapper here)" \
	K -v -v unlock "$pass_img" --crypttab "$LAB_TMP/crypttab2"
expect_out "to be opened as vol-tab, options discard,readonly" "... as crypttab's NAME, with its options"
expect_out "activating the mapping vol-tab failed" "... the failure names the mapping"
expect_rc 5 "unlock DEVICE NAME: the NAME given wins over crypttab's" \
	K -v -v unlock "$pass_img" given-name --crypttab "$LAB_TMP/crypttab2"
expect_out "to be opened as given-name, options discard,readonly" "... crypttab's options still apply"
expect_rc 5 "unlock DEVICE not in crypttab: luks-<UUID>" K -v -v unlock "$pass_img" --crypttab /dev/null
expect_out "to be opened as luks-$(cryptsetup luksUUID "$pass_img"), options none" "... with no options"
printf '%s\n' "quiet-a $pass_img none noauto" "detached-b $img none header=/root/b.hdr" \
	"plain-c $env_img" >"$LAB_TMP/crypttab3"
expect_rc 0 "unlock --all: noauto and header= lines are skipped" \
	K unlock --all --test --no-blkid --crypttab "$LAB_TMP/crypttab3"
expect_eq "$(grep -c 'verified' "$LAB_TMP/out")" "1" "unlock --all: only the plain line's volume"
expect_out "^$env_img: verified" "... which is $env_img"
expect_out "detached header \(header=\), which kmipcrypt does not support; skipped" "... header= is warned about"
expect_rc 1 "unlock --all --crypttab MISSING: exit 1" K unlock --all --test --no-blkid --crypttab "$LAB_TMP/no-such-crypttab"
expect_rc 1 "unlock DEVICE --crypttab MISSING: exit 1" K unlock "$pass_img" --crypttab "$LAB_TMP/no-such-crypttab"
expect_rc 1 "unlock --all --from MISSING: exit 1" K unlock --all --test --from "$LAB_TMP/no-such-list"

# libblkid finds a bound volume on a block device (a loop device here).  Other
# tests' loop devices may show up too: only ours is asserted.
if loop=$(losetup -f --show "$env_img" 2>/dev/null) && [ -b "$loop" ]; then
	trap 'losetup -d "$loop"; lab_cleanup' EXIT
	K unlock --all --test --crypttab /dev/null >"$LAB_TMP/out" 2>&1
	expect_out "^$loop: verified" "unlock --all finds $loop through libblkid and unlocks it"
	expect_grep "^$loop\$" "status without DEVICE lists $loop" K status --crypttab /dev/null
	losetup -d "$loop"
	trap 'lab_cleanup' EXIT
else
	echo "ok # SKIP no loop device: libblkid discovery not tested"
fi

# ------------------------------------------------ lock
# No device-mapper in this kernel: nothing can be open, and lock says so (exit 5).
for action in suspend close; do
	expect_rc 5 "lock --action $action: exit 5 (LUKS error)" K lock "vol-passphrase" --action $action
	expect_out "device-mapper is not available|no such open mapping" "lock --action $action: says why"
done
expect_rc 1 "lock: unknown action" K lock vol --action freeze
expect_rc 1 "lock: no NAME" K lock
expect_rc 0 "lock --help" K lock --help

# ------------------------------------------------ unbind
echo "--- unbind"
expect_rc 0 "unbind --destroy-key (passphrase)" K unbind "$pass_img" --destroy-key
expect_eq "$(keyslots "$pass_img")" "0 " "unbind: keyslot 1 removed, keyslot 0 kept"
expect_nogrep ": kmip" "unbind: token removed" CS luksDump "$pass_img"
expect_eq "$(lab_pyclient main locate --name luks-passphrase | lab_json uids)" "" "unbind: the key is gone from the KMS"
expect_rc 5 "unbind: nothing left to unbind" K unbind "$pass_img"
expect_rc 5 "unlock of an unbound volume: exit 5" K unlock "$pass_img" --test
expect_out "no kmip token" "... says there is no kmip token"

# The last way in is never removed.
cryptsetup luksKillSlot -q "$env_img" 0 </dev/null 2>/dev/null || fail "luksKillSlot"
expect_rc 5 "unbind refuses to remove the last keyslot (envelope)" K unbind "$env_img" --destroy-key
expect_out "last way to unlock" "... saying why"
expect_rc 0 "... and the volume still unlocks by its token" K unlock "$env_img" --test
expect_eq "$(lab_pyclient main get-state "$env_uid" | lab_json state)" "ACTIVE" "... and its key is untouched"
cryptsetup luksKillSlot -q "$vk_img" 0 </dev/null 2>/dev/null || fail "luksKillSlot"
expect_rc 5 "unbind refuses to drop the only pointer to the volume key (volume-key)" K unbind "$vk_img"
expect_rc 0 "... which still unlocks it" K unlock "$vk_img" --test

# Two tokens: say which.
img=$(newimg two)
K enroll "$img" --key-file "$pass" --name luks-two-a >/dev/null 2>&1 || fail "enroll two-a"
K enroll "$img" --kind envelope --key-file "$pass" --name luks-two-b >/dev/null 2>&1 || fail "enroll two-b"
expect_grep "token 1: keyslot 2, kind envelope" "two tokens: status shows both" K status "$img"
expect_rc 1 "two tokens: unbind without --token" K unbind "$img"
uid_b=$(token_json "$img" 1 | json_field uid)
expect_rc 0 "two tokens: unbind --token 1 (no --destroy-key)" K unbind "$img" --token 1
expect_eq "$(keyslots "$img")" "0 1 " "two tokens: keyslot 2 removed"
expect_eq "$(lab_pyclient main get-state "$uid_b" | lab_json state)" "ACTIVE" "two tokens: without --destroy-key the key stays"
expect_rc 0 "two tokens: the remaining token unlocks" K unlock "$img" --test --token 0
pass
