#!/bin/bash
# kmipcrypt key against the real PyKMIP server over mutual TLS, with KMIP 1.2,
# 1.4 and 2.0 pinned and with auto negotiation: the symmetric key lifecycle,
# the storage-array/SED flow, Get with key wrapping and local unwrap, and a
# cross-check with PyKMIP's own client in both directions.
. "$(dirname "$0")/common.sh"

port=$(lab_server_start main)
[ -n "$port" ] || fail "PyKMIP did not start"

hexsha() { xxd -r -p | sha256sum | cut -c1-32; }

for ver in 1.2 1.4 2.0 auto; do
	conf=$LAB_TMP/kmipcrypt-$ver.conf
	lab_config "$conf" "$port" kmip_version=$ver timeout_ms=5000
	K() { "$KMIPCRYPT" -c "$conf" "$@"; }
	echo "--- KMIP $ver"

	# Symmetric key lifecycle (SKLC): Create, Activate, State, Revoke (compromise), Destroy.
	uid=$(K key create --name "sklc-$ver" --object-group "grp-$ver" --no-activate) || fail "create ($ver)"
	expect_eq "$(K key show "$uid" --json | lab_json state)" "Pre-Active" "new key is Pre-Active ($ver)"
	expect_eq "$(lab_pyclient main get-state "$uid" | lab_json state)" "PRE_ACTIVE" "PyKMIP sees Pre-Active ($ver)"
	K key activate "$uid" || fail "activate ($ver)"
	expect_eq "$(K key show "$uid" --json | lab_json state)" "Active" "activated key is Active ($ver)"
	expect_eq "$(K key show "$uid" --json | lab_json algorithm)" "AES" "algorithm AES ($ver)"
	expect_eq "$(K key show "$uid" --json | lab_json length)" "256" "length 256 ($ver)"
	# kmipcrypt's fingerprint equals PyKMIP's bytes: both read the same key.
	ours=$(K key get "$uid" --json | lab_json sha256_prefix)
	theirs=$(lab_pyclient main get "$uid" | lab_json hex | hexsha)
	expect_eq "$ours" "$theirs" "key read identically by kmipcrypt and PyKMIP ($ver)"
	K key revoke "$uid" --reason compromise --message "test $ver" || fail "revoke ($ver)"
	expect_eq "$(K key show "$uid" --json | lab_json state)" "Compromised" "revoked with compromise: Compromised ($ver)"
	expect_eq "$(lab_pyclient main get-state "$uid" | lab_json state)" "COMPROMISED" "PyKMIP agrees: Compromised ($ver)"
	K key destroy "$uid" || fail "destroy ($ver)"
	expect_rc 4 "destroyed key: show exits 4 ($ver)" K key show "$uid"

	# Storage array / SED: Register Secret Data (Password) with Name and Object
	# Group, Locate by Object Group, Get, Destroy.
	head -c 32 /dev/urandom >"$LAB_TMP/secret.bin"
	shex=$(xxd -p -c 64 "$LAB_TMP/secret.bin")
	sid=$(K key register --type secret --secret-file "$LAB_TMP/secret.bin" \
		--name "sed-$ver" --object-group "array-$ver" --activate) || fail "register ($ver)"
	expect_eq "$(K key locate --object-group "array-$ver")" "$sid" "locate by object group finds the secret ($ver)"
	expect_eq "$(K key locate --object-group "array-$ver" --state active --type secret-data)" "$sid" \
		"locate by group, state and type ($ver)"
	expect_eq "$(K key locate --object-group "no-such-group-$ver")" "" "locate of an empty group is empty ($ver)"
	expect_eq "$(K key get "$sid" --show-secret --json | lab_json material)" "$shex" \
		"kmipcrypt gets back the registered secret ($ver)"
	expect_eq "$(lab_pyclient main get "$sid" | lab_json hex)" "$shex" \
		"PyKMIP reads the secret kmipcrypt registered ($ver)"
	expect_eq "$(K key show "$sid" --json | lab_json object_type)" "Secret Data" "object type Secret Data ($ver)"
	expect_rc 4 "an Active secret cannot be destroyed ($ver)" K key destroy "$sid"
	K key destroy "$sid" --revoke || fail "destroy --revoke ($ver)"
	expect_eq "$(K key locate --object-group "array-$ver")" "" "destroyed secret no longer located ($ver)"

	# Get with Key Wrapping Specification (NIST AES key wrap) and local unwrap.
	head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
	kek=$(K key register --type aes --secret-file "$LAB_TMP/kek.bin" --name "kek-$ver" --activate) ||
		fail "register KEK ($ver)"
	did=$(K key create --name "data-$ver") || fail "create data key ($ver)"
	plain=$(lab_pyclient main get "$did" | lab_json hex)
	expect_eq "$(K key get "$did" --wrap-key "$kek" --json | lab_json wrapped)" "true" \
		"server wrapped the key ($ver)"
	wrapped=$(K key get "$did" --wrap-key "$kek" --json | lab_json wrapped_material)
	expect_eq "${#wrapped}" "80" "wrapped AES-256 key is 40 bytes ($ver)"
	expect_eq "$(K key get "$did" --wrap-key "$kek" --kek-file "$LAB_TMP/kek.bin" --show-secret --json |
		lab_json material)" "$plain" "unwrapped locally, equal to the key ($ver)"
	head -c 32 /dev/urandom >"$LAB_TMP/wrong-kek.bin"
	expect_rc 6 "a wrong local KEK fails the integrity check ($ver)" \
		K key get "$did" --wrap-key "$kek" --kek-file "$LAB_TMP/wrong-kek.bin"

	# PyKMIP -> kmipcrypt: a key PyKMIP registered with known bytes.
	khex=$(head -c 32 /dev/urandom | xxd -p -c 64)
	pid=$(lab_pyclient main register-key --hex "$khex" --name "py-$ver" | lab_json uid)
	lab_pyclient main activate "$pid" >/dev/null
	expect_eq "$(K key get "$pid" --show-secret --json | lab_json material)" "$khex" \
		"kmipcrypt reads PyKMIP's key byte for byte ($ver)"
	expect_eq "$(K key list --name "py-$ver" --json | json_uids)" \
		"$pid" "list by name finds PyKMIP's key ($ver)"
done

# Another owner's key: PyKMIP keys objects by the client certificate's CN.
lab_config "$LAB_TMP/other.conf" "$port" client=other
uid=$("$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key create --name owned)
expect_rc 4 "another owner's key: permission denied, exit 4" \
	"$KMIPCRYPT" -c "$LAB_TMP/other.conf" key get "$uid"
expect_grep "Permission Denied" "the error names the reason" \
	"$KMIPCRYPT" -c "$LAB_TMP/other.conf" key get "$uid"

# The list table names its columns and shows the key.
expect_grep "^ID .*Name .*Type .*Alg/Len .*State" "list prints a table header" \
	"$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key list
expect_grep "owned .*Symmetric Key .*AES/256 .*Active" "list shows name, type, algorithm, state" \
	"$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key list

# Usage errors: exit 1, before any network traffic.
expect_rc 1 "unknown verb" "$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key frobnicate
expect_rc 1 "missing UID" "$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key show
expect_rc 1 "bad reason" "$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key revoke 1 --reason bored
expect_rc 1 "missing config file" "$KMIPCRYPT" -c "$LAB_TMP/none.conf" key list
expect_rc 0 "key --help" "$KMIPCRYPT" key --help

# Secrets never reach the terminal unasked: a plain get shows a fingerprint only.
sid=$("$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key register --type secret \
	--secret-file "$LAB_TMP/secret.bin" --activate)
expect_nogrep "$(xxd -p -c 64 "$LAB_TMP/secret.bin")" "get without --show-secret hides the secret" \
	"$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" key get "$sid"
pass
