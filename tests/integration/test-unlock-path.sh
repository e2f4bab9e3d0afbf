#!/bin/bash
# The unlock path asks the KMS as little as the protocol allows (issue 8),
# counted in PyKMIP's own log: the operations it processed ("Processing
# operation: ...", one per batch item) and the connections it accepted:
#  - enroll records in the token the KMIP version the server speaks
#    ("protocol"); unlock assumes it: no Discover Versions;
#  - the State and the secret travel in one request (Get Attributes + Get,
#    or + Decrypt for an envelope);
#  - a token whose version the server no longer speaks (the server changed
#    between enroll and unlock): unlock negotiates and still unlocks;
#  - a server that answers the first batch item only, and one that refuses
#    batches (PyKMIP's own server, changed in that one way:
#    tests/lab/pykmip-changed.py): still unlocks;
#  - a key that is not Active: refused, nothing kept;
#  - the client key in OpenSSL's secure heap (locked memory);
#  - unlock --all of several volumes of one group: one connection, one
#    request for all of them; a revoked one among them refused with its
#    reason while the others unlock.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab
log=$(lab_server_log main)
mark() { wc -l <"$log"; }
# ops_since N: the operations PyKMIP processed after line N of its log, space-separated
ops_since() { tail -n +"$(( $1 + 1 ))" "$log" | sed -n 's/.*Processing operation: \([A-Za-z]*\).*/\1/p' | tr '\n' ' '; }
# reqs_since N: the request messages PyKMIP received after line N
reqs_since() { tail -n +"$(( $1 + 1 ))" "$log" | grep -c "Received request at time"; }
# conns_since N: the TLS connections PyKMIP accepted after line N
conns_since() { tail -n +"$(( $1 + 1 ))" "$log" | grep -c "Receiving incoming connection"; }

for kind in passphrase envelope; do
	img=$(newimg "path-$kind")
	expect_rc 0 "$kind: enroll" K enroll "$img" --kind $kind --key-file "$pass"
	proto=$(token_json "$img" | json_field protocol)
	[ -n "$proto" ] || fail "$kind: the token records no protocol version"
	echo "ok $kind: the token records the server's KMIP version ($proto)"
	m=$(mark)
	expect_rc 0 "$kind: unlock --test" K unlock "$img" --test
	want="GetAttributes Get "
	[ $kind = envelope ] && want="GetAttributes Decrypt "
	expect_eq "$(ops_since "$m")" "$want" "$kind: no Discover Versions, State and secret in one batch"
	expect_eq "$(reqs_since "$m")" "1" "$kind: ... in one request message"
	eval "img_$kind=\$img"
done
expect_grep "client key .* loaded; OpenSSL's secure heap holds [1-9][0-9]* bytes" \
	"the client key is held in OpenSSL's secure heap (locked, wiped)" K -vv unlock "$img_passphrase" --test
[ "$(grep -c "Receiving incoming connection" "$log")" -gt 0 ] ||
	fail "PyKMIP's log does not show connections: the counting below would prove nothing"

# The server changed version between enroll and unlock: the hint is wrong.
img=$img_passphrase
token_edit "$img" 0 't["protocol"] = "2.1"'	# PyKMIP 0.10 does not speak 2.1
m=$(mark)
expect_rc 0 "a token naming a version the server does not speak: unlock still works" \
	K unlock "$img" --test
ops=$(ops_since "$m")
case "$ops" in *DiscoverVersions*) echo "ok ... after negotiating ($ops)" ;;
	*) fail "no Discover Versions after the version was refused: $ops" ;; esac
token_edit "$img" 0 't["protocol"] = "1.2"'	# spoken, older: used as it is
m=$(mark)
expect_rc 0 "a token naming an older version the server speaks: unlocks in it" K unlock "$img" --test
expect_eq "$(ops_since "$m")" "GetAttributes Get " "... with no negotiation"
for bad in '"9.9"' '"2.0x"' '20' '""'; do
	token_edit "$img" 0 "t['protocol'] = $bad"
	expect_rc 5 "protocol $bad: an invalid token" K unlock "$img" --test
done
token_edit "$img" 0 'del t["protocol"]'
m=$(mark)
expect_rc 0 "a token of an older kmipcrypt (no protocol): unlocks" K unlock "$img" --test
case "$(ops_since "$m")" in *DiscoverVersions*GetAttributes\ Get\ ) echo "ok ... negotiating first" ;;
	*) fail "no protocol: expected a negotiation, then one batch: $(ops_since "$m")" ;; esac

# Not Active: refused; the batch's Get is answered but nothing is kept.
uid=$(uid_of "$img_envelope")
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "revoke $uid"
expect_rc 4 "a Deactivated key: refused" K unlock "$img_envelope" --test
expect_out "is Deactivated \(revoked\); refusing to unlock" "... saying why"

# A server that answers the first item of a batch only.
port1=$(lab_server_start one --change batch-one) || fail "the one-item server did not start"
conf1=$LAB_TMP/one.conf
lab_config "$conf1" "$port1" timeout_ms=3000
log1=$(lab_server_log one)
img=$(newimg path-one)
expect_rc 0 "one-item server: enroll" "$KMIPCRYPT" -c "$conf1" enroll "$img" --key-file "$pass"
n=$(wc -l <"$log1")
expect_rc 0 "one-item server: unlock --test still works" "$KMIPCRYPT" -c "$conf1" unlock "$img" --test
ops=$(tail -n +"$(( n + 1 ))" "$log1" | sed -n 's/.*Processing operation: \([A-Za-z]*\).*/\1/p' | tr '\n' ' ')
expect_eq "$ops" "GetAttributes Get " "... the State answered in the batch, the Get asked alone"
img=$(newimg path-one-env)
expect_rc 0 "one-item server: enroll (envelope)" "$KMIPCRYPT" -c "$conf1" enroll "$img" --kind envelope --key-file "$pass"
expect_rc 0 "one-item server: unlock --test of an envelope" "$KMIPCRYPT" -c "$conf1" unlock "$img" --test
lab_server_stop one

# A server that refuses a batch as a whole: asked one item at a time.
port2=$(lab_server_start refuse --change batch-refuse) || fail "the batch-refusing server did not start"
conf2=$LAB_TMP/refuse.conf
lab_config "$conf2" "$port2" timeout_ms=3000
log2=$(lab_server_log refuse)
for kind in passphrase envelope; do
	img=$(newimg "path-refuse-$kind")
	expect_rc 0 "batch-refusing server: enroll ($kind)" "$KMIPCRYPT" -c "$conf2" enroll "$img" \
		--kind $kind --key-file "$pass"
	n=$(wc -l <"$log2")
	expect_rc 0 "batch-refusing server: unlock --test ($kind) still works" \
		"$KMIPCRYPT" -c "$conf2" unlock "$img" --test
	ops=$(tail -n +"$(( n + 1 ))" "$log2" | sed -n 's/.*Processing operation: \([A-Za-z]*\).*/\1/p' | tr '\n' ' ')
	case "$ops" in *GetAttributes\ Get\ |*GetAttributes\ Decrypt\ ) echo "ok ... one item at a time ($ops)" ;;
		*) fail "batch-refusing server: expected the State, then the secret: $ops" ;; esac
done
lab_server_stop refuse

# Many volumes of one group: one connection, one request for all of them.
: >"$LAB_TMP/many"
for i in 1 2 3 4; do
	v=$(newimg "path-many$i")
	K enroll "$v" --key-file "$pass" >/dev/null 2>&1 || fail "enroll $v"
	echo "$v" >>"$LAB_TMP/many"
done
m=$(mark)
expect_rc 0 "unlock --all --test of four volumes" K unlock --all --test --from "$LAB_TMP/many"
expect_eq "$(conns_since "$m")" "1" "... over one connection"
expect_eq "$(reqs_since "$m")" "1" "... in one request message"
expect_eq "$(ops_since "$m")" "GetAttributes Get GetAttributes Get GetAttributes Get GetAttributes Get " \
	"... of the State and secret of each volume, no negotiation"
# One key of the group revoked: the others unlock, it says why.
uid=$(uid_of "$(sed -n 2p "$LAB_TMP/many")")
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "revoke $uid"
expect_rc 4 "unlock --all with one revoked key: exit 4 (none retryable)" \
	K unlock --all --test --from "$LAB_TMP/many"
expect_out "is Deactivated \(revoked\); refusing to unlock" "... the revoked one says why"
[ "$(grep -c ": verified (check only" "$LAB_TMP/out")" = 3 ] || { cat "$LAB_TMP/out"; fail "the three others were not verified"; }
echo "ok ... and the three others are verified"
pass
