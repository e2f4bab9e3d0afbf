#!/bin/bash
# The kmipcrypt binary itself under valgrind (memcheck) against the real
# PyKMIP server: every key verb, wrapped get with local unwrap, a TLS
# failure and a server refusal, the TTLV tools, and the LUKS verbs on image
# files (enroll of each kind, unlock --test, unlock --all through a crypttab,
# status, a revoked key, an undone enroll, unbind --destroy-key).  Any invalid access,
# uninitialised use or definite leak fails the test.
. "$(dirname "$0")/common.sh"
command -v valgrind >/dev/null || fail "valgrind missing (make deps installs it)"
port=$(lab_server_start vg)
conf=$LAB_TMP/vg.conf
lab_config "$conf" "$port" timeout_ms=5000
# V [--trace-children=yes] ARGS...: kmipcrypt ARGS under valgrind
V() {
	local vg=()
	[ "$1" = --trace-children=yes ] && { vg=("$1"); shift; }
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "${vg[@]}" \
		"$KMIPCRYPT" -c "$conf" "$@"
}

uid=$(V key create --name vg --object-group vg) || fail "create under valgrind"
head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"	# a secret file: refused when others may read it
kek=$(V key register --type aes --secret-file "$LAB_TMP/kek.bin" --activate) || fail "register under valgrind"
expect_rc 0 "list" V key list
expect_rc 0 "list --json" V key list --json
expect_rc 0 "locate" V key locate --object-group vg
expect_rc 0 "show" V key show "$uid"
expect_rc 0 "get --show-secret" V key get "$uid" --show-secret
expect_rc 0 "get wrapped, unwrapped here" V key get "$uid" --wrap-key "$kek" --kek-file "$LAB_TMP/kek.bin" --json
expect_rc 0 "register secret --generate" V key register --type secret --generate 32 --name vgs
expect_rc 0 "revoke" V key revoke "$uid" --reason superseded --message "valgrind"
expect_rc 0 "destroy" V key destroy "$uid"
expect_rc 4 "not found" V key show "$uid"
lab_config "$LAB_TMP/bad.conf" "$port" ca="$LAB_CERTS/unknown-ca.crt"
expect_rc 3 "TLS failure" valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	"$KMIPCRYPT" -c "$LAB_TMP/bad.conf" key show 1
cases=tests/data/kmip-testcases/v1.4/other/TC-WRAP-1-14.xml
# kmipcrypt ttlv execs kmipcrypt-ttlv: valgrind follows it into the child.
expect_rc 0 "ttlv convert" V --trace-children=yes ttlv convert --from xml --to hex --now 1700000000 -o "$LAB_TMP/w.hex" "$cases"
expect_rc 0 "ttlv dump" V --trace-children=yes ttlv dump "$LAB_TMP/w.hex"

# ------------------------------------------------------------ LUKS verbs
. "$(dirname "$0")/luks-common.sh"
for kind in passphrase envelope volume-key; do
	img=$(newimg "vg-$kind")
	expect_rc 0 "enroll --kind $kind" V enroll "$img" --kind $kind --key-file "$LAB_TMP/pass"
	expect_rc 0 "unlock --test ($kind)" V unlock "$img" --test
	echo "vg-$kind $img none discard" >>"$LAB_TMP/crypttab"
done
img=$(newimg vg-wrapped)
expect_rc 0 "enroll --wrap-key" V enroll "$img" --kind volume-key --wrap-key "$kek" \
	--kek-file "$LAB_TMP/kek.bin" --key-file "$LAB_TMP/pass"
expect_rc 0 "unlock --test, wrapped" V unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
# The proofs in child processes (forked, no exec: valgrind is in them too).
expect_rc 0 "unlock --all --test --jobs 3 (crypttab, proofs in child processes)" \
	V unlock --all --test --jobs 3 --no-blkid --crypttab "$LAB_TMP/crypttab"
expect_rc 5 "unlock as crypttab's name (no device-mapper here)" V unlock "$img" --crypttab "$LAB_TMP/crypttab" \
	--kek-file "$LAB_TMP/kek.bin"
expect_rc 0 "status --json" V status --json --kek-file "$LAB_TMP/kek.bin" "$LAB_TMP/vg-passphrase.img" "$img"
uid=$(token_json "$LAB_TMP/vg-passphrase.img" | json_field uid)
expect_rc 0 "key revoke" V key revoke "$uid"
expect_rc 4 "unlock of a revoked key" V unlock "$LAB_TMP/vg-passphrase.img" --test
img=$(newimg vg-undo)
expect_rc 6 "enroll failing at verify, undone" env KMIPCRYPT_FAIL_AT=verify \
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	"$KMIPCRYPT" -c "$conf" enroll "$img" --key-file "$LAB_TMP/pass"
expect_rc 0 "unbind --destroy-key" V unbind "$LAB_TMP/vg-envelope.img" --destroy-key
pass
