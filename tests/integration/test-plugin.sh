#!/bin/bash
# The LUKS2 token plugin libcryptsetup-token-kmip.so through libcryptsetup's
# real plugin loader (cryptsetup 2.6.1), against the real PyKMIP server over
# mutual TLS: `cryptsetup open --test-passphrase --token-only` unlocks
# volumes enrolled by kmipcrypt (passphrase and envelope kinds) and a
# hand-made token (an independent check of the keyslot passphrase encoding,
# base64 of the secret); `cryptsetup luksDump` shows the token through the
# plugin's dump hook and never a secret; a volume-key token is declined at
# once; a key revoked, compromised or destroyed behind kmipcrypt's back with
# PyKMIP's own client is refused quickly; a stopped, blackholed or missing
# server fails within the configured deadline, never with -ENOANO (55, which
# would loop systemd-cryptsetup's PIN prompt), and cryptsetup then falls back
# to the passphrase.
#
# The plugin name is fixed by the token type, so the test installs the
# build's plugin into libcryptsetup's plugin directory (the one
# `cryptsetup --help` names) with `make install-plugin`, under a lock so
# that two runs do not collide, and afterwards removes it only if this test
# installed it (or puts back the file it replaced).  The plugin reads its
# configuration from $KMIPCRYPT_CONFIG here (test/admin hook; the default is
# /etc/kmipcrypt/kmipcrypt.conf).
LAB_NO_TRAP=1
. "$(dirname "$0")/common.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$KMIPCRYPT")" && pwd)
rel=$(realpath --relative-to="$root" "$build")
so=libcryptsetup-token-kmip.so
mk() { make -s --no-print-directory -C "$root" BUILD="$rel" "$@"; }

plugin_dir=$(cryptsetup --help | sed -n 's/^LUKS2 external token plugin path: \(.*\)\.$/\1/p')
[ -n "$plugin_dir" ] || fail "this cryptsetup has no external token plugin support"
installed=$plugin_dir/$so

# ------------------------------------------------ install, and put back after
plugin_state=untouched	# untouched | same | installed | replaced
plugin_restore() {
	case $plugin_state in
	installed) rm -f "$installed" && echo "removed $installed (installed by this test)" ;;
	replaced) cp -p "$LAB_TMP/plugin.orig" "$installed.tmp.$$" &&
		mv -f "$installed.tmp.$$" "$installed" && echo "put back the $installed this test replaced" ;;
	esac
	plugin_state=untouched
}
trap 'plugin_restore; lab_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

exec 9>/run/lock/kmipcrypt-test-plugin.lock
flock -w 600 9 || fail "another run holds /run/lock/kmipcrypt-test-plugin.lock"

mk "$rel/$so" || fail "cannot build $rel/$so"
plugin=$build/$so
expect_eq "$(realpath "$(mk print-plugin-dir)")" "$(realpath "$plugin_dir")" \
	"make install-plugin targets cryptsetup's plugin directory"

# Exactly the six hooks are exported, each with the version node CRYPTSETUP_TOKEN_1.0.
exports=$(objdump -T "$plugin" | awk '$2 == "g" && $4 == ".text" { print $6 " " $7 }' | sort)
expect_eq "$exports" "$(printf 'CRYPTSETUP_TOKEN_1.0 %s\n' cryptsetup_token_buffer_free \
	cryptsetup_token_dump cryptsetup_token_open cryptsetup_token_open_pin \
	cryptsetup_token_validate cryptsetup_token_version)" "exports: the six hooks, versioned"
expect_nogrep "NEEDED.*libkmipcrypt" "libkmipcrypt is linked in" objdump -p "$plugin"
expect_grep "BIND_NOW" "linked with -z now" readelf -d "$plugin"
expect_grep "GNU_RELRO" "linked with -z relro" readelf -lW "$plugin"

if [ -e "$installed" ]; then
	if cmp -s "$plugin" "$installed"; then
		plugin_state=same
	else
		cp -p "$installed" "$LAB_TMP/plugin.orig" || fail "cannot back up $installed"
		plugin_state=replaced
	fi
else
	plugin_state=installed
fi
mk install-plugin || fail "make install-plugin"
cmp -s "$plugin" "$installed" || fail "$installed is not the build's plugin"
echo "ok installed $installed (state: $plugin_state)"

# ------------------------------------------------------------------ the lab
port=$(lab_server_start main)
[ -n "$port" ] || fail "PyKMIP did not start"
T=1500
conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$port" timeout_ms=$T
export KMIPCRYPT_CONFIG=$conf
K() { "$KMIPCRYPT" -c "$conf" "$@"; }
version=$("$KMIPCRYPT" --version | awk '{ print $2 }')

printf 'old passphrase' >"$LAB_TMP/pass"
newimg() {	# newimg NAME [luksFormat options]: a LUKS2 image with the passphrase in keyslot 0
	local img=$LAB_TMP/$1.img
	shift
	truncate -s 32M "$img"
	cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--batch-mode "$@" "$img" "$LAB_TMP/pass" || fail "luksFormat $img"
	echo "$img"
}
# topen IMG [cryptsetup options]: the token only, check only (no device-mapper here)
topen() { local img=$1; shift; cryptsetup open --test-passphrase --token-only "$@" "$img"; }
# topen_with CONF IMG [options]: the same with another configuration file
topen_with() { local c=$1 img=$2; shift 2; KMIPCRYPT_CONFIG=$c cryptsetup open --test-passphrase --token-only "$@" "$img"; }
# expect_nofixed STRING WHAT FILE: FILE does not contain STRING (no regex: base64 has + and /)
expect_nofixed() {
	[ -n "$1" ] || fail "$2: empty string to look for"
	! grep -qF -- "$1" "$3" || fail "$2: found in $3"
	echo "ok $2"
}
token_json() { cryptsetup token export --token-id "${2:-0}" "$1"; }
json_field() { "$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# ms_of CMD...: run CMD (output to $LAB_TMP/out), print its duration in ms
ms_of() { local t0; t0=$(lab_now_ms); "$@" >"$LAB_TMP/out" 2>&1; echo $(( $(lab_now_ms) - t0 )); }

# enroll IMG KIND: kmipcrypt enroll, prints the token's uid
enroll() {
	K enroll "$1" --kind "$2" --key-file "$LAB_TMP/pass" >"$LAB_TMP/enroll.out" 2>&1 ||
		{ sed 's/^/    | /' "$LAB_TMP/enroll.out" >&2; fail "kmipcrypt enroll $2"; }
	token_json "$1" | json_field uid
}
# handmade IMG SLOT: bind IMG by hand, independently of kmipcrypt's enroll: a
# Secret Data registered with kmipcrypt key, keyslot SLOT added by cryptsetup
# with base64 of it, a token written by hand.  Prints the uid.
handmade() {
	local img=$1 slot=$2 id
	head -c 32 /dev/urandom >"$img.secret"
	id=$(K key register --type secret --secret-file "$img.secret" --name "plugin-$slot-$RANDOM" \
		--activate) || fail "key register"
	base64 -w0 "$img.secret" >"$img.b64"
	cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot "$slot" \
		--key-file "$LAB_TMP/pass" "$img" "$img.b64" >/dev/null 2>&1 || fail "luksAddKey"
	printf '{"type":"kmip","keyslots":["%s"],"kmip_version":1,"kind":"passphrase","uid":"%s","group":"default"}' \
		"$slot" "$id" >"$img.json"
	cryptsetup token import --json-file "$img.json" --key-slot "$slot" "$img" >/dev/null || fail "token import"
	echo "$id"
}

# ---------------------------------------------------- a hand-made token
img2=$(newimg hand) || exit 1
huid=$(handmade "$img2" 3) || exit 1
expect_grep "Key slot 3 unlocked" "hand-made token: the plugin's passphrase opens keyslot 3" topen "$img2" -v
expect_grep "Token handler kmip-$version loaded successfully" "the plugin is loaded by name, version $version" \
	topen "$img2" --debug
cryptsetup luksDump "$img2" >"$LAB_TMP/dump2" 2>&1 || fail "luksDump"
sed 's/^/    | /' "$LAB_TMP/dump2"
expect_grep "^  [0-9]+: kmip$" "luksDump lists the kmip token" cat "$LAB_TMP/dump2"
expect_grep "kind: +passphrase" "luksDump shows the kind (dump hook)" cat "$LAB_TMP/dump2"
expect_grep "uid: +$huid\$" "luksDump shows the key uid" cat "$LAB_TMP/dump2"
expect_grep "group: +default" "luksDump shows the server group" cat "$LAB_TMP/dump2"
expect_grep "object group: +not recorded" "... and that the hand-made token records no Object Group" cat "$LAB_TMP/dump2"
expect_grep "protocol: +not recorded" "... nor a KMIP version" cat "$LAB_TMP/dump2"
expect_nofixed "$(head -c 12 "$img2.b64")" "luksDump shows no secret (base64, the keyslot passphrase)" "$LAB_TMP/dump2"
expect_nofixed "$(xxd -p -c 64 "$img2.secret" | cut -c1-16)" "luksDump shows no secret (hex)" "$LAB_TMP/dump2"
topen "$img2" --debug >"$LAB_TMP/debug" 2>&1 || fail "open --debug"
expect_nofixed "$(head -c 12 "$img2.b64")" "debug log of an open shows no secret (base64)" "$LAB_TMP/debug"
expect_nofixed "$(xxd -p -c 64 "$img2.secret" | cut -c1-16)" "debug log of an open shows no secret (hex)" "$LAB_TMP/debug"

# A token the plugin's validate rejects is not imported.
sed 's/"passphrase"/"tpm"/' "$img2.json" >"$LAB_TMP/bad.json"
expect_rc 1 "a token of unknown kind is refused by the plugin's validate" \
	cryptsetup token import --json-file "$LAB_TMP/bad.json" --key-slot 3 "$img2"
expect_grep "unknown kind" "validate says why" \
	cryptsetup token import --json-file "$LAB_TMP/bad.json" --key-slot 3 "$img2"

# A volume-key token (hand-made; no server needed to decline it).
img4=$(newimg vk) || exit 1
printf '{"type":"kmip","keyslots":["0"],"kmip_version":1,"kind":"volume-key","uid":"%s","group":"default"}' \
	"$huid" >"$LAB_TMP/vk.json"
cryptsetup token import --json-file "$LAB_TMP/vk.json" --key-slot 0 "$img4" || fail "token import (volume-key)"
ms=$(ms_of topen "$img4")
expect_rc 1 "volume-key kind: the plugin declines (cryptsetup exits 1)" topen "$img4"
expect_grep "No usable token" "volume-key kind: 'No usable token' (-ENOENT, not a PIN request)" topen "$img4" -v
expect_grep "kmipcrypt unlock" "volume-key kind: --debug says to use kmipcrypt unlock" topen "$img4" --debug
[ "$ms" -lt 1000 ] || fail "volume-key decline took $ms ms"
echo "ok volume-key declined in $ms ms"

# A token naming the wrong object (an AES key for kind passphrase) before a
# good token: the plugin says so and libcryptsetup goes on to the next token.
img5=$(newimg mismatch) || exit 1
handmade "$img5" 3 >/dev/null || exit 1
aes=$(K key create --name "plugin-aes-$RANDOM") || fail "key create"
sed "s/\"uid\":\"[^\"]*\"/\"uid\":\"$aes\"/" "$img5.json" >"$LAB_TMP/mismatch.json"
cryptsetup token remove --token-id 0 "$img5" || fail "token remove"
cryptsetup token import --token-id 0 --json-file "$LAB_TMP/mismatch.json" --key-slot 3 "$img5" || fail "import bad"
cryptsetup token import --token-id 1 --json-file "$img5.json" --key-slot 3 "$img5" || fail "import good"
topen "$img5" -v >"$LAB_TMP/mismatch.out" 2>&1
expect_grep "Key slot 3 unlocked" "wrong object in token 0, good token 1: unlocks with token 1" cat "$LAB_TMP/mismatch.out"
expect_grep "token 0: key '$aes' cannot be this token's secret" "... token 0's message says it names the wrong object" cat "$LAB_TMP/mismatch.out"
expect_grep "needs Secret Data: the token names the wrong object" "... and why" cat "$LAB_TMP/mismatch.out"
cryptsetup token remove --token-id 1 "$img5" || fail "token remove"
expect_rc 1 "only the wrong-object token: cryptsetup exits 1" topen "$img5"

# ------------------------------------------ volumes enrolled by kmipcrypt
img=$(newimg pass) || exit 1
uid=$(enroll "$img" passphrase) || exit 1
[ -n "$uid" ] || fail "no uid in the enrolled token"
expect_grep "Key slot [1-9][0-9]* unlocked" "enrolled passphrase kind: cryptsetup opens it through the plugin" \
	topen "$img" -v
cryptsetup luksDump "$img" >"$LAB_TMP/dump" 2>&1 || fail "luksDump"
sed 's/^/    | /' "$LAB_TMP/dump"
expect_grep "kind: +passphrase" "enrolled: luksDump shows the kind" cat "$LAB_TMP/dump"
expect_grep "uid: +$uid\$" "enrolled: luksDump shows the key uid" cat "$LAB_TMP/dump"
og=$(cryptsetup --disable-external-tokens token export --token-id 0 "$img" | lab_json object_group)
[ -n "$og" ] || fail "the enrolled token records no Object Group"
expect_grep "object group: +$og\$" "enrolled: luksDump shows the Object Group ($og)" cat "$LAB_TMP/dump"
expect_grep "protocol: +KMIP [12]\.[0-9]\$" "enrolled: luksDump shows the KMIP version spoken at enroll" cat "$LAB_TMP/dump"
secret_hex=$(K key get "$uid" --show-secret --json | lab_json material)
[ ${#secret_hex} = 64 ] || fail "the enrolled secret is not 32 bytes: ${#secret_hex} hex digits"
secret_b64=$(echo "$secret_hex" | xxd -r -p | base64 -w0)
expect_nofixed "${secret_hex:0:16}" "enrolled: luksDump shows no secret (hex)" "$LAB_TMP/dump"
expect_nofixed "${secret_b64:0:12}" "enrolled: luksDump shows no secret (base64)" "$LAB_TMP/dump"
# What enroll registered as the keyslot passphrase is base64 of the secret.
expect_rc 0 "enrolled keyslot passphrase = base64(secret): cryptsetup accepts it" \
	sh -c "printf %s '$secret_b64' | cryptsetup open --test-passphrase --key-file - '$img'"

img3=$(newimg env) || exit 1
euid=$(enroll "$img3" envelope) || exit 1
expect_grep "Key slot [1-9][0-9]* unlocked" "enrolled envelope kind: the KMS decrypts, the plugin opens" \
	topen "$img3" -v
cryptsetup luksDump "$img3" >"$LAB_TMP/dump3" 2>&1
sed 's/^/    | /' "$LAB_TMP/dump3"
ct=$(token_json "$img3" | json_field ciphertext)
expect_grep "kind: +envelope" "enrolled: luksDump: envelope kind" cat "$LAB_TMP/dump3"
expect_grep "uid: +$euid\$" "enrolled: luksDump: envelope key uid" cat "$LAB_TMP/dump3"
expect_nofixed "${ct:0:16}" "enrolled: luksDump shows no envelope ciphertext" "$LAB_TMP/dump3"

# kmipcrypt registers AES keys of up to 256 bits: aes-xts with two 128-bit halves.
img6=$(newimg vk2 --key-size 256) || exit 1
enroll "$img6" volume-key >/dev/null
expect_grep "No usable token" "enrolled volume-key kind: declined" topen "$img6" -v
expect_grep "kind: +volume-key" "enrolled volume-key: luksDump shows the kind" cryptsetup luksDump "$img6"

# ----------------------------------------- failures: never -ENOANO (55)
# check_fail WHAT IMG WANT_ERRNO MAX_MS [env...]: the token fails with errno
# WANT (libcryptsetup's debug line), exits non-zero, within MAX_MS; $last_ms
# gets how long it took, $LAB_TMP/fail.out what cryptsetup said.
check_fail() {
	local what=$1 img=$2 want=$3 max=$4 rc ms t0
	shift 4
	t0=$(lab_now_ms)
	# timeout: a hang (a FIFO opened blocking) fails the check instead of the whole run
	env "$@" timeout 60 cryptsetup open --test-passphrase --token-only --debug "$img" \
		>"$LAB_TMP/fail.out" 2>&1
	rc=$?
	ms=$(( $(lab_now_ms) - t0 ))
	grep -E "kmipcrypt|Token [0-9]+ \(kmip\)" "$LAB_TMP/fail.out" | sed 's/^/    | /'
	[ $rc != 124 ] || fail "$what: cryptsetup still blocked after 60 s"
	[ $rc != 0 ] || fail "$what: cryptsetup succeeded"
	grep -q "open failed with -55\." "$LAB_TMP/fail.out" && fail "$what: -ENOANO (a PIN request)"
	grep -qE "Token [0-9]+ \(kmip\) open failed with -$want\." "$LAB_TMP/fail.out" ||
		fail "$what: want -$want from the plugin"
	[ $ms -le "$max" ] || fail "$what: took $ms ms, limit $max"
	last_ms=$ms
	echo "ok $what: -$want, exit $rc, $ms ms"
}

# Keys revoked behind kmipcrypt's back (PyKMIP's own client): refused, fast.
lab_pyclient main revoke "$huid" --reason cessation >/dev/null || fail "pyclient revoke"
expect_eq "$(lab_pyclient main get-state "$huid" | lab_json state)" "DEACTIVATED" "PyKMIP: key Deactivated"
check_fail "Deactivated key" "$img2" 128 3000
expect_grep "Deactivated" "Deactivated key: the plugin says so" cat "$LAB_TMP/fail.out"
# The passphrase still works when the token fails: cryptsetup falls back to it
# (systemd-cryptsetup likewise falls back on anything but -ENOANO).
expect_rc 0 "revoked key: cryptsetup falls back to the passphrase" \
	sh -c "cryptsetup open --test-passphrase '$img2' <'$LAB_TMP/pass'"

img7=$(newimg comp) || exit 1
cuid=$(handmade "$img7" 2) || exit 1
lab_pyclient main revoke "$cuid" --reason compromise >/dev/null || fail "pyclient revoke (compromise)"
check_fail "Compromised key" "$img7" 128 3000
expect_grep "Compromised" "Compromised key: the plugin says so" cat "$LAB_TMP/fail.out"

img8=$(newimg gone) || exit 1
duid=$(handmade "$img8" 4) || exit 1
lab_pyclient main revoke "$duid" --reason superseded >/dev/null || fail "pyclient revoke (superseded)"
lab_pyclient main destroy "$duid" >/dev/null || fail "pyclient destroy"
check_fail "destroyed key" "$img8" 128 3000
expect_grep "[Dd]estroyed" "destroyed key: the plugin says so" cat "$LAB_TMP/fail.out"

lab_pyclient main revoke "$euid" --reason compromise >/dev/null || fail "pyclient revoke (envelope)"
check_fail "Compromised envelope key: the KMS will not decrypt" "$img3" 128 3000

# Server problems: a fresh volume on a good key, then break the server.
img5=$(newimg down) || exit 1
handmade "$img5" 5 >/dev/null
expect_rc 0 "a fresh volume opens" topen "$img5"

# Missing configuration (the token cannot be used on this host): -ENOENT.
check_fail "no configuration file" "$img5" 2 1000 KMIPCRYPT_CONFIG="$LAB_TMP/none.conf"
expect_grep "none.conf not found" "no configuration file: named" cat "$LAB_TMP/fail.out"
if [ ! -e /etc/kmipcrypt/kmipcrypt.conf ]; then
	check_fail "default configuration path" "$img5" 2 1000 -u KMIPCRYPT_CONFIG
	expect_grep "/etc/kmipcrypt/kmipcrypt.conf not found" "without KMIPCRYPT_CONFIG: the default path" \
		cat "$LAB_TMP/fail.out"
fi

# KMIPCRYPT_CONFIG is read with secure_getenv(): a program run with AT_SECURE
# (here a set-group-ID copy of cryptsetup) ignores it and uses the default.
if [ ! -e /etc/kmipcrypt/kmipcrypt.conf ] && getent group nogroup >/dev/null &&
	! findmnt -no OPTIONS -T "$LAB_TMP" | grep -qw nosuid; then
	cp "$(command -v cryptsetup)" "$LAB_TMP/cryptsetup-sgid"
	chgrp nogroup "$LAB_TMP/cryptsetup-sgid" && chmod 2755 "$LAB_TMP/cryptsetup-sgid"
	KMIPCRYPT_CONFIG=$conf "$LAB_TMP/cryptsetup-sgid" open --test-passphrase --token-only -v "$img5" \
		>"$LAB_TMP/sgid.out" 2>&1 && fail "set-group-ID cryptsetup used KMIPCRYPT_CONFIG"
	sed 's/^/    | /' "$LAB_TMP/sgid.out"
	expect_grep "/etc/kmipcrypt/kmipcrypt.conf not found" \
		"set-group-ID cryptsetup ignores KMIPCRYPT_CONFIG (secure_getenv)" cat "$LAB_TMP/sgid.out"
	expect_rc 0 "the same KMIPCRYPT_CONFIG works for the plain cryptsetup" topen_with "$conf" "$img5"
else
	echo "SKIP: secure_getenv check (needs no /etc/kmipcrypt/kmipcrypt.conf, group nogroup, suid mount)" >&2
fi

# Blackholed servers (TCP accepts, TLS never answers): each costs timeout_ms.
h1=$(lab_blackhole_start hole1)
h2=$(lab_blackhole_start hole2)
lab_config "$LAB_TMP/hole.conf" "127.0.0.1:$h1, 127.0.0.1:$h2" timeout_ms=$T
check_fail "two blackholed servers, timeout_ms $T" "$img5" 11 $((2 * T + 1500)) KMIPCRYPT_CONFIG="$LAB_TMP/hole.conf"
expect_grep "timed out" "blackhole: says timed out" cat "$LAB_TMP/fail.out"
[ "$last_ms" -ge $((2 * T - 200)) ] || fail "two blackholed servers gave up after $last_ms ms, before their timeouts"
echo "ok each blackholed server got its timeout_ms ($last_ms ms in all)"

# Four kmip tokens against a stalled server: one `cryptsetup open` is bounded
# as a whole.  The first token finds the group unreachable after timeout_ms;
# the three others do not ask it again (before: four times timeout_ms).
img9=$(newimg four) || exit 1
printf '{"type":"kmip","keyslots":["0"],"kmip_version":1,"kind":"passphrase","uid":"%s","group":"default"}' \
	"$huid" >"$LAB_TMP/four.json"
for _ in 1 2 3 4; do
	cryptsetup token import --json-file "$LAB_TMP/four.json" --key-slot 0 "$img9" || fail "token import"
done
expect_eq "$(cryptsetup luksDump "$img9" | grep -c '^  [0-9]*: kmip$')" 4 "an image with four kmip tokens"
lab_config "$LAB_TMP/hole1.conf" "127.0.0.1:$h1" timeout_ms=$T
check_fail "four tokens, one stalled server, timeout_ms $T" "$img9" 11 $((2 * T + 1500)) \
	KMIPCRYPT_CONFIG="$LAB_TMP/hole1.conf"
[ "$last_ms" -ge $((T - 200)) ] || fail "four tokens gave up after $last_ms ms, before the timeout"
expect_eq "$(grep -c 'TLS handshake timed out' "$LAB_TMP/fail.out")" 1 "... the server was asked once"
expect_eq "$(grep -c 'did not answer token 0 of this open' "$LAB_TMP/fail.out")" 3 \
	"... the three other tokens say why they did not ask it"
echo "ok four tokens against a stalled server took $last_ms ms (timeout_ms $T; four times that before)"

# Failover: a blackholed first server, then the good one.
lab_config "$LAB_TMP/failover.conf" "127.0.0.1:$h1, 127.0.0.1:$port" timeout_ms=$T
expect_rc 0 "failover past a blackholed server" topen_with "$LAB_TMP/failover.conf" "$img5"

# Files the plugin reads that are FIFOs (nobody writes to them): refused at
# once, never waited on; the token is not for this host as configured (-ENOENT).
mkfifo "$LAB_TMP/fifo" || fail "mkfifo"
check_fail "the configuration is a FIFO" "$img5" 2 3000 KMIPCRYPT_CONFIG="$LAB_TMP/fifo"
expect_grep "fifo is a FIFO \(named pipe\), not a regular file" "... and says so" cat "$LAB_TMP/fail.out"
for key in ca cert key; do
	lab_config "$LAB_TMP/fifo-$key.conf" "$port" timeout_ms=$T "$key=$LAB_TMP/fifo"
	check_fail "$key is a FIFO" "$img5" 2 3000 KMIPCRYPT_CONFIG="$LAB_TMP/fifo-$key.conf"
	expect_grep "fifo-$key.conf:[0-9]+: \[default\] $key: $LAB_TMP/fifo is a FIFO" "... and says where" \
		cat "$LAB_TMP/fail.out"
done
# A client key others can read is refused, with the fix.
cp "$LAB_CERTS/client.key" "$LAB_TMP/open.key" && chmod 644 "$LAB_TMP/open.key"
lab_config "$LAB_TMP/openkey.conf" "$port" timeout_ms=$T key="$LAB_TMP/open.key"
check_fail "a client key readable by all" "$img5" 2 3000 KMIPCRYPT_CONFIG="$LAB_TMP/openkey.conf"
expect_grep "run 'chmod 600 $LAB_TMP/open.key'" "... with the fix" cat "$LAB_TMP/fail.out"

# The server stopped: connection refused, at once.
lab_server_stop main
check_fail "server down (refused)" "$img5" 11 2000
expect_grep "refused" "server down: says refused" cat "$LAB_TMP/fail.out"
expect_rc 0 "server down: cryptsetup falls back to the passphrase" \
	sh -c "cryptsetup open --test-passphrase '$img5' <'$LAB_TMP/pass'"

plugin_restore
pass
