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
	# A KEK file is a secret: for its owner only, as unlock wants it.
	(umask 077 && head -c 32 /dev/urandom >"$LAB_TMP/kek.bin")
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
	(umask 077 && head -c 32 /dev/urandom >"$LAB_TMP/wrong-kek.bin")
	expect_rc 6 "a wrong local KEK fails the integrity check ($ver)" \
		K key get "$did" --wrap-key "$kek" --kek-file "$LAB_TMP/wrong-kek.bin"
	# --kek-file is read as unlock reads it (one reader): a secret file of 16, 24 or 32 bytes.
	chmod 644 "$LAB_TMP/kek.bin"
	expect_rc 1 "a KEK file readable by all is refused ($ver)" \
		K key get "$did" --wrap-key "$kek" --kek-file "$LAB_TMP/kek.bin" --show-secret
	grep -qF "run 'chmod 600 $LAB_TMP/kek.bin'" "$LAB_TMP/out" || fail "no chmod advice: $(cat "$LAB_TMP/out")"
	! grep -q "material" "$LAB_TMP/out" || fail "a refused KEK file still unwrapped the key"
	echo "ok ... and says to run chmod 600 ($ver)"
	chmod 600 "$LAB_TMP/kek.bin"
	(umask 077 && head -c 20 /dev/urandom >"$LAB_TMP/short-kek.bin")
	expect_rc 1 "a KEK file of 20 bytes is refused before asking the server ($ver)" \
		K key get "$did" --wrap-key "$kek" --kek-file "$LAB_TMP/short-kek.bin"
	grep -qF "$LAB_TMP/short-kek.bin: 20 bytes; a key-encryption key is 16, 24 or 32 raw bytes" \
		"$LAB_TMP/out" || fail "no size message: $(cat "$LAB_TMP/out")"
	echo "ok ... and says what a KEK file holds ($ver)"

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

# ------------------------------------------------- hostile names from the KMS
# Another client (PyKMIP's own) names objects with control characters: ESC [2J
# (clear screen), an OSC title change ending in BEL, a line break, DEL and a
# backslash.  kmipcrypt must print them escaped, one line per value, and never
# a raw control byte (C0, DEL, or the C2 80..C2 9F of a C1 control).  PyKMIP
# encodes Text Strings one byte per character (ASCII only), so the C1 controls
# come from the scripted server below.
A() { "$KMIPCRYPT" -c "$LAB_TMP/kmipcrypt-auto.conf" "$@"; }
hostile_hex=$(printf 'evil\033[2J\033]0;owned\007\nline2\177back\\slash' | xxd -p -c 256)
hid=$(lab_pyclient main register-key --hex "$(head -c 32 /dev/urandom | xxd -p -c 64)" \
	--name-hex "$hostile_hex" --group hostile-names | lab_json uid)
[ -n "$hid" ] || fail "PyKMIP could not register the hostile name"
# raw_controls: the control bytes in stdin, in od's notation (empty: none).
raw_controls() {
	od -An -v -tx1 | tr -s ' ' '\n' | grep -v '^$' |
		awk 'prev == "c2" && $1 ~ /^[89]/ { print "c2 " $1 } { prev = $1 }
		     $1 ~ /^[01]/ && $1 != "0a" { print } $1 == "7f" { print }'
}
want_escaped='evil\x1b[2J\x1b]0;owned\x07\x0aline2\x7fback\\slash'
for how in "show $hid" "list --object-group hostile-names" "locate --object-group hostile-names"; do
	A key $how >"$LAB_TMP/hostile.out" 2>&1 || fail "key $how exits $?"
	od -c "$LAB_TMP/hostile.out" | sed 's/^/    | /'
	expect_eq "$(raw_controls <"$LAB_TMP/hostile.out")" "" "key $how: no raw control byte reaches the terminal (od)"
done
expect_eq "$(A key show "$hid" | sed -n 's/^Name  *//p')" "$want_escaped" \
	"key show prints the Name on one line, each control byte as \\xNN, backslash as \\\\"
expect_eq "$(A key list --object-group hostile-names | grep -c .)" "2" \
	"key list: the header and one line for the object"
expect_eq "$(A key list --object-group hostile-names | awk 'NR == 2 { print $2 }')" "$want_escaped" \
	"key list prints the escaped Name in its column"
# JSON: json-c escapes C0; DEL and C1 escaped too, and the Name reads back exact.
for how in "show $hid" "list --object-group hostile-names"; do
	A key $how --json >"$LAB_TMP/hostile.json" || fail "key $how --json"
	expect_eq "$(raw_controls <"$LAB_TMP/hostile.json")" "" "key $how --json: no raw control byte (DEL, C1 as \\u00XX)"
	got=$("$LAB_PY" -c 'import json, sys
o = json.load(open(sys.argv[1]))
o = o[0] if isinstance(o, list) else o
sys.stdout.write(o["names"][0].encode("utf-8").hex())' "$LAB_TMP/hostile.json")
	expect_eq "$got" "$hostile_hex" "key $how --json: the Name decodes to the server's exact bytes"
done

# C1 controls (the 8-bit CSI U+009B, NEL U+0085: UTF-8 C2 9B, C2 85), an
# escape in the Unique Identifier and a Name with other UTF-8, from a
# scripted server (KMIP 1.2 pinned: one request per command).
# ttlv_hex SPEC: TTLV from a Python expression of s(tag, items...),
# txt(tag, str), i32(tag, n), en(tag, n), dt(tag, n).
ttlv_hex() {
	"$LAB_PY" -c 'import struct, sys
def item(tag, typ, v):
    return bytes.fromhex(tag) + bytes([typ]) + struct.pack(">I", len(v)) + v + b"\0" * ((8 - len(v) % 8) % 8)
def s(tag, *c): return item(tag, 1, b"".join(c))
def i32(tag, n): return item(tag, 2, struct.pack(">i", n))
def en(tag, n): return item(tag, 5, struct.pack(">I", n))
def dt(tag, n): return item(tag, 9, struct.pack(">q", n))
def txt(tag, t): return item(tag, 7, t.encode("utf-8"))
def attr(name, value): return s("420008", txt("42000A", name), value)
def resp(op, *payload):
    return s("42007B", s("42007A", s("420069", i32("42006A", 1), i32("42006B", 2)), dt("420092", 1795426363), i32("42000D", 1)),
             s("42000F", en("42005C", op), en("42007F", 0), s("42007C", *payload)))
print(eval(sys.argv[1]).hex())' "$1"
}
c1_uid=$(printf 'id\033[2J')
c1_name=$(printf 'c1\302\2332J\302\205nel \303\274')
getattr_hex=$(ttlv_hex "resp(0x0B, txt('420094', 'id\x1b[2J'),
	attr('Name', s('42000B', txt('420055', 'c1\u009b2J\u0085nel \u00fc'), en('420054', 1))),
	attr('Object Group', txt('42000B', 'del\x7fgroup')), attr('State', en('42000B', 1)))")
locate_hex=$(ttlv_hex "resp(0x08, txt('420094', 'id\x1b[2J'))")
fport=$(lab_fake_start c1-show --mode reply --hex "$getattr_hex")
lab_config "$LAB_TMP/fake-show.conf" "$fport" kmip_version=1.2 timeout_ms=5000
fport=$(lab_fake_start c1-list --mode reply --hex "$locate_hex" --hex "$getattr_hex")
lab_config "$LAB_TMP/fake-list.conf" "$fport" kmip_version=1.2 timeout_ms=5000
"$KMIPCRYPT" -c "$LAB_TMP/fake-show.conf" key show "$c1_uid" >"$LAB_TMP/c1.out" 2>&1 || fail "key show (scripted server)"
"$KMIPCRYPT" -c "$LAB_TMP/fake-list.conf" key list >>"$LAB_TMP/c1.out" 2>&1 || fail "key list (scripted server)"
od -c "$LAB_TMP/c1.out" | sed 's/^/    | /'
expect_eq "$(raw_controls <"$LAB_TMP/c1.out")" "" "C1 controls from the server: no raw control byte in key show and key list (od)"
expect_eq "$(sed -n 's/^Name  *//p' "$LAB_TMP/c1.out")" "$(printf 'c1\\xc2\\x9b2J\\xc2\\x85nel \303\274')" \
	"key show: C1 as \\xc2\\xNN, other UTF-8 as it is"
expect_eq "$(sed -n 's/^Unique Identifier  *//p' "$LAB_TMP/c1.out")" 'id\x1b[2J' "key show: the Unique Identifier escaped too"
expect_eq "$(sed -n 's/^Object Group  *//p' "$LAB_TMP/c1.out")" 'del\x7fgroup' "key show: the Object Group escaped too"
expect_eq "$(awk 'NR > 1 && /^id/ { print $1 }' "$LAB_TMP/c1.out")" 'id\x1b[2J' "key list: the identifier escaped"
"$KMIPCRYPT" -c "$LAB_TMP/fake-show.conf" key show "$c1_uid" --json >"$LAB_TMP/c1.json" || fail "key show --json (scripted server)"
expect_eq "$(raw_controls <"$LAB_TMP/c1.json")" "" "key show --json: C1 and DEL as \\u00XX, no raw control byte"
expect_eq "$("$LAB_PY" -c 'import json, sys; o = json.load(open(sys.argv[1])); print(o["uid"] == sys.argv[2] and o["names"] == [sys.argv[3]] and o["object_groups"] == ["del\x7fgroup"])' \
	"$LAB_TMP/c1.json" "$c1_uid" "$c1_name")" "True" "key show --json: every value decodes to the server's exact text"

# The same rule for values from a disk: libcryptsetup accepts a LUKS2 header
# whose UUID holds ESC [2J (checksums recomputed here), and kmipcrypt status
# prints the UUID escaped (text), or exact with no raw control byte (JSON).
truncate -s 16M "$LAB_TMP/esc.img"
printf 'pw' >"$LAB_TMP/esc.pw"
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	"$LAB_TMP/esc.img" "$LAB_TMP/esc.pw" >/dev/null || fail "luksFormat"
"$LAB_PY" -c 'import hashlib, struct, sys
with open(sys.argv[1], "r+b") as f:
    d = bytearray(f.read(1 << 20))
    size = struct.unpack(">Q", d[8:16])[0]
    for off in (0, size):          # primary and secondary binary header
        h = d[off:off + size]
        h[168:177] = b"ab\x1b[2Jcd-"   # the first 9 bytes of the UUID field
        h[448:512] = bytes(64)        # checksum over the header with the field zeroed
        h[448:480] = hashlib.sha256(h).digest()
        d[off:off + size] = h
    f.seek(0)
    f.write(d)' "$LAB_TMP/esc.img" || fail "patching the header UUID"
cryptsetup --disable-external-tokens luksDump "$LAB_TMP/esc.img" | grep -q "$(printf '\033')" ||
	fail "libcryptsetup does not take the edited UUID: the test proves nothing"
A status "$LAB_TMP/esc.img" >"$LAB_TMP/esc.out" 2>/dev/null
od -c "$LAB_TMP/esc.out" | sed 's/^/    | /'
expect_eq "$(raw_controls <"$LAB_TMP/esc.out")" "" "status: a header UUID with ESC [2J reaches no terminal raw (od)"
grep -qF 'uuid:    ab\x1b[2Jcd-' "$LAB_TMP/esc.out" || fail "status does not print the UUID escaped"
echo "ok status prints the header's UUID escaped"
A status --json "$LAB_TMP/esc.img" >"$LAB_TMP/esc.json" 2>/dev/null
expect_eq "$(raw_controls <"$LAB_TMP/esc.json")" "" "status --json: no raw control byte"
expect_eq "$("$LAB_PY" -c 'import json, sys; print(repr(json.load(open(sys.argv[1]))[0]["uuid"][:9]))' "$LAB_TMP/esc.json")" \
	"'ab\x1b[2Jcd-'" "status --json: the UUID exact"

# What kmipcrypt stores is printable: controls and invalid UTF-8 refused in
# --name, --object-group (create, register) and --message (revoke), exit 1,
# before any request; printable UTF-8 and backslashes are fine.
for bad in "$(printf 'a\033[2J')" "$(printf 'tab\there')" "$(printf 'del\177')" \
	   "$(printf 'csi\302\233')" "$(printf 'bad\377utf8')" ""; do
	shown=$(printf '%s' "$bad" | od -An -c | tr -s ' ')
	expect_rc 1 "key create --name '$shown' refused" A key create --name "$bad"
	expect_rc 1 "key register --object-group '$shown' refused" \
		A key register --type secret --generate 32 --object-group "$bad"
	expect_rc 1 "key revoke --message '$shown' refused" A key revoke "$hid" --message "$bad"
done
expect_grep "holds a control character or invalid UTF-8" "the refusal says why" \
	A key create --name "$(printf 'a\033[2J')"
expect_eq "$(A key show "$hid" --json | lab_json state)" "Pre-Active" "refused revoke sent nothing"
# (PyKMIP takes ASCII Text Strings only: other UTF-8 is in the unit test.)
pid=$(A key create --name 'back\slash ~ ok' --object-group printable) ||
	fail "a printable name with a backslash is refused"
echo "ok a printable name with a backslash is accepted"
expect_eq "$(A key show "$pid" | sed -n 's/^Name  *//p')" 'back\\slash ~ ok' \
	"printable text prints as it is, the backslash doubled"

# ------------------------------------------- objects an enroll left behind
# enroll registers its object Pre-Active in Object Group kmipcrypt and
# activates it only after the token is written: such an object unlocks no
# volume, and key list marks it with what to do about it.
lid=$(A key register --type secret --generate 32 --object-group kmipcrypt --name leftover) ||
	fail "register a Pre-Active secret in group kmipcrypt"
aid=$(A key register --type secret --generate 32 --object-group kmipcrypt --name bound --activate) ||
	fail "register an Active secret in group kmipcrypt"
oid=$(A key create --object-group elsewhere --name other-pre --no-activate) ||
	fail "create a Pre-Active key in another group"
A key list >"$LAB_TMP/list.out" || fail "key list"
sed 's/^/    | /' "$LAB_TMP/list.out"
grep -F "$lid " "$LAB_TMP/list.out" | grep -qF "unbound: an enroll did not finish (no volume unlocks with it); remove it with 'kmipcrypt key destroy $lid'" ||
	fail "key list does not mark the Pre-Active object of group kmipcrypt as unbound"
echo "ok key list marks a Pre-Active object of group kmipcrypt unbound, with the command that removes it"
! grep -F "$aid " "$LAB_TMP/list.out" | grep -q unbound || fail "an Active object is marked unbound"
! grep -F "$oid " "$LAB_TMP/list.out" | grep -q unbound || fail "a Pre-Active object of another group is marked unbound"
echo "ok Active objects and other groups' Pre-Active objects are not marked"
expect_grep "^Note +unbound: an enroll did not finish" "key show marks it too" A key show "$lid"
unb() { A key list --object-group kmipcrypt --json | "$LAB_PY" -c 'import json, sys
print(" ".join("%s=%s" % (o["uid"], str(o["unbound"]).lower()) for o in json.load(sys.stdin)))'; }
expect_eq "$(unb)" "$lid=true $aid=false" "key list --json: \"unbound\": true for the leftover only"
expect_eq "$(A key show "$oid" --json | lab_json unbound)" "false" "key show --json: \"unbound\": false elsewhere"
# The command the mark gives removes it.
A key destroy "$lid" || fail "key destroy of the unbound object"
expect_eq "$(A key list --object-group kmipcrypt --json | json_uids)" "$aid" "the leftover is gone after the command the mark names"

# --passphrase is for get only; for a key (not Secret Data) it says what to do.
expect_rc 1 "--passphrase with another verb" A key show "$aid" --passphrase
expect_rc 4 "key get --passphrase of a Symmetric Key: exit 4" A key get "$pid" --passphrase
expect_grep "recovered with 'kmipcrypt unlock DEVICE'" "and names the recovery that applies" \
	A key get "$pid" --passphrase
pass
