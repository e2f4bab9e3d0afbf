#!/bin/bash
# kmipcrypt key against failing servers: each failure gets its own message
# and the documented exit code (2 unreachable, 3 TLS/authentication, 4 key),
# network failures end within the configured deadline, and failover reaches
# the last good server.  Real PyKMIP servers with good and bad certificates.
. "$(dirname "$0")/common.sh"
C=$LAB_CERTS
good=$(lab_server_start good)
expired=$(lab_server_start expired --cert server-expired)
wrongsan=$(lab_server_start wrongsan --cert server-wrongsan)
refused=$(lab_refused_port)
hole=$(lab_blackhole_start hole)
T=1500

cfg() { local f=$LAB_TMP/$1.conf; shift; lab_config "$f" "$@"; echo "$f"; }
# k CONF ARGS...: kmipcrypt with that config
k() { local c=$1; shift; "$KMIPCRYPT" -c "$c" "$@"; }

ok_conf=$(cfg ok "$good" timeout_ms=$T)
uid=$(k "$ok_conf" key create --name neg) || fail "create on the good server"

expect_rc 3 "unknown CA: exit 3" k "$(cfg unknownca "$good" ca="$C/unknown-ca.crt")" key show "$uid"
expect_grep "unknown CA" "unknown CA: says so" k "$LAB_TMP/unknownca.conf" key show "$uid"
expect_rc 3 "expired server certificate: exit 3" k "$(cfg expired "$expired")" key show "$uid"
expect_grep "expired" "expired: says so" k "$LAB_TMP/expired.conf" key show "$uid"
expect_rc 3 "host name mismatch: exit 3" k "$(cfg wrongsan "$wrongsan")" key show "$uid"
expect_grep "mismatch" "host name mismatch: says so" k "$LAB_TMP/wrongsan.conf" key show "$uid"
other_pin=$(openssl x509 -in "$C/server-rsa.crt" -pubkey -noout | openssl pkey -pubin -outform DER |
	sha256sum | cut -d' ' -f1)
good_pin=$(openssl x509 -in "$C/server.crt" -pubkey -noout | openssl pkey -pubin -outform DER |
	sha256sum | cut -d' ' -f1)
expect_rc 0 "matching pin: works" k "$(cfg pinok "$good" pin_sha256="$good_pin")" key show "$uid"
expect_rc 3 "pin mismatch: exit 3" k "$(cfg pinbad "$good" pin_sha256="$other_pin")" key show "$uid"
expect_grep "pin" "pin mismatch: says so" k "$LAB_TMP/pinbad.conf" key show "$uid"
expect_rc 3 "client certificate without clientAuth: exit 3" \
	k "$(cfg serverauth "$good" client=client-serverauth)" key show "$uid"
expect_rc 3 "client certificate without any EKU (PyKMIP: Authentication Not Successful): exit 3" \
	k "$(cfg noeku "$good" client=client-noeku)" key show "$uid"
expect_rc 3 "client certificate of an unknown CA: exit 3" \
	k "$(cfg clientunknown "$good" client=client-unknownca)" key show "$uid"
expect_rc 0 "password-protected client key (key_password_file): works" \
	k "$(cfg enc "$good" client=client-enc)" key show "$uid"
# Without key_password_file, the password is asked on the terminal (echo off).
cfg prompt "$good" client=client-enc key_password_file= >/dev/null
expect_rc 0 "password-protected client key, password typed at the prompt" \
	"$LAB_PY" tests/integration/pty-answer.py "Password for the client key" "$(cat "$C/client-enc.pass")" \
	"$KMIPCRYPT" -c "$LAB_TMP/prompt.conf" key show "$uid"
expect_nogrep "$(cat "$C/client-enc.pass")" "the typed password is not echoed" cat "$LAB_TMP/out"
expect_rc 1 "wrong password typed: exit 1" \
	"$LAB_PY" tests/integration/pty-answer.py "Password for the client key" "wrong-password" \
	"$KMIPCRYPT" -c "$LAB_TMP/prompt.conf" key show "$uid"
expect_rc 4 "another owner's key: exit 4" k "$(cfg other "$good" client=other)" key show "$uid"

expect_rc 2 "server refused: exit 2" k "$(cfg refused "$refused" timeout_ms=$T)" key show "$uid"
expect_grep "refused" "refused: says so" k "$LAB_TMP/refused.conf" key show "$uid"

t0=$(lab_now_ms)
expect_rc 2 "blackholed server (accepts, never answers): exit 2" \
	k "$(cfg hole "$hole" timeout_ms=$T)" key show "$uid"
ms=$(( $(lab_now_ms) - t0 ))
[ "$ms" -ge "$T" ] && [ "$ms" -lt $((T + 1500)) ] || fail "blackhole took $ms ms, deadline $T ms"
echo "ok blackhole failed after $ms ms (deadline $T ms)"

if ns=$(lab_netns_create 2>/dev/null) && lab_netns_mode "$ns" drop; then
	syn=$(lab_netns_ip "$ns"):5696
	t0=$(lab_now_ms)
	expect_rc 2 "SYN blackhole: exit 2" k "$(cfg syn "$syn" timeout_ms=$T)" key show "$uid"
	ms=$(( $(lab_now_ms) - t0 ))
	[ "$ms" -ge "$T" ] && [ "$ms" -lt $((T + 1500)) ] || fail "SYN blackhole took $ms ms, deadline $T ms"
	echo "ok SYN blackhole failed after $ms ms (deadline $T ms)"
	failover="127.0.0.1:$refused, $syn, 127.0.0.1:$hole, 127.0.0.1:$good"
else
	echo "# no network namespaces here: SYN blackhole skipped"
	failover="127.0.0.1:$refused, 127.0.0.1:$hole, 127.0.0.1:$good"
fi
expect_rc 0 "failover: dead servers first, the last one good" \
	k "$(cfg failover "$failover" timeout_ms=$T)" key show "$uid"
expect_grep "Active" "failover reached the good server" k "$LAB_TMP/failover.conf" key show "$uid"
expect_rc 3 "all fail, one on TLS: exit 3 wins" \
	k "$(cfg mixed "127.0.0.1:$refused, 127.0.0.1:$expired" timeout_ms=$T)" key show "$uid"

# An answer sent the moment the prompt shows is not lost (echo is turned off,
# flushing pending input, before the prompt is written, not after): 40 times
# in a row enroll gets the passphrase and goes on to the device (exit 5 for a
# missing one) instead of waiting at the prompt until pty-answer's 30 s kill.
lost=0
for _ in $(seq 1 40); do
	"$LAB_PY" tests/integration/pty-answer.py "Enter an existing passphrase of /nonexistent: " "pw" \
		"$KMIPCRYPT" -c "$(cfg prompt "127.0.0.1:$refused")" enroll /nonexistent >/dev/null 2>&1
	[ $? = 5 ] || lost=$((lost + 1))
done
expect_eq "$lost" 0 "an immediate answer at the prompt is never lost (40 tries)"
pass
