#!/bin/bash
# Each host's KMS objects in an Object Group of their own (issue 9: the one
# Locate per group that kmipcryptd asks), against the real PyKMIP server:
#   - enroll with no option puts the object in "kmipcrypt-" + the first 16
#     hex digits of this machine's app-specific machine ID (the value is
#     computed here independently, and with systemd-id128 where it exists);
#     PyKMIP's own client finds the object there; the token records the
#     group ("object_group"), status shows it (text and --json); an envelope
#     key lands there too once its enroll has finished;
#   - object_group in kmipcrypt.conf overrides the default, --object-group
#     overrides both; the group enroll reserves for unfinished envelope
#     enrolls is refused either way, before anything is created;
#   - key list marks Pre-Active objects of this host's group as left behind,
#     as it still does those of "kmipcrypt", the group of older versions;
#   - a token made before the member existed still unlocks and shows no
#     group; a token with a hostile object_group is refused.
# Without a usable /etc/machine-id the default is "kmipcrypt", with a warning
# naming the file: the test checks whichever this machine has (it never
# writes /etc/machine-id).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

APP_ID=e3073266823a4e0ba3391372663a44a6

luks_lab

# server_groups UID: the Object Group(s) PyKMIP holds for UID, one per line
server_groups() {
	lab_pyclient main get-attributes "$1" | "$LAB_PY" -c 'import json, sys
v = json.load(sys.stdin)["attributes"].get("Object Group")
print("\n".join(v if isinstance(v, list) else [] if v is None else [v]))'
}
# status_json_field IMG FIELD: FIELD of token 0 in `status --json`
status_json_field() {
	K status "$1" --json | "$LAB_PY" -c 'import json, sys
v = json.load(sys.stdin)[0]["tokens"][0][sys.argv[1]]
print("null" if v is None else v)' "$2"
}

# ------------------------------------------------ the default: this host's group
mid=$(cat /etc/machine-id 2>/dev/null)
if [[ $mid =~ ^[0-9a-f]{32}$ && $mid != 00000000000000000000000000000000 ]]; then
	hg=kmipcrypt-$("$LAB_PY" -c 'import hmac, hashlib, sys
h = bytearray(hmac.new(bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]), hashlib.sha256).digest()[:16])
h[6] = (h[6] & 0x0f) | 0x40
h[8] = (h[8] & 0x3f) | 0x80
print(h.hex()[:16])' "$mid" "$APP_ID")
	echo "ok this machine's Object Group is $hg (HMAC-SHA256 of the app ID, keyed by /etc/machine-id)"
	if command -v systemd-id128 >/dev/null; then
		expect_eq "kmipcrypt-$(systemd-id128 machine-id --app-specific=$APP_ID | cut -c1-16)" "$hg" \
			"systemd-id128 machine-id --app-specific gives the same group"
	fi
	[[ $hg != *"${mid:0:8}"* ]] || fail "the group shows the machine ID itself"
	echo "ok the group does not show the machine ID (machine-id(5))"
	warn_re=^
else
	hg=kmipcrypt
	warn_re="/etc/machine-id: .*Object Group 'kmipcrypt' that every host shares"
	echo "ok no usable /etc/machine-id here: the default is 'kmipcrypt', with a warning"
fi

echo "--- enroll with no option"
img=$(newimg og-default)
expect_rc 0 "enroll with no --object-group" K enroll "$img" --key-file "$pass" --name og-default
expect_out "Object Group '$hg'\$" "enroll reports the Object Group"
expect_out "$warn_re" "a missing machine ID is said (or not: there is one)"
uid=$(uid_of "$img")
expect_eq "$(server_groups "$uid")" "$hg" "PyKMIP: the object is in this host's group"
expect_eq "$(lab_pyclient main locate --group "$hg" --name og-default | lab_json uids)" "$uid" \
	"PyKMIP's Locate by that Object Group finds it"
expect_eq "$(K key show "$uid" | sed -n 's/^Object Group  *//p')" "$hg" "key show: the Object Group"
expect_eq "$(token_json "$img" | json_field object_group)" "$hg" "the token records it (object_group)"
expect_eq "$(token_json "$img" | json_field kmip_version)" "1" "... in token format 1"
expect_grep "^    Object Group: $hg\$" "status shows it under the token" K status "$img"
expect_eq "$(status_json_field "$img" object_group)" "$hg" "status --json: object_group"
expect_rc 0 "and it unlocks (--test)" K unlock "$img" --test
def_img=$img

echo "--- envelope: in the host's group once the enroll has finished"
img=$(newimg og-envelope)
expect_rc 0 "enroll --kind envelope" K enroll "$img" --kind envelope --key-file "$pass" --name og-envelope
uid=$(uid_of "$img")
expect_eq "$(server_groups "$uid")" "$hg" "PyKMIP: the envelope key left kmipcrypt-enrolling for $hg"
expect_eq "$(token_json "$img" | json_field object_group)" "$hg" "the envelope token records it"
expect_eq "$(token_json "$img" | json_field kmip_version)" "2" "... in format 2 (AES-GCM)"

# ------------------------------------------------ configured, and on the command line
echo "--- object_group in kmipcrypt.conf"
# Blanks, '/' and '#' are text (PyKMIP takes ASCII Text Strings only; UTF-8: test_config.c).
conf_group='rack 7/hosts #2'
lab_config "$conf" "$port" timeout_ms=3000 "object_group=$conf_group"
img=$(newimg og-conf)
expect_rc 0 "enroll with object_group in the configuration" \
	K enroll "$img" --key-file "$pass" --name og-conf
uid=$(uid_of "$img")
expect_eq "$(server_groups "$uid")" "$conf_group" "PyKMIP: the object is in the configured group"
expect_eq "$(token_json "$img" | json_field object_group)" "$conf_group" "the token records it"
expect_grep "^    Object Group: $conf_group\$" "status shows it" K status "$img"

echo "--- --object-group"
img=$(newimg og-cli)
expect_rc 0 "enroll --object-group over the configuration" \
	K enroll "$img" --key-file "$pass" --name og-cli --object-group cli-group
uid=$(uid_of "$img")
expect_eq "$(server_groups "$uid")" "cli-group" "PyKMIP: the object is in the group of the option"
expect_eq "$(token_json "$img" | json_field object_group)" "cli-group" "the token records it"
expect_eq "$(status_json_field "$img" object_group)" "cli-group" "status --json shows it"

echo "--- the reserved group"
img=$(newimg og-reserved)
before=$(lab_pyclient main locate | lab_json uids | wc -l)
expect_rc 1 "--object-group kmipcrypt-enrolling: refused" \
	K enroll "$img" --key-file "$pass" --object-group kmipcrypt-enrolling
expect_out "'kmipcrypt-enrolling' is reserved" "... saying why"
lab_config "$conf" "$port" timeout_ms=3000 object_group=kmipcrypt-enrolling
expect_rc 1 "object_group = kmipcrypt-enrolling in the configuration: refused" \
	K enroll "$img" --key-file "$pass"
expect_out "$conf:[0-9]+: key 'object_group': 'kmipcrypt-enrolling' is reserved" \
	"... naming the file and line"
expect_eq "$(keyslots "$img")" "0 " "nothing was added to the volume"
expect_eq "$(lab_pyclient main locate | lab_json uids | wc -l)" "$before" "nothing was created on the KMS"
lab_config "$conf" "$port" timeout_ms=3000

# ------------------------------------------------ key list: where enroll left objects behind
echo "--- key list"
lid=$(K key register --type secret --generate 32 --object-group "$hg" --name og-left) ||
	fail "register a Pre-Active secret in $hg"
oldid=$(K key register --type secret --generate 32 --object-group kmipcrypt --name og-old) ||
	fail "register a Pre-Active secret in kmipcrypt"
aid=$(K key register --type secret --generate 32 --object-group "$hg" --name og-bound --activate) ||
	fail "register an Active secret in $hg"
oid=$(K key register --type secret --generate 32 --object-group og-elsewhere --name og-other) ||
	fail "register a Pre-Active secret in another group"
K key list >"$LAB_TMP/list.out" 2>&1 || { cat "$LAB_TMP/list.out"; fail "key list"; }
sed 's/^/    | /' "$LAB_TMP/list.out"
for u in "$lid" "$oldid"; do
	grep -F "$u " "$LAB_TMP/list.out" | grep -qF "unbound: an enroll did not finish" ||
		fail "key list does not mark Pre-Active $u unbound"
done
echo "ok key list marks Pre-Active objects of $hg and of kmipcrypt (older versions) unbound"
for u in "$aid" "$oid"; do
	! grep -F "$u " "$LAB_TMP/list.out" | grep -q unbound || fail "key list marks $u unbound"
done
echo "ok ... not an Active one there, nor a Pre-Active one of another group"
unb() { K key list --json | "$LAB_PY" -c 'import json, sys
print(" ".join(sorted(o["uid"] for o in json.load(sys.stdin) if o["unbound"])))'; }
expect_eq "$(unb)" "$(printf '%s\n' "$lid" "$oldid" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"key list --json: \"unbound\" for those two only"
expect_grep "^Note +unbound" "key show marks it too" K key show "$lid"
# With a configured group, that group is enroll's: its leftovers are marked.
lab_config "$conf" "$port" timeout_ms=3000 "object_group=$conf_group"
cid=$(K key register --type secret --generate 32 --object-group "$conf_group" --name og-cleft) ||
	fail "register a Pre-Active secret in the configured group"
expect_grep "unbound: an enroll did not finish" "key show: a Pre-Active object of the configured group" \
	K key show "$cid"
expect_grep "unbound: an enroll did not finish" "... and still one of kmipcrypt" K key show "$oldid"
lab_config "$conf" "$port" timeout_ms=3000
for u in "$lid" "$oldid" "$cid"; do
	K key destroy "$u" >/dev/null 2>&1 || fail "destroy $u"
done

# ------------------------------------------------ tokens made before, and hostile ones
echo "--- older and hostile tokens"
token_edit "$def_img" 0 'del t["object_group"]'
expect_eq "$(token_json "$def_img" | json_field object_group)" "" "a token without object_group (as older versions wrote)"
expect_rc 0 "... still unlocks (--test)" K unlock "$def_img" --test
expect_nogrep "Object Group" "... status shows no group for it" K status "$def_img"
expect_eq "$(status_json_field "$def_img" object_group)" "null" "... status --json: object_group null"
token_edit "$def_img" 0 't["object_group"] = "x\u001b[2Jy"'
expect_rc 5 "a token whose object_group holds a control character: refused" K unlock "$def_img" --test
expect_out "object_group is not printable text" "... saying why"
expect_grep "INVALID kmip token" "status calls it invalid" K status "$def_img"
expect_nogrep $'\x1b' "... and prints no escape character" K status "$def_img"

pass
