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
# A server named by a DNS name whose DNS server does not answer: the name
# resolution is bounded by the same deadline (the resolver alone would take
# "timeout:5 attempts:2" = 10 s).  A private mount namespace gives kmipcrypt
# a resolv.conf naming a loopback address of its own, where a UDP socket of
# this test reads and never answers (and ends by itself after 60 s).
if command -v unshare >/dev/null; then
	dns=127.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))
	printf 'nameserver %s\noptions timeout:5 attempts:2\n' "$dns" >"$LAB_TMP/resolv.conf"
	"$LAB_PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open(sys.argv[2], "w").write("ready")
time.sleep(60)' "$dns" "$LAB_TMP/dns.ready" 2>"$LAB_TMP/dns.err" &
	dns_pid=$!
	if lab_wait_for 10 test -s "$LAB_TMP/dns.ready"; then
		c=$(cfg dns "kms.kmipcrypt-test.example:5696" timeout_ms=$T)
		t0=$(lab_now_ms)
		expect_rc 2 "DNS server not answering: exit 2" unshare -m sh -c \
			'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$LAB_TMP/resolv.conf" \
			timeout 60 "$KMIPCRYPT" -c "$c" key show "$uid"
		ms=$(( $(lab_now_ms) - t0 ))
		cp "$LAB_TMP/out" "$LAB_TMP/dns.out"
		kill "$dns_pid" 2>/dev/null
		expect_grep "no answer from the DNS servers in time" "... says so" cat "$LAB_TMP/dns.out"
		[ "$ms" -ge "$T" ] && [ "$ms" -lt $((T + 1500)) ] || fail "DNS blackhole took $ms ms, deadline $T ms"
		echo "ok DNS blackhole failed after $ms ms (deadline $T ms)"
	else
		echo "# SKIP no UDP socket on $dns:53 ($(tail -n 1 "$LAB_TMP/dns.err"))"
	fi
	kill "$dns_pid" 2>/dev/null
	wait "$dns_pid" 2>/dev/null
fi

expect_rc 0 "failover: dead servers first, the last one good" \
	k "$(cfg failover "$failover" timeout_ms=$T)" key show "$uid"
expect_grep "Active" "failover reached the good server" k "$LAB_TMP/failover.conf" key show "$uid"
expect_rc 3 "all fail, one on TLS: exit 3 wins" \
	k "$(cfg mixed "127.0.0.1:$refused, 127.0.0.1:$expired" timeout_ms=$T)" key show "$uid"

# ------------------------------------------- input files: never block, secrets for their owner
# A FIFO nobody writes to, given as any input file: a blocking open would wait
# for ever (--timeout does not help: nothing is sent yet).  Each is refused at
# once, naming the file and what it is; `timeout 10` turns a hang into 124.
fifo=$LAB_TMP/fifo
mkfifo "$fifo" || fail "mkfifo"
# quick WHAT NEEDLE CONF|- ARGS...: kmipcrypt [-c CONF] ARGS exits 1 quickly (never 124:
# it did not block) and says NEEDLE.
quick() {
	local what=$1 needle=$2 conf=$3 rc t0 ms
	shift 3
	[ "$conf" = - ] || set -- -c "$conf" "$@"
	t0=$(lab_now_ms)
	timeout 10 "$KMIPCRYPT" "$@" >"$LAB_TMP/out" 2>&1
	rc=$?
	ms=$(( $(lab_now_ms) - t0 ))
	sed 's/^/    | /' "$LAB_TMP/out"
	[ "$rc" != 124 ] || fail "$what: still blocked after 10 s"
	[ "$rc" = 1 ] || fail "$what: exit $rc, want 1"
	grep -qF -- "$needle" "$LAB_TMP/out" || fail "$what: no '$needle' in the output"
	echo "ok $what: exit 1 in $ms ms"
}
isfifo="$fifo is a FIFO (named pipe), not a regular file"
quick "-c FIFO" "$isfifo" "$fifo" key show "$uid"
# line_of CONF KEY: the line of KEY in CONF (errors name it)
line_of() { grep -n "^$2 = " "$1" | cut -d: -f1; }
for key in ca cert key key_password_file; do
	c=$(cfg "fifo-$key" "$good" client=client-enc "$key=$fifo")
	quick "$key = FIFO" "$c:$(line_of "$c" "$key"): [default] $key: $isfifo" "$c" key show "$uid"
done
quick "key register --secret-file FIFO" "$isfifo" "$ok_conf" key register --type aes --secret-file "$fifo"
quick "key get --kek-file FIFO" "$isfifo" "$ok_conf" key get "$uid" --wrap-key "$uid" --kek-file "$fifo"
quick "ttlv dump FIFO" "$isfifo; give - to read standard input" - ttlv dump "$fifo"
quick "ttlv convert FIFO" "$isfifo" - ttlv convert --to xml "$fifo"
# The lists of volumes: --from LIST and --crypttab FILE (an explicitly named
# file must exist; the default /etc/crypttab may be missing).
quick "status --from FIFO" "the list of volumes (--from): $isfifo" "$ok_conf" status --from "$fifo"
quick "unlock --all --from FIFO" "the list of volumes (--from): $isfifo" "$ok_conf" unlock --all --test --from "$fifo"
quick "unlock --all --crypttab FIFO" "the crypttab (--crypttab): $isfifo" "$ok_conf" unlock --all --test --crypttab "$fifo"
quick "status --crypttab FIFO" "the crypttab (--crypttab): $isfifo" "$ok_conf" status --crypttab "$fifo" --no-blkid
quick "status --from a missing file" \
	"the list of volumes (--from): cannot open $LAB_TMP/none.list: No such file or directory" \
	"$ok_conf" status --from "$LAB_TMP/none.list"
expect_eq "$(grep -c none.list "$LAB_TMP/out")" 1 "... said once"
quick "unlock --all --crypttab a missing file" \
	"the crypttab (--crypttab): cannot open $LAB_TMP/none.tab: No such file or directory" \
	"$ok_conf" unlock --all --test --crypttab "$LAB_TMP/none.tab"
expect_eq "$(grep -c none.tab "$LAB_TMP/out")" 1 "... said once"
# /dev/null is how one says "none": an empty list, no crypttab (not a FIFO's fate).
expect_rc 0 "status --from /dev/null: an empty list" k "$ok_conf" status --from /dev/null
expect_rc 0 "status --crypttab /dev/null --no-blkid: no crypttab" k "$ok_conf" status --crypttab /dev/null --no-blkid
quick "a directory as ca" "$LAB_TMP is a directory, not a regular file; ca names one file of PEM certificates" \
	"$(cfg dirca "$good" ca="$LAB_TMP")" key show "$uid"
# The host copy of a key-encryption key, read by unlock.
printf 'pw' >"$LAB_TMP/pw"
truncate -s 32M "$LAB_TMP/kek.img"
cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode \
	"$LAB_TMP/kek.img" "$LAB_TMP/pw" || fail "luksFormat"
(umask 077; head -c 32 /dev/urandom >"$LAB_TMP/kek.bin")
kek=$(k "$ok_conf" key register --type aes --secret-file "$LAB_TMP/kek.bin" --name neg-kek --activate) ||
	fail "register the KEK"
expect_rc 0 "enroll a volume-key binding wrapped by a KEK" k "$ok_conf" enroll "$LAB_TMP/kek.img" \
	--kind volume-key --wrap-key "$kek" --kek-file "$LAB_TMP/kek.bin" --key-file "$LAB_TMP/pw"
expect_rc 0 "... it unlocks with the KEK file" k "$ok_conf" unlock "$LAB_TMP/kek.img" --test \
	--kek-file "$LAB_TMP/kek.bin"
quick "unlock --kek-file FIFO" "$isfifo" "$ok_conf" unlock "$LAB_TMP/kek.img" --test --kek-file "$fifo"
quick "unlock DEVICE --crypttab FIFO" "the crypttab (--crypttab): $isfifo" \
	"$ok_conf" unlock "$LAB_TMP/kek.img" --test --kek-file "$LAB_TMP/kek.bin" --crypttab "$fifo"

# Secret files are for their owner only (as OpenSSH wants private keys), with the fix in the message.
for f in client.key client-enc.pass; do cp "$C/$f" "$LAB_TMP/open-$f"; done
chmod 644 "$LAB_TMP/open-client.key"
c=$(cfg openkey "$good" key="$LAB_TMP/open-client.key")
quick "a client key readable by all" \
	"$c:$(line_of "$c" key): [default] key: $LAB_TMP/open-client.key: mode 0644 gives its group and other users access, and a secret must not be accessible to others: run 'chmod 600 $LAB_TMP/open-client.key'" \
	"$c" key show "$uid"
chmod 640 "$LAB_TMP/open-client.key"
quick "a client key readable by its group" "mode 0640 gives its group access" "$c" key show "$uid"
chmod 600 "$LAB_TMP/open-client.key"
expect_rc 0 "... chmod 600 as told: works" k "$c" key show "$uid"
chmod 640 "$LAB_TMP/open-client-enc.pass"
c=$(cfg openpass "$good" client=client-enc key_password_file="$LAB_TMP/open-client-enc.pass")
quick "a key password file readable by its group" \
	"[default] key_password_file: $LAB_TMP/open-client-enc.pass: mode 0640 gives its group access" \
	"$c" key show "$uid"
chmod 644 "$LAB_TMP/kek.bin"
quick "a KEK file readable by all" "run 'chmod 600 $LAB_TMP/kek.bin'" \
	"$ok_conf" unlock "$LAB_TMP/kek.img" --test --kek-file "$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"

# Errors found while setting up TLS name the file, line, group and key.
c=$(cfg cipher "$good" cipher_suites=FOO:ECDHE-ECDSA-AES128-GCM-SHA256)
quick "unknown cipher: file, line, group, key" \
	"$c:$(line_of "$c" cipher_suites): [default] cipher_suites: unknown cipher 'FOO'" "$c" key show "$uid"
c=$(cfg nocert "$good" cert="$LAB_TMP/none.crt")
quick "missing certificate: file, line, group, key" \
	"$c:$(line_of "$c" cert): [default] cert: cannot open $LAB_TMP/none.crt: No such file or directory" \
	"$c" key show "$uid"
c=$(cfg mismatch "$good" key="$C/other.key")
quick "key of another certificate: file, line, group, key" \
	"$c:$(line_of "$c" key): [default] key: the client key $C/other.key does not belong to the client certificate" \
	"$c" key show "$uid"
# A UTF-8 byte-order mark (as Notepad writes) is skipped, not a cascade of errors.
{ printf '\357\273\277'; cat "$ok_conf"; } >"$LAB_TMP/bom.conf"
chmod 600 "$LAB_TMP/bom.conf"
expect_rc 0 "a configuration starting with a UTF-8 byte-order mark works" k "$LAB_TMP/bom.conf" key show "$uid"
expect_nogrep "^kmipcrypt: " "... without a word on stderr" k "$LAB_TMP/bom.conf" key show "$uid"

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
