#!/bin/bash
# test-kmip-ops.sh: the KMIP layer (src/kmip) against the real PyKMIP 0.10 server
# of tests/lab, through tests/integration/kmip-driver.c, with KMIP 1.2, 1.4,
# 2.0 pinned and with negotiation ("auto"):
#
#   - every operation the product uses (Discover Versions, Query, Create,
#     Register Secret Data / Symmetric Key, Activate, Get, Get with Key
#     Wrapping Specification + local RFC 3394 unwrap, Get Attributes, batched
#     Get Attributes (State), Locate (+ verification, Maximum/Offset Items),
#     Encrypt/Decrypt, Re-key (unsupported -> -EOPNOTSUPP), Revoke with all
#     seven reasons, Destroy), with checks, in each version;
#   - negotiation: auto picks 2.0; a pinned 2.1 fails cleanly; 1.0 works;
#   - cross-checks with PyKMIP's own client (tests/lab/pyclient.py): keys
#     made by one are read, wrapped, revoked and destroyed by the other;
#   - another client identity does not see our objects.
#
# Usage: tests/integration/test-kmip-ops.sh   (root; needs python3-pykmip)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lab/lib.sh
lab_init || exit 1

n=0 fail=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
expect() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

if [ ! -f build/libkmipcrypt.a ]; then
	make -s build/libkmipcrypt.a || exit 1
fi
DRV=$LAB_TMP/kmip-driver
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Isrc -o "$DRV" \
	tests/integration/kmip-driver.c build/libkmipcrypt.a \
	$(pkg-config --cflags --libs libssl libcrypto) || exit 1

port=$(lab_server_start main) || exit 1
CONF=$LAB_TMP/k.conf
lab_config "$CONF" "$port"
PYC() { lab_pyclient main "$@"; }

# ------------------------------------------------------------ the suites
for v in 1.2 1.4 2.0 auto; do
	echo "# ---- suite, KMIP $v"
	out=$("$DRV" -c "$CONF" -V "$v" -t "v$v" suite 2>&1)
	rc=$?
	echo "$out" | sed 's/^/    /'
	expect "suite KMIP $v: $(echo "$out" | grep -c '^ok') checks passed, exit $rc" [ $rc = 0 ]
done

# ------------------------------------------------------------ versions
out=$("$DRV" -c "$CONF" version 2>&1)
expect "auto negotiates 2.0 with PyKMIP ($out)" [ "$out" = 2.0 ]
out=$("$DRV" -c "$CONF" -V 1.0 version 2>&1)
expect "pinned 1.0 stays 1.0 ($out)" [ "$out" = 1.0 ]
uid=$("$DRV" -c "$CONF" -V 1.0 create v10-key 2>&1)
rc=$?
expect "KMIP 1.0 Create + Activate ($uid)" [ $rc = 0 ]
out=$("$DRV" -c "$CONF" -V 1.0 states "$uid" 2>&1)
expect "KMIP 1.0 Get Attributes State ($out)" [ "$out" = "$uid Active" ]
out=$("$DRV" -c "$CONF" -V 2.1 get "$uid" 2>&1)
rc=$?
echo "    $out"
expect "pinned 2.1: PyKMIP answers Invalid Message in a 1.0 response, a clean -EPROTO" \
	sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'Protocol error: Invalid Message'"
out=$("$DRV" -c "$CONF" -V 2.1 states "$uid" "$uid" 2>&1 | tr '\n' ' ')
expect "pinned 2.1 batch: the message-level error reaches every item ($out)" \
	[ "$out" = "$uid -71 $uid -71 " ]

# ------------------------------------------------------------ cross-checks
KEYHEX=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
KEKHEX=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
for v in 1.2 2.0; do
	echo "# ---- cross-checks with PyKMIP's client, KMIP $v"
	ruid=$(PYC --version "$v" register-key --hex "$KEYHEX" --name "py-key-$v" | lab_json uid)
	PYC --version "$v" activate "$ruid" >/dev/null
	out=$("$DRV" -c "$CONF" -V "$v" get "$ruid" 2>&1)
	expect "a key registered by PyKMIP's client reads back ($ruid)" [ "$out" = "$KEYHEX" ]
	kuid=$(PYC --version "$v" register-key --hex "$KEKHEX" --name "py-kek-$v" --usage wrap-key |
	       lab_json uid)
	PYC --version "$v" activate "$kuid" >/dev/null
	out=$("$DRV" -c "$CONF" -V "$v" get "$ruid" "$kuid" "$KEKHEX" 2>&1)
	expect "wrapped by PyKMIP with its KEK, unwrapped here (RFC 3394)" [ "$out" = "$KEYHEX" ]
	out=$("$DRV" -c "$CONF" -V "$v" get "$ruid" "$kuid" "${KEKHEX%??}00" 2>&1)
	expect "a wrong local KEK fails the integrity check" \
		sh -c "echo '$out' | grep -q 'Bad message'"
	ouid=$("$DRV" -c "$CONF" -V "$v" create "drv-key-$v")
	out=$(PYC --version "$v" get-state "$ouid" | lab_json state)
	expect "a key we created is Active to PyKMIP's client ($out)" [ "$out" = ACTIVE ]
	PYC --version "$v" revoke "$ouid" --reason compromise >/dev/null
	PYC --version "$v" revoke "$ruid" --reason cessation >/dev/null
	out=$("$DRV" -c "$CONF" -V "$v" states "$ouid" "$ruid" 2>&1 | tr '\n' ' ')
	expect "revoked behind our back: seen in one batch ($out)" \
		[ "$out" = "$ouid Compromised $ruid Deactivated " ]
	PYC --version "$v" destroy "$ruid" >/dev/null
	out=$("$DRV" -c "$CONF" -V "$v" states "$ruid" 2>&1)
	expect "destroyed behind our back: not found ($out)" [ "$out" = "$ruid -2" ]
	"$DRV" -c "$CONF" -V "$v" revoke "$kuid" 6 && PYC --version "$v" destroy "$kuid" >/dev/null
	out=$(PYC --version "$v" get-state "$kuid" 2>&1)
	expect "revoked by us, destroyed by PyKMIP's client" sh -c "echo '$out' | grep -q '\"ok\": false'"
done

# ------------------------------------------------------------ identities
CONF2=$LAB_TMP/other.conf
lab_config "$CONF2" "$port" client=other
out=$("$DRV" -c "$CONF2" -V 1.2 states "$uid" 2>&1)
echo "    $out"
# PyKMIP answers Permission Denied (-EPERM), not Item Not Found, for another owner's object.
expect "another client identity does not see our key ($out)" [ "$out" = "$uid -1" ]

echo "# $n checks, $([ $fail = 0 ] && echo all passed || echo FAILURES)"
exit $fail
