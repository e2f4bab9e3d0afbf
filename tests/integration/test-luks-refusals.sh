#!/bin/bash
# kmipcrypt unlock refuses, each time with its own message and exit code,
# against the real PyKMIP server; keys are revoked, destroyed or left
# Pre-Active behind kmipcrypt's back with PyKMIP's own client:
#   Deactivated, Compromised (4), destroyed = not found (4), never activated
#   (Pre-Active, 4), another owner's key (permission denied, 4), an object of
#   the wrong type (4), the wrong secret on the server (5: the keyslot does not
#   take it), corrupted and foreign tokens (5; a good token after a bad one
#   still unlocks), no kmip token (5), the server down: refused, blackholed
#   (2, within the deadline), and `unlock --all` with five volumes whose
#   servers are all down (within about one deadline, not five).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

bound_prefix=ref

# ------------------------------------------------ the key's state
img=$(bound deactivated)
uid=$(uid_of "$img")
expect_rc 0 "Active key: unlock --test" K unlock "$img" --test
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "pyclient revoke"
expect_eq "$(lab_pyclient main get-state "$uid" | lab_json state)" "DEACTIVATED" "PyKMIP revoked it: Deactivated"
expect_rc 4 "Deactivated key: refused, exit 4" K unlock "$img" --test
expect_out "key '$uid' is Deactivated \(revoked\); refusing to unlock" "... message names the state"
expect_rc 4 "Deactivated key: status exits 4" K status "$img"
expect_out "state Deactivated" "... and shows the state"
expect_rc 4 "Deactivated key: a real unlock is refused before libcryptsetup" K unlock "$img" name
expect_out "Deactivated"  "... for the same reason"

img=$(bound compromised)
uid=$(uid_of "$img")
lab_pyclient main revoke "$uid" --reason compromise >/dev/null || fail "pyclient revoke"
expect_rc 4 "Compromised key: refused, exit 4" K unlock "$img" --test
expect_out "is Compromised" "... message names the state"

img=$(bound destroyed)
uid=$(uid_of "$img")
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "pyclient revoke"
lab_pyclient main destroy "$uid" >/dev/null || fail "pyclient destroy"
expect_rc 4 "destroyed key (not found): refused, exit 4" K unlock "$img" --test
expect_out "was not found on the server: destroyed" "... message says destroyed or never there"
expect_rc 4 "destroyed key: status exits 4" K status "$img"
expect_out "not found \(destroyed\?\)" "... and says not found"

img=$(bound envelope-revoked --kind envelope)
uid=$(uid_of "$img")
lab_pyclient main revoke "$uid" --reason compromise >/dev/null || fail "pyclient revoke"
expect_rc 4 "envelope: a Compromised key cannot decrypt: exit 4" K unlock "$img" --test
expect_out "Compromised" "... message names the state"

img=$(newimg vk-destroyed --key-size 256)
K enroll "$img" --kind volume-key --key-file "$pass" --name ref-vk >/dev/null 2>&1 || fail "enroll volume-key"
uid=$(uid_of "$img")
lab_pyclient main revoke "$uid" --reason cessation >/dev/null && lab_pyclient main destroy "$uid" >/dev/null ||
	fail "pyclient revoke/destroy"
expect_rc 4 "volume-key: a destroyed key: exit 4" K unlock "$img" --test

# Never activated: a Pre-Active Secret Data made by PyKMIP, a keyslot and a hand-made token.
img=$(newimg preactive)
preactive_binding "$img" ref-preactive
expect_eq "$(lab_pyclient main get-state "$pre" | lab_json state)" "PRE_ACTIVE" "PyKMIP's secret is Pre-Active"
expect_rc 4 "never activated (Pre-Active): refused, exit 4" K unlock "$img" --test
expect_out "is Pre-Active \(never activated\)" "... message says never activated"
lab_pyclient main activate "$pre" >/dev/null || fail "pyclient activate"
expect_rc 0 "... once PyKMIP activates it, the same token unlocks" K unlock "$img" --test

# ------------------------------------------------ whose key, which key
img=$(bound owner)
lab_config "$LAB_TMP/other.conf" "$port" client=other timeout_ms=3000
expect_rc 4 "another owner's key: refused, exit 4" "$KMIPCRYPT" -c "$LAB_TMP/other.conf" unlock "$img" --test
expect_out "permission denied: it belongs to another client" "... message says whose"
expect_out "Permission Denied" "... with the server's reason"

img=$(bound wrong-secret)
other=$(K key register --type secret --generate 32 --name ref-other-secret --activate) || fail "register"
token_edit "$img" 0 "t['uid'] = '$other'"
expect_rc 5 "wrong secret on the server (another Active secret): exit 5" K unlock "$img" --test
expect_out "the secret of key '$other' does not unlock keyslot 1" "... message says the keyslot does not take it"

aes=$(K key create --name ref-aes) || fail "create"
token_edit "$img" 0 "t['uid'] = '$aes'"
expect_rc 4 "a token naming an AES key for kind passphrase: exit 4" K unlock "$img" --test
expect_out "is a Symmetric Key; a passphrase token needs Secret Data: the token names the wrong object" "... message says the object is of the wrong type"

short=$(K key register --type secret --generate 8 --name ref-short-secret --activate) || fail "register"
token_edit "$img" 0 "t['uid'] = '$short'"
expect_rc 4 "a token naming an 8-byte secret: exit 4" K unlock "$img" --test
expect_out "a secret of 8 bytes; a keyslot secret is 16 to 256 bytes: the token names the wrong object" "... message says the size is impossible"

token_edit "$img" 0 "t['uid'] = 'no-such-key-4711'"
expect_rc 4 "a token naming a key the server never had: exit 4" K unlock "$img" --test

# ------------------------------------------------ corrupted and foreign tokens
img=$(bound corrupt)
good=$(token_json "$img")
# corrupt PYEXPR: the good token, edited
corrupt() { token_put "$img" 0 "$good"; token_edit "$img" 0 "$1"; }
corrupt "t['kind'] = 'tpm'"
expect_rc 5 "corrupted token (unknown kind): exit 5" K unlock "$img" --test
expect_out "invalid kmip token: unknown kind 'tpm'" "... message names the problem"
corrupt "t['kmip_version'] = 3"
expect_rc 5 "foreign token (format version 3): exit 5" K unlock "$img" --test
expect_out "format version 3 is not supported" "... message says which version"
corrupt "t['uid'] = 5"
expect_rc 5 "corrupted token (uid not a string): exit 5" K unlock "$img" --test
expect_out "uid is not a JSON string" "... message names the field"
corrupt "t['passphrase'] = 'c2VjcmV0'"
expect_rc 5 "corrupted token (an extra field): exit 5" K unlock "$img" --test
expect_out "unknown field 'passphrase'" "... message names the field"
expect_rc 5 "status of a corrupted token: exit 5" K status "$img"
expect_out "INVALID kmip token" "... status says so"
corrupt "t['group'] = 'dc9'"
expect_rc 1 "a token naming a server group this host lacks: exit 1 (configuration)" K unlock "$img" --test
expect_out "has no server group \[dc9\]" "... message names the group"
expect_rc 1 "status: the same, exit 1" K status "$img"
expect_out "no usable server group \[dc9\]" "... status says so"
corrupt "t['keyslots'] = ['0']"
expect_rc 5 "a token moved to the user's keyslot 0: its secret does not open it, exit 5" K unlock "$img" --test
expect_out "does not unlock keyslot 0" "... message names the keyslot"
# Envelope with a damaged ciphertext
eimg=$(bound env-corrupt --kind envelope)
token_edit "$eimg" 0 "t['ciphertext'] = t['ciphertext'][:8]"
expect_rc 5 "envelope: a truncated ciphertext is an invalid token: exit 5" K unlock "$eimg" --test
expect_out "ciphertext is" "... message names the field"
token_edit "$eimg" 0 "t['ciphertext'] = 'A' + t['ciphertext'][1:]"
rc=0; K unlock "$eimg" --test >"$LAB_TMP/out" 2>&1 || rc=$?
sed 's/^/    | /' "$LAB_TMP/out"
[ $rc = 5 ] || fail "envelope: a damaged ciphertext: exit $rc, want 5 (as a wrong secret: no padding or tag oracle)"
echo "ok envelope: a damaged ciphertext is refused as a wrong secret (exit $rc)"
# A bad token first, a good one after: the good one unlocks.
token_put "$img" 0 "$good"
K enroll "$img" --key-file "$pass" --name ref-corrupt-2 >/dev/null 2>&1 || fail "second enroll"
token_edit "$img" 0 "t['kind'] = 'tpm'"
expect_rc 0 "a corrupted token 0 and a good token 1: unlocks with token 1" K unlock "$img" --test
expect_out "token 0: invalid kmip token" "... after saying what is wrong with token 0"
# A foreign token type only.
img=$(newimg foreign)
CS token import --json-file <(printf '{"type":"systemd-tpm2","keyslots":[]}') "$img" || fail "import foreign"
expect_rc 5 "only a foreign token type: no kmip token, exit 5" K unlock "$img" --test
expect_out "no kmip token" "... says there is no kmip token"

# ------------------------------------------------ servers down
img=$(bound down)
refused=$(lab_refused_port)
lab_config "$LAB_TMP/refused.conf" "$refused" timeout_ms=2000
t=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/refused.conf" unlock "$img" --test)
sed 's/^/    | /' "$LAB_TMP/out"
expect_eq "$(cat "$LAB_TMP/rc")" "2" "server refuses connections: exit 2"
[ "$t" -lt 2000 ] || fail "refused: took $t ms"
echo "ok ... at once ($t ms)"
expect_out "Connection refused" "... message says refused"

bh=$(lab_blackhole_start bh)
[ -n "$bh" ] || fail "blackhole did not start"
lab_config "$LAB_TMP/bh.conf" "$bh" timeout_ms=1000
t=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/bh.conf" unlock "$img" --test)
sed 's/^/    | /' "$LAB_TMP/out"
expect_eq "$(cat "$LAB_TMP/rc")" "2" "blackholed server (TLS never answers): exit 2"
[ "$t" -ge 900 ] && [ "$t" -lt 3500 ] || fail "blackhole: $t ms with timeout_ms=1000"
echo "ok ... within the timeout ($t ms)"
# Three dead servers of 5 s each, but 1.5 s for the whole unlock.
bh2=$(lab_blackhole_start bh2)
bh3=$(lab_blackhole_start bh3)
lab_config "$LAB_TMP/bh3.conf" "127.0.0.1:$bh 127.0.0.1:$bh2 127.0.0.1:$bh3" timeout_ms=5000
t=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/bh3.conf" unlock "$img" --test --timeout 1500ms)
sed 's/^/    | /' "$LAB_TMP/out"
expect_eq "$(cat "$LAB_TMP/rc")" "2" "three blackholed servers, --timeout 1500ms: exit 2"
[ "$t" -lt 2500 ] || fail "--timeout 1500ms took $t ms"
echo "ok ... within the deadline ($t ms, not 3 x 5 s)"

# unlock --all: five volumes, every server down, each bounded, all at once.
: >"$LAB_TMP/five"
for i in 1 2 3 4 5; do
	bound "all-$i" >>"$LAB_TMP/five"
done
# One volume alone: about one handshake timeout (timeout_ms 1000, or less to fit the deadline).
one=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/bh.conf" unlock --test "$(head -1 "$LAB_TMP/five")" --timeout 4s)
expect_eq "$(cat "$LAB_TMP/rc")" "2" "one volume, server blackholed: exit 2 ($one ms)"
t=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/bh.conf" unlock --all --test --from "$LAB_TMP/five" --timeout 4s)
sed 's/^/    | /' "$LAB_TMP/out"
expect_eq "$(cat "$LAB_TMP/rc")" "2" "unlock --all, five volumes, server blackholed: exit 2"
expect_eq "$(grep -c 'FAILED (exit 2' "$LAB_TMP/out")" "5" "... every volume reports exit 2"
[ "$t" -lt 4000 ] || fail "unlock --all took $t ms, more than one deadline (4 s)"
[ "$t" -lt $(( one * 5 / 2 )) ] || fail "unlock --all took $t ms; one volume takes $one ms: not in parallel"
echo "ok ... in parallel: $t ms for five volumes, one alone takes $one ms"
# status of the same five: one batched request per server group, so a dead
# group costs one time limit, not five.
t=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/bh.conf" status --from "$LAB_TMP/five" --timeout 4s)
expect_eq "$(cat "$LAB_TMP/rc")" "2" "status, five volumes, server blackholed: exit 2"
expect_eq "$(grep -c 'state unknown' "$LAB_TMP/out")" "5" "... every token's State unknown"
[ "$t" -lt 4000 ] || fail "status of five volumes took $t ms, more than one deadline (4 s)"
echo "ok ... in $t ms for five volumes (one volume alone: $one ms)"
expect_rc 0 "status of the five with the server up: exit 0" K status --from "$LAB_TMP/five"
expect_eq "$(grep -c 'state Active' "$LAB_TMP/out")" "5" "... five keys Active (one batched request)"
t=$(ms_of "$KMIPCRYPT" -c "$LAB_TMP/refused.conf" unlock --all --test --from "$LAB_TMP/five")
expect_eq "$(cat "$LAB_TMP/rc")" "2" "unlock --all, five volumes, server refusing: exit 2 ($t ms)"
# Mixed: the worst exit code wins (one volume with a revoked key: 4 beats 0).
head -1 "$LAB_TMP/five" >"$LAB_TMP/mixed"
rimg=$(bound mixed-revoked)
lab_pyclient main revoke "$(uid_of "$rimg")" --reason compromise >/dev/null
echo "$rimg" >>"$LAB_TMP/mixed"
expect_rc 4 "unlock --all: one good volume, one revoked: exit 4 (the worst)" K unlock --all --test --from "$LAB_TMP/mixed"
expect_eq "$(grep -c 'verified' "$LAB_TMP/out")" "1" "... the good one is unlocked"

# The real server stopped: refused.
lab_server_stop main
expect_rc 2 "PyKMIP stopped: exit 2" K unlock "$img" --test
pass
