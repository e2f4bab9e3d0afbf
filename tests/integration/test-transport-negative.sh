#!/bin/bash
# transport-negative.sh: the mTLS transport (src/net/transport.c) against the
# real PyKMIP server of tests/lab, through tests/integration/tls-probe.c (one
# KMIP 1.2 Discover Versions over the transport's failover).  Every failure
# case must end with its own errno / exit code and its own message:
#
#   good                      exit 0, "result: success"
#   unknown CA (server)       exit 3, EKEYREJECTED, "(unknown CA)"
#   wrong CA given to client  exit 3, EKEYREJECTED, "(unknown CA)"
#   expired server cert       exit 3, EKEYREJECTED, "expired on 2021-01-01"
#   not-yet-valid server cert exit 3, EKEYREJECTED, "check this host's clock"
#   host name mismatch        exit 3, EKEYREJECTED, "host name mismatch"
#   pin mismatch              exit 3, EKEYREJECTED, "does not match the pin" + both hashes
#   no client certificate     exit 3, EKEYREJECTED, "requires a client certificate"
#   client cert w/o clientAuth (EKU serverAuth only)
#                             exit 3, EKEYREJECTED, alert "unsupported certificate"
#   client cert w/o any EKU   handshake passes; PyKMIP answers Result Reason
#                             Authentication Not Successful (probe exit 3)
#   client cert of unknown CA exit 3, EKEYREJECTED, alert "unknown CA"
#   TLS 1.3 minimum           exit 3, EKEYREJECTED, "may not speak TLS 1.3"
#   wrong key password        exit 1, EACCES, "wrong key_password"
#   ca, cert or key a FIFO    exit 1 at once, "is a FIFO (named pipe)" (never waited on)
#   key readable by others    exit 1, EACCES, "run 'chmod 600 KEY'"
#   unknown cipher name       exit 1, "cipher_suites: unknown cipher 'FOO'"
#   refused                   exit 2, ECONNREFUSED
#   blackhole listener        exit 2, ETIMEDOUT within the deadline ("TLS handshake timed out")
#   SYN blackhole (netns)     exit 2, ETIMEDOUT within the deadline ("timed out (no answer)")
#   failover                  refused + SYN blackhole + good: success on the last
#   idle drop (proxy)         reconnect before the next write, success
#   all fail, one on TLS      exit 3 (EKEYREJECTED wins over the network errors)
#
# Usage: tests/integration/transport-negative.sh   (root; needs python3-pykmip)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lab/lib.sh
lab_init || exit 1

n=0 fail=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }

# ------------------------------------------------------------------ probe
# The library of the kmipcrypt under test (run.sh sets KMIPCRYPT), brought up to date.
build=$(realpath --relative-to=. "$(dirname "${KMIPCRYPT:-build/kmipcrypt}")")
make -s BUILD="$build" "$build/libkmipcrypt.a" || exit 1
PROBE=$LAB_TMP/tls-probe
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Isrc -o "$PROBE" \
	tests/integration/tls-probe.c "$build/libkmipcrypt.a" \
	$(pkg-config --cflags --libs libssl libcrypto) || exit 1

C=$LAB_CERTS
TIMEOUT=2000
SLACK=700	# ms allowed past the deadline (process start, PyKMIP, a busy machine)

# probe NAME [probe options...] SERVER...: runs the probe with the lab CA and
# the good client certificate unless the options override them; sets OUT, RC, MS.
probe() {
	local name=$1 t0
	shift
	t0=$(lab_now_ms)
	# timeout: a probe that blocks (on a FIFO, say) fails its check with 124, not the run
	OUT=$(timeout 30 "$PROBE" --timeout "$TIMEOUT" "$@" 2>&1)
	RC=$?
	MS=$(( $(lab_now_ms) - t0 ))
	printf '%s\n' "--- $name (exit $RC, $MS ms)" "$OUT" | sed 's/^/# /'
}
std() { echo --ca "$C/ca.crt" --cert "$C/$1.crt" --key "$C/$1.key"; }

# expect DESC RC TEXT...: the last probe exited RC and printed every TEXT.
expect() {
	local desc=$1 rc=$2 t
	shift 2
	if [ "$RC" != "$rc" ]; then
		not_ok "$desc: exit $RC, expected $rc"
		return
	fi
	for t in "$@"; do
		if ! grep -qF -- "$t" <<<"$OUT"; then
			not_ok "$desc: no \"$t\" in the output"
			return
		fi
	done
	ok "$desc"
}

# within DESC LIMIT_MS: the last probe took at most LIMIT_MS.
within() {
	if [ "$MS" -le "$2" ]; then
		ok "$1 ($MS ms <= $2 ms)"
	else
		not_ok "$1 ($MS ms > $2 ms)"
	fi
}

# ------------------------------------------------------------------ servers
start() {	# start NAME CERT
	local p
	p=$(lab_server_start "$1" --cert "$2") || { lab_log "cannot start $1"; exit 1; }
	eval "P_$1=$p"
}
start main server
start rsa server-rsa
start unknownca server-unknownca
start expired server-expired
start future server-future
start wrongsan server-wrongsan

# ------------------------------------------------------------------ good
probe good $(std client) -v "127.0.0.1:$P_main"
expect "good: Discover Versions over mTLS" 0 "result: success" "1.2"
expect "good: TLS 1.2, forward-secret AEAD suite with an EC certificate" 0 \
	"TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"
for i in 1 2 3 4 5; do
	probe "good (timing $i)" $(std client) -v "127.0.0.1:$P_main"
	grep -o 'TLS handshake [0-9]* ms' <<<"$OUT" | sed 's/^/# timing: /'
done

probe "good by name" $(std client) -v "localhost:$P_main"
expect "good: by DNS name (localhost, SNI)" 0 "result: success"

probe "rsa" $(std client) -v "127.0.0.1:$P_rsa"
expect "RSA server certificate: ECDHE-RSA CBC-SHA256/384 suite (PyKMIP has no RSA-GCM)" 0 \
	"result: success" "TLSv1.2 ECDHE-RSA-AES"

pin=$(openssl x509 -in "$C/server.crt" -pubkey -noout |
	openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
other=$(openssl x509 -in "$C/server-rsa.crt" -pubkey -noout |
	openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
probe "pin match" $(std client) --pin "$pin" "127.0.0.1:$P_main"
expect "pin: matching SPKI SHA-256" 0 "result: success"

# ------------------------------------------------------------------ TLS failures
probe "unknown CA" $(std client) "127.0.0.1:$P_unknownca"
expect "server certificate of an unknown CA" 3 "EKEYREJECTED" "(unknown CA)"

probe "wrong CA" --ca "$C/bundle-wrong-ca.crt" --cert "$C/client.crt" \
	--key "$C/client.key" "127.0.0.1:$P_main"
expect "client given the wrong CA" 3 "EKEYREJECTED" "(unknown CA)"

probe expired $(std client) "127.0.0.1:$P_expired"
expect "expired server certificate" 3 "EKEYREJECTED" "expired on 2021-01-01"

probe future $(std client) "127.0.0.1:$P_future"
expect "not yet valid server certificate" 3 "EKEYREJECTED" "check this host's clock"

probe wrongsan $(std client) "127.0.0.1:$P_wrongsan"
expect "host name mismatch (IP)" 3 "EKEYREJECTED" "host name mismatch"
probe "wrongsan by name" $(std client) "localhost:$P_wrongsan"
expect "host name mismatch (DNS name)" 3 "EKEYREJECTED" "not valid for localhost"

probe "pin mismatch" $(std client) --pin "$other" "127.0.0.1:$P_main"
expect "pin mismatch, both hashes shown" 3 "EKEYREJECTED" "does not match the pin" \
	"expected SHA-256 $other" "server has $pin"

probe "no client cert" --ca "$C/ca.crt" "127.0.0.1:$P_main"
expect "no client certificate" 3 "EKEYREJECTED" \
	"the server requires a client certificate and none is configured"

probe "serverAuth-only client cert" $(std client-serverauth) "127.0.0.1:$P_main"
expect "client certificate without clientAuth (serverAuth only)" 3 "EKEYREJECTED" \
	"the server rejected our client certificate" "unsupported certificate"

probe "no-EKU client cert" $(std client-noeku) "127.0.0.1:$P_main"
expect "client certificate without any EKU: KMIP Authentication Not Successful" 3 \
	"Authentication Not Successful"

probe "client cert of unknown CA" $(std client-unknownca) "127.0.0.1:$P_main"
expect "client certificate of an unknown CA" 3 "EKEYREJECTED" \
	"the server rejected our client certificate" "unknown CA"

probe "tls 1.3" $(std client) --tls-min 1.3 "127.0.0.1:$P_main"
expect "tls_min_version 1.3 against PyKMIP (TLS 1.2 only)" 3 "EKEYREJECTED" \
	"may not speak TLS 1.3"

probe "key password" $(std client-enc) --key-password-file "$C/client-enc.pass" \
	"127.0.0.1:$P_main"
expect "encrypted client key, right password" 0 "result: success"
echo -n not-it > "$LAB_TMP/bad.pass"
probe "bad key password" $(std client-enc) --key-password-file "$LAB_TMP/bad.pass" \
	"127.0.0.1:$P_main"
expect "encrypted client key, wrong password" 1 "EACCES" "wrong key_password"
if grep -qF not-it <<<"$OUT"; then not_ok "password not printed"; else ok "password not printed"; fi

# ------------------------------------------------------------------ files
# OpenSSL opens no file itself: the transport reads the CA, the certificate
# and the key through kmipcrypt's reader, which refuses a FIFO at once (a
# blocking open would wait for a writer for ever) and a key others can read.
mkfifo "$LAB_TMP/fifo"
for f in ca cert key; do
	case $f in
	ca) args="--ca $LAB_TMP/fifo --cert $C/client.crt --key $C/client.key" ;;
	cert) args="--ca $C/ca.crt --cert $LAB_TMP/fifo --key $C/client.key" ;;
	key) args="--ca $C/ca.crt --cert $C/client.crt --key $LAB_TMP/fifo" ;;
	esac
	# shellcheck disable=SC2086
	probe "$f fifo" $args "127.0.0.1:$P_main"
	expect "$f is a FIFO: refused at once" 1 "$f: $LAB_TMP/fifo is a FIFO (named pipe), not a regular file"
	within "$f is a FIFO: not waited on" 2000
done
cp "$C/client.key" "$LAB_TMP/open.key" && chmod 644 "$LAB_TMP/open.key"
probe "key readable by all" --ca "$C/ca.crt" --cert "$C/client.crt" --key "$LAB_TMP/open.key" \
	"127.0.0.1:$P_main"
expect "client key readable by others: refused, with the fix" 1 "EACCES" \
	"mode 0644 gives its group and other users access" "run 'chmod 600 $LAB_TMP/open.key'"
probe "unknown cipher" $(std client) --ciphers "FOO:ECDHE-ECDSA-AES128-GCM-SHA256" "127.0.0.1:$P_main"
expect "a cipher name OpenSSL does not know: refused, not skipped" 1 "cipher_suites: unknown cipher 'FOO'"
cat "$C/client.crt" "$C/ca.crt" >"$LAB_TMP/chain.crt"
probe "chain" --ca "$C/ca.crt" --cert "$LAB_TMP/chain.crt" --key "$C/client.key" "127.0.0.1:$P_main"
expect "a client certificate followed by its chain" 0 "result: success"

# ------------------------------------------------------------------ network failures
refused=$(lab_refused_port)
probe refused $(std client) "127.0.0.1:$refused"
expect "connection refused" 2 "ECONNREFUSED" "Connection refused"

bh=$(lab_blackhole_start bh) || exit 1
probe "blackhole listener" $(std client) "127.0.0.1:$bh"
expect "listener that never speaks TLS" 2 "ETIMEDOUT" "TLS handshake timed out after $TIMEOUT ms"
within "handshake deadline honoured" $((TIMEOUT + SLACK))

ns=
if command -v ip >/dev/null && command -v nft >/dev/null; then
	ns=$(lab_netns_create) && lab_netns_mode "$ns" drop || ns=
fi
if [ -n "$ns" ]; then
	nsip=$(lab_netns_ip "$ns")
	probe "SYN blackhole" $(std client) "$nsip:5696"
	expect "SYN blackhole (netns, TCP dropped)" 2 "ETIMEDOUT" "timed out (no answer)"
	within "connect deadline honoured" $((TIMEOUT + SLACK))

	probe failover $(std client) -v "127.0.0.1:$refused" "$nsip:5696" "127.0.0.1:$P_main"
	expect "failover: refused, blackholed, then good" 0 "result: success" \
		"connected: 127.0.0.1:$P_main" "127.0.0.1:$refused: connect to 127.0.0.1: Connection refused; trying the next server" \
		"$nsip:5696: connect to $nsip timed out (no answer); trying the next server"
	within "failover within one deadline plus slack" $((TIMEOUT + SLACK))
else
	ok "# SKIP no network namespaces here: SYN blackhole"
	probe failover $(std client) -v "127.0.0.1:$refused" "127.0.0.1:$bh" "127.0.0.1:$P_main"
	expect "failover: refused, blackhole listener, then good" 0 "result: success" \
		"connected: 127.0.0.1:$P_main"
fi

# An idle connection dropped by a middlebox (the lab proxy's idle timeout):
# noticed before the next write, reconnected, nothing lost.
px=$(lab_proxy_start idle "$P_main" --idle-drop 1) || exit 1
probe "idle drop" $(std client) --repeat 2 --pause-ms 1800 --non-idempotent "127.0.0.1:$px"
expect "idle connection dropped by a proxy: reconnect before the write" 0 \
	"closed the idle connection; reconnecting" "result: success"
if [ "$(grep -c '^accept' "$LAB_TMP/bg/idle/events")" = 2 ]; then
	ok "idle drop: exactly one reconnection"
else
	not_ok "idle drop: $(grep -c '^accept' "$LAB_TMP/bg/idle/events") connections, expected 2"
fi

probe "all fail" $(std client) "127.0.0.1:$refused" "127.0.0.1:$P_wrongsan" "127.0.0.1:$bh"
expect "all fail, one on TLS: EKEYREJECTED wins, every server named" 3 "EKEYREJECTED" \
	"tried 127.0.0.1:$refused (connection refused), 127.0.0.1:$P_wrongsan (TLS/authentication failure), 127.0.0.1:$bh (timed out)"

probe "all network" $(std client) "127.0.0.1:$refused" "127.0.0.1:$bh"
expect "all fail on the network: the primary's error, what to check" 2 "ECONNREFUSED" \
	"Check that the servers run"

echo "1..$n"
exit $fail
