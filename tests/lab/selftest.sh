#!/bin/bash
# selftest.sh: proves that the test lab itself works on this machine.
#   tests/lab/selftest.sh [-v]      (root; about 30 s)
# Every check prints "ok" or "FAIL"; exit status 1 if any failed. Timings of
# interest (certificate generation, server start-up) are printed too.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
VERBOSE=0
[ "${1:-}" = -v ] && VERBOSE=1

FAILS=0
ok()   { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
say()  { [ $VERBOSE = 1 ] && echo "       $*"; return 0; }
ms_since() { echo $(( $(lab_now_ms) - $1 )); }

unset LAB_CERTS
lab_init || { echo "lab_init failed"; exit 1; }
C=$LAB_CERTS
PYC() { "$LAB_PY" "$HERE/pyclient.py" "$@"; }

# ------------------------------------------------------------ certificates
# Wall time depends on the machine's load; the CPU time is what mkcerts costs.
read -r wall cpu < <( { /usr/bin/time -f "%e %U %S" "$HERE/mkcerts.sh" "$LAB_TMP/pki2" 2>&1 >/dev/null; } |
    tail -n 1 | awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }')
[ -f "$LAB_TMP/pki2/.mkcerts-v1" ] || fail "mkcerts.sh"
check "mkcerts.sh makes a fresh PKI: ${wall} ms wall, ${cpu} ms CPU (< 2 s)" [ "${wall:-9999}" -lt 2000 -o "${cpu:-9999}" -lt 2000 ]
sum1=$(cat "$LAB_TMP"/pki2/*.crt | md5sum)
t0=$(lab_now_ms)
"$HERE/mkcerts.sh" "$LAB_TMP/pki2"
t=$(ms_since "$t0")
check "mkcerts.sh is idempotent (second run ${t} ms, nothing changed)" \
    [ "$t" -lt 200 -a "$sum1" = "$(cat "$LAB_TMP"/pki2/*.crt | md5sum)" ]
out=$("$HERE/mkcerts.sh" "$LAB_TMP/pki3" 2>&1)
check "mkcerts.sh is quiet" [ -z "$out" ]
verify() { openssl verify -CAfile "$C/$1" "${@:3}" "$C/$2.crt" >/dev/null 2>&1; }
for n in server server-rsa client other client-noeku client-serverauth client-enc server-wrongsan; do
    check "cert $n chains to ca" verify ca.crt "$n"
done
check "server-expired is expired" bash -c "openssl verify -CAfile $C/ca.crt $C/server-expired.crt 2>&1 | grep -q 'certificate has expired'"
check "server-future is not yet valid" bash -c "openssl verify -CAfile $C/ca.crt $C/server-future.crt 2>&1 | grep -q 'not yet valid'"
check "client-unknownca does not chain to ca" bash -c "! openssl verify -CAfile $C/ca.crt $C/client-unknownca.crt >/dev/null 2>&1"
check "client-enc.key needs the password" bash -c "! openssl pkey -in $C/client-enc.key -passin pass:wrong -noout 2>/dev/null && openssl pkey -in $C/client-enc.key -passin file:$C/client-enc.pass -noout"
check "private keys and password files are mode 600" bash -c "[ -z \"\$(find $C -name '*.key' -perm /077; find $C -name '*.pass*' -perm /077)\" ]"
check "server SAN = localhost, 127.0.0.1, ::1, 10.0.2.2" bash -c "openssl x509 -in $C/server.crt -noout -ext subjectAltName | grep -q 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.2.2'"

# ------------------------------------------------------------ two servers in parallel
t0=$(lab_now_ms)
lab_server_start a > "$LAB_TMP/a.port" & pa=$!
lab_server_start b > "$LAB_TMP/b.port" & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
t=$(ms_since "$t0")
A=$(cat "$LAB_TMP/a.port"); B=$(cat "$LAB_TMP/b.port")
check "two PyKMIP servers start in parallel (${t} ms for both; ports $A $B)" \
    [ $ra = 0 -a $rb = 0 -a -n "$A" -a -n "$B" -a "$A" != "$B" ]
check "server.conf has TLS1.2, client auth, own database, INFO" \
    grep -q "auth_suite=TLS1.2" "$LAB_TMP/srv-a/server.conf"
grep -q "enable_tls_client_auth=True" "$LAB_TMP/srv-a/server.conf" &&
grep -q "database_path=$LAB_TMP/srv-a/pykmip.db" "$LAB_TMP/srv-a/server.conf" &&
grep -q "logging_level=INFO" "$LAB_TMP/srv-a/server.conf" || fail "server.conf contents"

# single start-up times
times=()
for i in 1 2 3; do
    t0=$(lab_now_ms)
    lab_server_start "t$i" >/dev/null || fail "start t$i"
    times+=("$(ms_since "$t0")")
    lab_server_stop "t$i"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
echo "       start-up times (ms, sorted): $sorted"

# ------------------------------------------------------------ pyclient
for v in 1.2 2.0; do
    J=$(lab_pyclient a --version "$v" create --name "k-$v")
    U=$(echo "$J" | lab_json uid)
    say "create $v: $J"
    g1=$(lab_pyclient a --version "$v" get "$U")
    g2=$(lab_pyclient a --version 1.4 get "$U")
    h1=$(echo "$g1" | lab_json hex); h2=$(echo "$g2" | lab_json hex)
    check "KMIP $v create + get: AES 256, same bytes via 1.4" \
        [ -n "$U" -a ${#h1} = 64 -a "$h1" = "$h2" -a "$(echo "$g1" | lab_json algorithm)" = AES ]
    check "KMIP $v new key is PRE_ACTIVE" [ "$(lab_pyclient a --version "$v" get-state "$U" | lab_json state)" = PRE_ACTIVE ]
    lab_pyclient a --version "$v" activate "$U" >/dev/null
    check "KMIP $v activate -> ACTIVE" [ "$(lab_pyclient a --version "$v" get-state "$U" | lab_json state)" = ACTIVE ]
    check "KMIP $v locate by name" [ "$(lab_pyclient a --version "$v" locate --name "k-$v" | lab_json uids)" = "$U" ]
    check "KMIP $v destroy refused while ACTIVE" bash -c "! '$LAB_PY' '$HERE/pyclient.py' --lab '$LAB_TMP/srv-a' --version $v destroy $U >/dev/null"
    lab_pyclient a --version "$v" revoke "$U" --reason cessation >/dev/null
    check "KMIP $v revoke cessation -> DEACTIVATED" [ "$(lab_pyclient a --version "$v" get-state "$U" | lab_json state)" = DEACTIVATED ]
    J=$(lab_pyclient a --version "$v" destroy "$U")
    check "KMIP $v destroy" [ "$(echo "$J" | lab_json ok)" = true ]
    J=$(lab_pyclient a --version "$v" get "$U")
    check "KMIP $v get after destroy: ITEM_NOT_FOUND" [ "$(echo "$J" | lab_json reason)" = ITEM_NOT_FOUND ]
done
S=$(lab_pyclient a --version 2.0 register-secret --hex "$(printf '%064d' 7)" --name sec --group grp | lab_json uid)
lab_pyclient a activate "$S" >/dev/null
check "register-secret + group locate" [ "$(lab_pyclient a locate --group grp | lab_json uids)" = "$S" ]
check "secret bytes come back" [ "$(lab_pyclient a get "$S" | lab_json hex)" = "$(printf '%064d' 7)" ]
check "revoke compromise -> COMPROMISED" bash -c "'$LAB_PY' '$HERE/pyclient.py' --lab '$LAB_TMP/srv-a' revoke $S --reason compromise >/dev/null && [ \"\$('$LAB_PY' '$HERE/pyclient.py' --lab '$LAB_TMP/srv-a' get-state $S | grep -o COMPROMISED)\" = COMPROMISED ]"
check "other-owner gets PERMISSION_DENIED" [ "$(lab_pyclient a --client other get "$S" | lab_json reason)" = PERMISSION_DENIED ]
check "password-protected client key works" [ "$(lab_pyclient a --client client-enc get "$S" | lab_json ok)" = true ]
check "client without EKU: AUTHENTICATION_NOT_SUCCESSFUL" [ "$(lab_pyclient a --client client-noeku get "$S" | lab_json reason)" = AUTHENTICATION_NOT_SUCCESSFUL ]
lab_server_policy a "$HERE/policies/shared.json" || fail "lab_server_policy"
SH=$(lab_pyclient a create --name shared-key --policy shared | lab_json uid)
check "policy 'shared': other-owner may get, not revoke" \
    [ "$(lab_pyclient a --client other get "$SH" | lab_json ok)" = true -a \
      "$(lab_pyclient a --client other revoke "$SH" --reason cessation | lab_json reason)" = PERMISSION_DENIED ]
check "lab_port_listening" lab_port_listening "$A"
check "server b does not see server a's keys" [ -z "$(lab_pyclient b locate | lab_json uids)" ]
check "discover-versions: 2.0 .. 1.0" [ "$(lab_pyclient a discover-versions | lab_json versions | tr '\n' ' ')" = "2.0 1.4 1.3 1.2 1.1 1.0 " ]

# ------------------------------------------------------------ TLS negatives (openssl s_client)
sclient() { # PORT extra-args... -> prints the s_client output
    timeout 10 openssl s_client -connect "127.0.0.1:$1" -CAfile "$C/ca.crt" "${@:2}" </dev/null 2>&1
}
good=(-cert "$C/client.crt" -key "$C/client.key")
check "good client: handshake, IP SAN verified" bash -c "$(declare -f sclient); C=$C; sclient $A -cert $C/client.crt -key $C/client.key -verify_ip 127.0.0.1 -verify_return_error | grep -q 'Verify return code: 0 (ok)'"
out=$(sclient "$A" "${good[@]}" -tls1_2)
cipher=$(echo "$out" | sed -n 's/.*Cipher is \(.*\)/\1/p' | head -n 1)
echo "       default TLS 1.2 cipher with the EC server cert: $cipher"
check "TLS 1.3 is refused by PyKMIP" bash -c "$(declare -f sclient); C=$C; sclient $A -cert $C/client.crt -key $C/client.key -tls1_3 | grep -q 'alert handshake failure'"
check "no client certificate: handshake failure" bash -c "$(declare -f sclient); C=$C; sclient $A | grep -q 'alert handshake failure'"
for n in client-unknownca:'unknown ca' client-selfsigned:'unknown ca' client-serverauth:'unsupported certificate'; do
    cert=${n%%:*}; msg=${n#*:}
    check "$cert: TLS alert '$msg'" bash -c "$(declare -f sclient); C=$C; sclient $A -cert $C/$cert.crt -key $C/$cert.key | grep -q 'alert $msg'"
done
for n in expired future wrongsan unknownca rsa; do
    lab_server_start "$n" --cert "server-$n" > "$LAB_TMP/$n.port" &
done
wait
for n in expired:'certificate has expired' future:'certificate is not yet valid' wrongsan:'IP address mismatch' unknownca:'unable to get local issuer certificate'; do
    name=${n%%:*}; msg=${n#*:}
    P=$(cat "$LAB_TMP/$name.port")
    check "server-$name: client sees '$msg'" bash -c "$(declare -f sclient); C=$C; sclient $P -cert $C/client.crt -key $C/client.key -verify_ip 127.0.0.1 -verify_return_error | grep -q 'Verification error: $msg'"
done
P=$(cat "$LAB_TMP/rsa.port")
check "server-rsa: ECDHE-RSA-AES128-SHA256 works" bash -c "$(declare -f sclient); C=$C; sclient $P -cert $C/client.crt -key $C/client.key -tls1_2 -cipher ECDHE-RSA-AES128-SHA256 | grep -q 'Cipher is ECDHE-RSA-AES128-SHA256'"
check "server-rsa: no ECDHE-RSA-AES-GCM" bash -c "$(declare -f sclient); C=$C; ! sclient $P -cert $C/client.crt -key $C/client.key -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384 | grep -q 'Cipher is ECDHE'"
out=$(sclient "$P" "${good[@]}" -tls1_2)
echo "       default TLS 1.2 cipher with the RSA server cert: $(echo "$out" | sed -n 's/.*Cipher is \(.*\)/\1/p' | head -n 1)"
for n in expired future wrongsan unknownca rsa; do lab_server_stop "$n"; done

# ------------------------------------------------------------ stop kills only its own
pgb=$(cat "$LAB_TMP/srv-b/pid")
pga=$(cat "$LAB_TMP/srv-a/pid")
lab_server_stop b
check "stop b: b's process group is gone" bash -c "! ps -o stat= -g $pgb | grep -q '^[^Z]'"
check "stop b: b's port refuses" [ "$(lab_connect_result 127.0.0.1 "$B")" = refused ]
check "stop b: a still runs and answers" [ "$(ps -o stat= -g "$pga" | grep -c '^[^Z]')" -ge 1 -a "$(lab_pyclient a locate --group grp | lab_json uids)" = "$S" ]
t0=$(lab_now_ms)
lab_server_restart a
t=$(ms_since "$t0")
check "restart a: same port, keys kept (${t} ms)" [ "$(lab_server_port a)" = "$A" -a "$(lab_pyclient a locate --group grp | lab_json uids)" = "$S" ]

# ------------------------------------------------------------ failure injection
R=$(lab_refused_port)
check "refused port refuses" [ "$(lab_connect_result 127.0.0.1 "$R")" = refused ]
BH=$(lab_blackhole_start bh)
check "blackhole accepts TCP" [ "$(lab_connect_result 127.0.0.1 "$BH")" = connected ]
t0=$(lab_now_ms)
J=$(PYC --port "$BH" --cert "$C/client.crt" --key "$C/client.key" --ca "$C/ca.crt" --timeout 1 discover-versions)
check "blackhole: TLS handshake times out ($(ms_since "$t0") ms)" bash -c "echo '$J' | grep -q 'timed out'"

NS=$(lab_netns_create)
if [ -n "$NS" ]; then
    NIP=$(lab_netns_ip "$NS")
    check "netns $NS ($NIP): no listener -> refused" [ "$(lab_connect_result "$NIP" 5696 1)" = refused ]
    lab_netns_mode "$NS" drop
    t0=$(lab_now_ms)
    r=$(lab_connect_result "$NIP" 5696 1)
    check "netns drop: SYN blackhole, connect times out ($(ms_since "$t0") ms)" [ "$r" = timeout ]
    lab_netns_mode "$NS" reject
    check "netns reject: refused" [ "$(lab_connect_result "$NIP" 5696 1)" = refused ]
    lab_netns_mode "$NS" accept
    NP=$(lab_netns_server_start nsrv "$NS")
    J=$(lab_pyclient nsrv create --name in-ns)
    check "PyKMIP inside the namespace at $NIP:$NP" [ "$(echo "$J" | lab_json ok)" = true ]
    check "its certificate verifies for $NIP" bash -c "$(declare -f sclient); timeout 10 openssl s_client -connect $NIP:$NP -CAfile $C/ca.crt -cert $C/client.crt -key $C/client.key -verify_ip $NIP -verify_return_error </dev/null 2>&1 | grep -q 'Verify return code: 0'"
    lab_netns_mode "$NS" drop
    J=$(lab_pyclient nsrv --timeout 1 discover-versions)
    check "netns drop with a live server: client times out" bash -c "echo '$J' | grep -qi 'timed out'"
    lab_netns_mode "$NS" accept
    check "netns accept again: server answers" [ "$(lab_pyclient nsrv discover-versions | lab_json ok)" = true ]
else
    fail "lab_netns_create"
fi

# proxy: mid-stream cut of the first connection only
PX=$(lab_proxy_start px "$A" --cut-after-bytes 20 --first 1)
J1=$(PYC --port "$PX" --lab "$LAB_TMP/srv-a" discover-versions)
J2=$(PYC --port "$PX" --lab "$LAB_TMP/srv-a" discover-versions)
check "proxy --cut-after-bytes 20 --first 1: 1st fails, 2nd works" \
    [ "$(echo "$J1" | lab_json ok)" = false -a "$(echo "$J2" | lab_json ok)" = true ]
check "proxy events log the cut" bash -c "grep -q 'close 1 cut-bytes-s2c' '$LAB_TMP/bg/px/events'"
PI=$(lab_proxy_start pi "$A" --idle-drop 0.5)
idle=$("$LAB_PY" - "$PI" "$C" <<'EOF'
import socket, ssl, sys, time
port, c = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=c + "/ca.crt")
ctx.load_cert_chain(c + "/client.crt", c + "/client.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                    server_hostname="127.0.0.1")
s.settimeout(5)
t = time.time()
try:
    d = s.recv(1)
except OSError:
    d = b"x"
print("%d %d" % (len(d), (time.time() - t) * 1000))
EOF
)
set -- $idle
check "proxy --idle-drop 0.5: idle connection closed after ${2:-?} ms" [ "${1:-1}" = 0 -a "${2:-0}" -ge 400 -a "${2:-9999}" -lt 1500 ]
PF=$(lab_proxy_start pf "$A")
lab_proxy_freeze pf
J=$(PYC --port "$PF" --lab "$LAB_TMP/srv-a" --timeout 1 discover-versions)
check "proxy frozen: request times out" bash -c "echo '$J' | grep -qi 'timed out'"
lab_proxy_thaw pf
check "proxy thawed: works again" [ "$(PYC --port "$PF" --lab "$LAB_TMP/srv-a" discover-versions | lab_json ok)" = true ]
PD=$(lab_proxy_start pd "$A" --delay-ms 300)
t0=$(lab_now_ms)
PYC --port "$PD" --lab "$LAB_TMP/srv-a" discover-versions >/dev/null
t=$(ms_since "$t0")
check "proxy --delay-ms 300 adds latency (${t} ms)" [ "$t" -ge 900 ]

# fake server
FR=$(lab_fake_start fr)
check "fake reply: PyKMIP client accepts the canned Discover Versions" \
    [ "$(PYC --port "$FR" --lab "$LAB_TMP/srv-a" discover-versions | lab_json versions)" = 1.2 ]
check "fake server logs the request in hex" bash -c "grep -q '^request 1 1 420078' '$LAB_TMP/bg/fr/events'"
for m in truncated oversized stall close close-notify reset garbage; do
    P=$(lab_fake_start "f-$m" --mode "$m" --hold 5)
    t0=$(lab_now_ms)
    J=$(PYC --port "$P" --lab "$LAB_TMP/srv-a" --timeout 2 discover-versions)
    check "fake --mode $m: client fails ($(ms_since "$t0") ms: $(echo "$J" | lab_json error | cut -c1-60))" \
        [ "$(echo "$J" | lab_json ok)" = false ]
done
P=$(lab_fake_start f-slow --mode slow --interval-ms 5)
check "fake --mode slow: byte by byte, still a valid reply" \
    [ "$(PYC --port "$P" --lab "$LAB_TMP/srv-a" discover-versions | lab_json ok)" = true ]

# ------------------------------------------------------------ config
lab_config "$LAB_TMP/k.conf" "$A" timeout_ms=1500 kmip_version=2.0
check "lab_config writes [default] servers/ca/cert/key" bash -c "
    grep -qx 'servers = 127.0.0.1:$A' '$LAB_TMP/k.conf' &&
    grep -qx 'ca = $C/ca.crt' '$LAB_TMP/k.conf' && grep -qx 'cert = $C/client.crt' '$LAB_TMP/k.conf' &&
    grep -qx 'timeout_ms = 1500' '$LAB_TMP/k.conf' && grep -qx 'kmip_version = 2.0' '$LAB_TMP/k.conf' &&
    ! grep -q key_password_file '$LAB_TMP/k.conf' && [ \$(stat -c %a '$LAB_TMP/k.conf') = 600 ]"
lab_config "$LAB_TMP/k2.conf" "127.0.0.1:$R, 127.0.0.1:$A" client=client-enc
check "lab_config client=client-enc adds key_password_file" grep -qx "key_password_file = $C/client-enc.pass" "$LAB_TMP/k2.conf"

# ------------------------------------------------------------ cleanup
mine=$(cat "$LAB_TMP"/srv-*/pid "$LAB_TMP"/bg/*/pid 2>/dev/null | tr '\n' ' ')
nsname=${NS:-none}
LAB_KEEP=0 lab_cleanup
trap - EXIT
left=0
for p in $mine; do ps -o stat= -g "$p" 2>/dev/null | grep -q '^[^Z]' && left=1; done
check "cleanup: every process group the test started is gone" [ $left = 0 ]
check "cleanup: namespace $nsname deleted" bash -c "! ip netns list | grep -q '^$nsname '"
check "cleanup: temp dir removed" [ ! -d "$LAB_TMP" ]

echo
[ $FAILS = 0 ] && echo "lab selftest: all ok" || echo "lab selftest: $FAILS FAILED"
[ $FAILS = 0 ]
