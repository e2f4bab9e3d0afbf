#!/bin/bash
# kmipcrypt key rekey against three real PyKMIP servers: PyKMIP as it is (no
# Re-key, no Link: the Create fallback), PyKMIP with the Link attribute
# (--change link: the fallback, linked by Add Attribute), and PyKMIP with the
# Re-key operation (--change rekey: tests/lab/pykmip-changed.py).  Every
# result is checked with PyKMIP's own client as well (tests/lab/pyclient.py).
. "$(dirname "$0")/common.sh"

for s in plain link rekey; do
	case $s in
	plain) port=$(lab_server_start $s) ;;
	*) port=$(lab_server_start $s --change $s) ;;
	esac
	[ -n "$port" ] || fail "PyKMIP ($s) did not start"
	for ver in auto 1.2 2.0; do
		lab_config "$LAB_TMP/$s-$ver.conf" "$port" kmip_version=$ver timeout_ms=5000
	done
done

# K SERVER [VERSION] ARGS...: kmipcrypt against that server.
K() { local s=$1; shift; "$KMIPCRYPT" -c "$LAB_TMP/$s-auto.conf" "$@"; }
KV() { local s=$1 v=$2; shift 2; "$KMIPCRYPT" -c "$LAB_TMP/$s-$v.conf" "$@"; }
P() { local s=$1; shift; lab_pyclient "$s" "$@"; }
# One attribute as PyKMIP's client reads it (a list one value a line, a Link as JSON).
pattr() {
	P "$1" get-attributes "$2" | "$LAB_PY" -c '
import json, sys
v = json.load(sys.stdin)["attributes"].get(sys.argv[1])
if v is None:
    sys.exit(0)
for x in (v if isinstance(v, list) else [v]):
    print(json.dumps(x, sort_keys=True) if isinstance(x, dict) else x)' "$3"
}
link_json() { printf '{"type": "%s", "uid": "%s"}' "$1" "$2"; }
count_objects() { P "$1" locate | lab_json uids | grep -c .; }
stem='-r[0-9]{8}T[0-9]{6}Z$'

# ---------------------------------------------------------------- usage
expect_rc 1 "key rekey needs a UID" K plain key rekey
expect_rc 1 "--revoke-old is for key rekey" K plain key create --revoke-old
expect_rc 1 "--force alone is refused" K plain key rekey 1 --force
expect_rc 1 "--message without --revoke-old is refused" K plain key rekey 1 --message m
expect_grep -- "--revoke-old" "key --help shows rekey and --revoke-old" K plain key --help

# ================================================ PyKMIP as it is: fallback
echo "--- PyKMIP 0.10 unchanged"
expect_grep '"message": "Rekey operation is not supported by the server."' \
	"PyKMIP answers Re-key (its own client) with Operation Not Supported" \
	P plain rekey "$(P plain create --activate | lab_json uid)"
grep -q '"reason": "OPERATION_NOT_SUPPORTED"' "$LAB_TMP/out" || fail "not Operation Not Supported"
expect_nogrep 'REKEY|ADD_ATTRIBUTE' "its Query lists neither Re-key nor Add Attribute" P plain query

old=$(K plain key create --name db-master --object-group appA --bits 128) || fail "create"
K plain key rekey "$old" --json >"$LAB_TMP/rk.json" 2>"$LAB_TMP/rk.err" || fail "rekey: $(cat "$LAB_TMP/rk.err")"
new=$(lab_json uid <"$LAB_TMP/rk.json")
expect_eq "$(lab_json method <"$LAB_TMP/rk.json")" "create" "no Re-key offered: the fallback creates"
expect_eq "$(lab_json old_uid <"$LAB_TMP/rk.json")" "$old" "the JSON names the old key"
expect_eq "$(lab_json state <"$LAB_TMP/rk.json")" "Active" "the new key is Active like the old"
expect_eq "$(lab_json linked <"$LAB_TMP/rk.json")" "false" "not linked: PyKMIP keeps no links"
lab_json link_error <"$LAB_TMP/rk.json" | grep -q "Invalid Message" ||
	fail "the link error does not quote PyKMIP's answer: $(cat "$LAB_TMP/rk.json")"
echo "ok ... and says why (PyKMIP cannot read Add Attribute: Invalid Message)"
expect_eq "$(lab_json old_revoked <"$LAB_TMP/rk.json")" "false" "the old key is not revoked unless asked"
[ "$new" != "$old" ] || fail "the same identifier"
expect_eq "$(pattr plain "$new" "Cryptographic Algorithm")" "AES" "PyKMIP: the new key is AES"
expect_eq "$(pattr plain "$new" "Cryptographic Length")" "128" "PyKMIP: of the old key's length"
expect_eq "$(pattr plain "$new" "Cryptographic Usage Mask")" "$(pattr plain "$old" "Cryptographic Usage Mask")" \
	"PyKMIP: with the old key's usage mask"
expect_eq "$(pattr plain "$new" "Object Group")" "appA" "PyKMIP: in the old key's Object Group"
pattr plain "$new" Name | grep -qE "^db-master$stem" || fail "new name: $(pattr plain "$new" Name)"
echo "ok PyKMIP: named db-master-rTIME"
expect_eq "$(pattr plain "$old" Name)" "db-master" "the old key keeps its Name"
expect_eq "$(P plain get-state "$new" | lab_json state)" "ACTIVE" "PyKMIP: the new key is Active"
expect_eq "$(P plain get-state "$old" | lab_json state)" "ACTIVE" "PyKMIP: the old key is still Active"
[ "$(P plain get "$new" | lab_json hex)" != "$(P plain get "$old" | lab_json hex)" ] ||
	fail "the new key has the old key's material"
echo "ok PyKMIP: new key material"

# text output: the identifier alone on stdout
new2=$(K plain key rekey "$new" --name db-master-2027) || fail "rekey --name"
expect_eq "$(pattr plain "$new2" Name)" "db-master-2027" "--name names the new key"
expect_eq "$(printf '%s\n' "$new2" | wc -l)" "1" "stdout is the new identifier alone"

pre=$(K plain key create --name later --no-activate) || fail "create pre-active"
pnew=$(K plain key rekey "$pre") || fail "rekey a Pre-Active key"
expect_eq "$(P plain get-state "$pnew" | lab_json state)" "PRE_ACTIVE" "a Pre-Active key's replacement is Pre-Active"
# --revoke-old on a key PyKMIP will not revoke (Pre-Active): the new key is still told
K plain key rekey "$pre" --revoke-old >"$LAB_TMP/o" 2>"$LAB_TMP/e"
rc=$?
expect_eq "$rc" "4" "--revoke-old of a Pre-Active key: PyKMIP refuses the revocation, exit 4"
[ -n "$(cat "$LAB_TMP/o")" ] && grep -q "is not revoked: revoke it with 'kmipcrypt key revoke $pre --reason superseded'" \
	"$LAB_TMP/e" || fail "no new uid or no advice: $(cat "$LAB_TMP/o" "$LAB_TMP/e")"
echo "ok ... the new key is printed, and what to do about the old one said"

rv=$(K plain key create --name to-retire) || fail "create"
rvnew=$(K plain key rekey "$rv" --revoke-old) || fail "rekey --revoke-old"
expect_eq "$(P plain get-state "$rv" | lab_json state)" "DEACTIVATED" "--revoke-old: PyKMIP sees the old key Deactivated"
expect_eq "$(P plain get-state "$rvnew" | lab_json state)" "ACTIVE" "... and the new one Active"

# a key that looks like a volume's: no revocation without --force
vk=$(K plain key create --name "kmipcrypt-0b6f2a58-9d56-4a5e-9c2e-1f7e0c1d2a3b-envelope") || fail "create"
n0=$(count_objects plain)
expect_rc 1 "--revoke-old of a key that looks like a volume's is refused" K plain key rekey "$vk" --revoke-old
grep -q "looks like a volume's key.*kmipcrypt rekey DEVICE.*--force" "$LAB_TMP/out" || fail "message"
expect_eq "$(count_objects plain)" "$n0" "... before anything is made"
expect_eq "$(P plain get-state "$vk" | lab_json state)" "ACTIVE" "... and the key is left Active"
expect_grep "looks like a volume's key .*the volume still names it" \
	"without --revoke-old: made, with a warning" K plain key rekey "$vk"
gk=$(K plain key create --object-group kmipcrypt) || fail "create in group kmipcrypt"
expect_rc 1 "... also by its Object Group (enroll's)" K plain key rekey "$gk" --revoke-old
expect_rc 0 "--force revokes it" K plain key rekey "$vk" --revoke-old --force
expect_eq "$(P plain get-state "$vk" | lab_json state)" "DEACTIVATED" "... Deactivated"

sec=$(K plain key register --type secret --generate 32 --activate) || fail "register secret"
n0=$(count_objects plain)
expect_rc 4 "Secret Data is not re-keyed (exit 4)" K plain key rekey "$sec"
grep -q "is a Secret Data, not a Symmetric Key" "$LAB_TMP/out" || fail "message: $(cat "$LAB_TMP/out")"
expect_eq "$(count_objects plain)" "$n0" "... nothing made"
expect_rc 4 "an unknown key: exit 4" K plain key rekey 999999

# ================================================ PyKMIP with Link: fallback, linked
echo "--- PyKMIP with the Link attribute (Add Attribute)"
expect_grep 'ADD_ATTRIBUTE' "Query lists Add Attribute" P link query
expect_nogrep 'REKEY' "... not Re-key" P link query
for ver in 1.2 2.0; do
	old=$(KV link $ver key create --name "lk-$ver") || fail "create ($ver)"
	KV link $ver key rekey "$old" --json >"$LAB_TMP/rk.json" || fail "rekey ($ver)"
	new=$(lab_json uid <"$LAB_TMP/rk.json")
	expect_eq "$(lab_json method <"$LAB_TMP/rk.json")" "create" "fallback ($ver)"
	expect_eq "$(lab_json linked <"$LAB_TMP/rk.json")" "true" "linked by Add Attribute ($ver)"
	expect_eq "$(KV link $ver key show "$old" --json | lab_json replacement)" "$new" \
		"kmipcrypt reads the old key's Replacement Object ($ver)"
	expect_eq "$(KV link $ver key show "$new" --json | lab_json replaced)" "$old" \
		"... and the new key's Replaced Object ($ver)"
	expect_eq "$(pattr link "$old" Link)" "$(link_json REPLACEMENT_OBJECT_LINK "$new")" \
		"PyKMIP's client reads the same link on the old key ($ver)"
	expect_eq "$(pattr link "$new" Link)" "$(link_json REPLACED_OBJECT_LINK "$old")" \
		"... and on the new key ($ver)"
done
adds=$(grep -c "Processing operation: AddAttribute" "$(lab_server_log link)")
expect_eq "$adds" "4" "two links a rekey, one Add Attribute each"
n0=$(count_objects link)
expect_rc 1 "a key that has a replacement is not re-keyed again" K link key rekey "$old"
grep -q "has been replaced already, by key '$new' (Active): re-key that one" "$LAB_TMP/out" || fail "message"
expect_eq "$(count_objects link)" "$n0" "... nothing made"
# its replacement taken back (revoked, destroyed): the key can be re-keyed again
K link key destroy "$new" --revoke || fail "destroy the replacement"
new3=$(K link key rekey "$old") || fail "rekey after the replacement was destroyed"
expect_eq "$(K link key show "$old" --json | lab_json replacement)" "$new3" \
	"a destroyed replacement does not count: re-keyed and linked again"

# ================================================ PyKMIP with Re-key
echo "--- PyKMIP with the Re-key operation"
expect_grep 'REKEY' "Query lists Re-key" P rekey query
for ver in 1.2 2.0; do
	old=$(KV rekey $ver key create --name "db-$ver" --object-group appB --bits 192) || fail "create ($ver)"
	KV rekey $ver key rekey "$old" --name "extra-$ver" --json >"$LAB_TMP/rk.json" || fail "rekey ($ver)"
	new=$(lab_json uid <"$LAB_TMP/rk.json")
	expect_eq "$(lab_json method <"$LAB_TMP/rk.json")" "rekey" "the server's Re-key is used ($ver)"
	expect_eq "$(lab_json state <"$LAB_TMP/rk.json")" "Active" "the replacement is Active ($ver)"
	expect_eq "$(lab_json linked <"$LAB_TMP/rk.json")" "true" "linked ($ver)"
	expect_eq "$(pattr rekey "$new" Name | sort | tr '\n' ' ')" "db-$ver extra-$ver " \
		"PyKMIP: the Names moved to the replacement, --name added ($ver)"
	expect_eq "$(pattr rekey "$old" Name)" "" "PyKMIP: the old key has no Name left ($ver)"
	expect_eq "$(pattr rekey "$new" "Cryptographic Length")" "192" "PyKMIP: same length ($ver)"
	expect_eq "$(pattr rekey "$new" "Object Group")" "appB" "PyKMIP: same Object Group ($ver)"
	expect_eq "$(pattr rekey "$old" Link)" "$(link_json REPLACEMENT_OBJECT_LINK "$new")" \
		"PyKMIP: the server linked the old key ($ver)"
	expect_eq "$(KV rekey $ver key show "$new" --json | lab_json replaced)" "$old" \
		"kmipcrypt: the new key's Replaced Object ($ver)"
	[ "$(P rekey get "$new" | lab_json hex)" != "$(P rekey get "$old" | lab_json hex)" ] ||
		fail "same material ($ver)"
	echo "ok PyKMIP: new key material ($ver)"
done
expect_eq "$(grep -c "Processing operation: Rekey" "$(lab_server_log rekey)")" "2" "two Re-key requests"
expect_eq "$(grep -c "Processing operation: AddAttribute" "$(lab_server_log rekey)")" "0" \
	"the server's links found: no Add Attribute sent"
# PyKMIP's own client re-keys the key kmipcrypt's Re-key made, and kmipcrypt reads the chain
n2=$(P rekey rekey "$new" | lab_json uid) || fail "PyKMIP's client: rekey"
expect_eq "$(K rekey key show "$n2" --json | lab_json replaced)" "$new" "kmipcrypt reads the link PyKMIP's Re-key made"
expect_eq "$(P rekey rekey "$new" | lab_json reason)" "ILLEGAL_OPERATION" \
	"the server refuses a second Re-key of one key (one replacement)"
n0=$(count_objects rekey)
expect_rc 1 "kmipcrypt does not even ask" K rekey key rekey "$new"
expect_eq "$(count_objects rekey)" "$n0" "... nothing made"
pre=$(K rekey key create --no-activate) || fail "create"
pnew=$(K rekey key rekey "$pre") || fail "rekey a Pre-Active key"
expect_eq "$(P rekey get-state "$pnew" | lab_json state)" "PRE_ACTIVE" "Re-key of a Pre-Active key: Pre-Active"
ofs=$(K rekey key create) || fail "create"
expect_eq "$(P rekey get-state "$(P rekey rekey "$ofs" --offset 3600 | lab_json uid)" | lab_json state)" \
	"PRE_ACTIVE" "Re-key with an Offset: activation ahead, Pre-Active"
rv=$(K rekey key create --name retire) || fail "create"
K rekey key rekey "$rv" --revoke-old --message "rotated in 2026" >/dev/null || fail "rekey --revoke-old --message"
expect_eq "$(P rekey get-state "$rv" | lab_json state)" "DEACTIVATED" "--revoke-old after Re-key: Deactivated"
expect_rc 4 "Secret Data: refused before Re-key is asked" K rekey key rekey \
	"$(K rekey key register --type secret --generate 16)"
# 2 + PyKMIP's client's 2 + Pre-Active, Offset, --revoke-old: none for the refusals
expect_eq "$(grep -c "Processing operation: Rekey" "$(lab_server_log rekey)")" "7" \
	"Re-key sent only where it could succeed"

pass
