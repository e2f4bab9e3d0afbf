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
#   - another client identity does not see our objects;
#   - hostile answers (tests/lab/fake-server.py): a protocol error says what
#     was wrong and at which byte, and one met while negotiating the version
#     is charged to the negotiation, not to the operation asked for.
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

# The library next to the kmipcrypt under test (run.sh exports KMIPCRYPT), so
# that both are the same build; else build/, built (or brought up to date) here.
KMIPCRYPT_CLI=${KMIPCRYPT:-build/kmipcrypt}
LIB=$(dirname "$KMIPCRYPT_CLI")/libkmipcrypt.a
if [ ! -f "$LIB" ]; then
	make -s build/libkmipcrypt.a build/kmipcrypt || exit 1
	LIB=build/libkmipcrypt.a KMIPCRYPT_CLI=build/kmipcrypt
fi
DRV=$LAB_TMP/kmip-driver
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Isrc -o "$DRV" \
	tests/integration/kmip-driver.c "$LIB" \
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
		sh -c "echo '$out' | grep -q 'does not unwrap with the local copy of key .* (integrity check failed)'"
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

# ------------------------------------------------------------ hostile answers
# A protocol error says what was wrong and where; when it happens while
# negotiating the version, it is charged to the negotiation, not to the
# operation asked for (which is then never sent).  tests/lab/fake-server.py
# sends canned answers; a small program prints what the library reports.
cat >"$LAB_TMP/probe.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "kmip/kmip.h"
#include "conf/config.h"

/* probe CONF UID: Get Attributes (State), then "rc|step|last error|failure kind". */
int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct kmip_session *s = NULL;
	struct kmip_client *c;
	struct kmip_attrs a;
	const char *step;
	int r;

	if (argc != 3 || config_load(argv[1], &cfg) < 0 ||
	    conf_session_open(cfg, NULL, 0, &s) < 0)
		return 2;
	c = kmip_session_client(s);
	r = kmip_get_attributes(c, argv[2], KMIP_ATTR_STATE, &a);
	step = kmip_last_failure_step(c);
	printf("%d|%s|%s|%d\n", r, step ? step : "-", kmip_last_error(c), (int)kmip_last_failure(c));
	kmip_session_close(s);
	config_free(cfg);
	return 0;
}
EOF
PROBE=$LAB_TMP/probe
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Wall -Wextra -Werror -Isrc -o "$PROBE" "$LAB_TMP/probe.c" "$LIB" \
	$(pkg-config --libs libssl libcrypto libcryptsetup devmapper blkid json-c libxml-2.0) || exit 1
# Every answer lacks its Response Header (48 bytes: Response Message {Batch Item}).
NOHDR=42007b010000003042000f010000002842005c05000000040000001e0000000042007f0500000004000000000000000042007c0100000000
# A good Discover Versions answer (1.4), then a Get Attributes answer whose
# Batch Count says 2 for its one Batch Item (Response Header at byte 8).
DV14=42007b010000009842007a0100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000000042000d0200000004000000010000000042000f010000005042005c05000000040000001e0000000042007f0500000004000000000000000042007c0100000028420069010000002042006a0200000004000000010000000042006b02000000040000000400000000
GA2=42007b010000008042007a0100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000000042000d0200000004000000020000000042000f010000003842005c05000000040000000b0000000042007f0500000004000000000000000042007c010000001042009407000000013100000000000000
fport=$(lab_fake_start nohdr --mode reply --hex "$NOHDR") || exit 1
lab_config "$LAB_TMP/f.conf" "$fport"
out=$("$PROBE" "$LAB_TMP/f.conf" 1)
expect "malformed Discover Versions answers: charged to negotiation, with where and why ($out)" \
	[ "$out" = "-74|negotiating the KMIP version with 127.0.0.1:$fport|malformed response: Response Message (0x42007B) at byte 0: no Response Header|2" ]
ops=$(lab_bg_events nohdr | awk '$1 == "request" { print $4 }' |
      sed -n 's/.*42005c0500000004\(........\).*/\1/p' | sort | uniq -c | tr -s ' ')
expect "the operation asked for was never sent: only Discover Versions, in 3 headers ($ops)" \
	[ "$ops" = " 3 0000001e" ]
out=$("$KMIPCRYPT_CLI" -c "$LAB_TMP/f.conf" key show 1 2>&1)
echo "    $out"
# has TEXT NEEDLE / lacks TEXT NEEDLE: fixed strings (messages quote identifiers).
has() { grep -qF -- "$2" <<<"$1"; }
lacks() { ! grep -qF -- "$2" <<<"$1"; }
expect "the command line says where and why, not just 'Bad message'" \
	has "$out" "malformed response: Response Message (0x42007B) at byte 0: no Response Header"
expect "... charges it to the negotiation with that server" \
	has "$out" "negotiating the KMIP version with 127.0.0.1:$fport failed: malformed response:"
expect "... and says the operation was not sent" has "$out" "Get Attributes of key '1' was not sent"
expect "... and does not call its own reason the server's" lacks "$out" "server says"
fport2=$(lab_fake_start badcount --mode reply --hex "$DV14" --hex "$GA2") || exit 1
lab_config "$LAB_TMP/f2.conf" "$fport2"
out=$("$PROBE" "$LAB_TMP/f2.conf" 1)
expect "negotiated, then a malformed answer: charged to the operation ($out)" \
	[ "$out" = "-74|-|malformed response: Response Header (0x42007A) at byte 8: Batch Count 2, but 1 Batch Item|2" ]
out=$("$KMIPCRYPT_CLI" -c "$LAB_TMP/f2.conf" key show 1 2>&1)
echo "    $out"
expect "the command line charges it to Get Attributes, as our reason" \
	has "$out" "Get Attributes of key '1' on 127.0.0.1:$fport2 failed: malformed response: Response Header"
expect "... not the server's" lacks "$out" "server says"
expect "... and not to the negotiation" lacks "$out" "negotiating"

# ------------------------------------------------------------ identities
CONF2=$LAB_TMP/other.conf
lab_config "$CONF2" "$port" client=other
out=$("$DRV" -c "$CONF2" -V 1.2 states "$uid" 2>&1)
echo "    $out"
# PyKMIP answers Permission Denied (-EPERM), not Item Not Found, for another owner's object.
expect "another client identity does not see our key ($out)" [ "$out" = "$uid -1" ]

echo "# $n checks, $([ $fail = 0 ] && echo all passed || echo FAILURES)"
exit $fail
