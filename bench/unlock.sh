#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Unlock latency of a kmip-bound LUKS2 volume, end to end, check only (no
# device-mapper on the lab machines: the secret is fetched and verified
# against the header, no mapping is made), against its peers in the same run.
#
#   bench/unlock.sh [N]      N samples per row (default 20), in ROUNDS rounds
#
# Rows (each sample a new process, as at boot):
#   floor            cryptsetup open --test-passphrase --key-file: the LUKS2
#                    keyslot alone (PBKDF2, 1000 iterations), no KMS
#   kmipcrypt        kmipcrypt unlock IMG --test (passphrase kind): config,
#                    TLS handshake, Get Attributes (State), Get, keyslot
#   kmipcrypt-env    the same for the envelope kind (Decrypt on the server)
#   plugin           cryptsetup open --test-passphrase --token-only IMG with
#                    libcryptsetup-token-kmip.so (what systemd-cryptsetup
#                    does); only if the plugin can be installed for the run
#   pykmip-script    python3 bench/pykmip_unlock.py (ProxyKmipClient: State,
#                    Get) | cryptsetup open --test-passphrase --key-file -:
#                    what a script built on PyKMIP's client does
#   clevis-tang      clevis luks pass (a local Tang server, Debian's clevis and
#                    tang, served by socat) | cryptsetup open --test-passphrase
#                    --key-file -: the same image, bound to Tang as well
#                    (clevis also makes a PBKDF2 keyslot of 1000 iterations);
#                    only if clevis, tang and socat are installed
#   all-16           kmipcrypt unlock --all --test over 16 volumes of one
#                    server group, against one volume (the kmipcrypt row)
#   floor_16         the floor over the same 16 volumes, one process each, in
#                    a row: the keyslot checks alone
#   all-16-1         all-16 with --jobs 1: the sixteen proofs one after the
#                    other in one process (all-16 runs them in child
#                    processes, one per CPU)
#   dig-16, dig-16-1, dig-floor_16
#                    the same three over sixteen volumes whose LUKS2 digest
#                    has the PBKDF2 cost luksFormat gives it by default
#                    (benchmarked when formatted: ~125 ms of that CPU), which
#                    every activation pays; the other images force 1000
#                    iterations, the cheapest there is
#   wait_1, wait_16  of the kmipcrypt and all-16-1 rows, the time the process
#                    spends waiting for the server (strace -T: time in poll():
#                    TCP connect, TLS handshake, the answer); only if strace
#                    is installed.  With the floor they bound what any client
#                    could reach against this server on this machine (the
#                    notes under the table)
# Medians, ranges and ratios to the floor: Markdown on stdout and in
# bench/results/unlock-<date>.md; raw samples in build/bench/unlock-raw.txt.
# Targets (issue 8): kmipcrypt and plugin <= 1.7x the floor, all-16 <= 2.5x
# kmipcrypt.
#
# The plugin row installs the build's plugin into libcryptsetup's plugin
# directory for the run when none is there, and removes it afterwards; if
# another file is installed there, the row is skipped (never overwritten).
#
# Environment: KMIPCRYPT=path (default build/kmipcrypt, built if missing),
# ROUNDS=3, PYTHON=/usr/bin/python3, OUT=...
# The clevis row needs: apt-get install clevis clevis-luks tang socat; the
# wait rows need strace
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top" || exit 1

N=${1:-20}
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-bench/results/unlock-$(date +%Y-%m-%d).md}
B=build/bench
mkdir -p "$B" "$(dirname "$OUT")"

die() { echo "bench/unlock.sh: $*" >&2; exit 1; }
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 (EPOCHREALTIME)"
command -v cryptsetup >/dev/null || die "cryptsetup missing (make deps)"

if [ -z "${KMIPCRYPT:-}" ]; then
	KMIPCRYPT=build/kmipcrypt
	make -s build/kmipcrypt build/libcryptsetup-token-kmip.so >"$B/unlock-build.log" 2>&1 ||
		{ tail -5 "$B/unlock-build.log" >&2; die "cannot build (see $B/unlock-build.log)"; }
fi
KMIPCRYPT=$(realpath "$KMIPCRYPT")
plugin_build=$(dirname "$KMIPCRYPT")/libcryptsetup-token-kmip.so

# shellcheck source=../tests/lab/lib.sh
. tests/lab/lib.sh
lab_init >/dev/null || die "lab_init failed"

plugin_dir=$(cryptsetup --help | sed -n 's/^LUKS2 external token plugin path: \(.*\)\.$/\1/p')
plugin_installed=""
tang_pid=""
cleanup() {
	[ -n "$plugin_installed" ] && rm -f "$plugin_installed"
	[ -n "$tang_pid" ] && kill "$tang_pid" 2>/dev/null
	lab_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(lab_server_start bench) || die "PyKMIP server did not start"
conf=$LAB_TMP/k.conf
lab_config "$conf" "$port"
export KMIPCRYPT_CONFIG=$conf
pass=$LAB_TMP/pass
printf 'old passphrase' >"$pass"
newimg() {
	truncate -s 32M "$LAB_TMP/$1.img"
	cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--batch-mode "$LAB_TMP/$1.img" "$pass" >/dev/null || die "luksFormat"
	echo "$LAB_TMP/$1.img"
}
enroll() {
	"$KMIPCRYPT" -c "$conf" enroll "$1" --kind "$2" --key-file "$pass" >/dev/null ||
		die "enroll $1 ($2)"
}
img=$(newimg pass) && enroll "$img" passphrase
env_img=$(newimg env) && enroll "$env_img" envelope
: >"$LAB_TMP/list"
for i in $(seq 1 16); do
	v=$(newimg "many$i") && enroll "$v" passphrase
	echo "$v" >>"$LAB_TMP/list"
done
# The digest at luksFormat's default cost (keyslot 0 cheap, for the enroll):
# formatted once, copied with a new UUID each.
truncate -s 32M "$LAB_TMP/dig.img"
cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --iter-time 10 --batch-mode \
	"$LAB_TMP/dig.img" "$pass" >/dev/null || die "luksFormat (default digest)"
: >"$LAB_TMP/diglist"
for i in $(seq 1 16); do
	v=$LAB_TMP/dig$i.img
	cp "$LAB_TMP/dig.img" "$v" && cryptsetup luksUUID -q --uuid "$(cat /proc/sys/kernel/random/uuid)" "$v" ||
		die "copy $v"
	enroll "$v" passphrase
	echo "$v" >>"$LAB_TMP/diglist"
done
uid=$(cryptsetup --disable-external-tokens token export --token-id 0 "$img" |
	"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["uid"])')

plugin=no
if [ -n "$plugin_dir" ] && [ -f "$plugin_build" ]; then
	if [ ! -e "$plugin_dir/libcryptsetup-token-kmip.so" ]; then
		install -m 0644 "$plugin_build" "$plugin_dir/libcryptsetup-token-kmip.so" &&
			plugin_installed=$plugin_dir/libcryptsetup-token-kmip.so && plugin=yes
	elif cmp -s "$plugin_build" "$plugin_dir/libcryptsetup-token-kmip.so"; then
		plugin=yes
	fi
fi
[ $plugin = yes ] || echo "bench/unlock.sh: another token plugin is installed: plugin row skipped" >&2

# Clevis against a local Tang, on the same image (its own keyslot and token).
clevis=no
if command -v clevis >/dev/null && [ -x /usr/libexec/tangd ] && command -v socat >/dev/null; then
	mkdir -p "$LAB_TMP/tang"
	/usr/libexec/tangd-keygen "$LAB_TMP/tang" >/dev/null || die "tangd-keygen"
	tport=$(lab_freeport) || die "no free port for Tang"
	socat "TCP-LISTEN:$tport,reuseaddr,fork,bind=127.0.0.1" \
		EXEC:"/usr/libexec/tangd $LAB_TMP/tang" 2>/dev/null &
	tang_pid=$!
	lab_wait_for 5 lab_port_listening "$tport" || die "Tang did not start"
	clevis luks bind -y -d "$img" -k "$pass" tang "{\"url\":\"http://127.0.0.1:$tport\"}" \
		>/dev/null 2>&1 || die "clevis luks bind"
	cslot=$(cryptsetup luksDump --disable-external-tokens "$img" |
		sed -n '/^  [0-9]*: clevis$/,/Keyslot:/s/^[[:space:]]*Keyslot:[[:space:]]*//p' | head -1)
	[ -n "$cslot" ] || die "no clevis keyslot"
	clevis=yes
else
	echo "bench/unlock.sh: clevis, tang or socat missing (apt-get install clevis clevis-luks tang socat): clevis row skipped" >&2
fi

pyargs=(--port "$port" --cert "$LAB_CERTS/client.crt" --key "$LAB_CERTS/client.key"
	--ca "$LAB_CERTS/ca.crt")
floor()     { cryptsetup open --test-passphrase --disable-external-tokens --key-file "$pass" "$img"; }
kunlock()   { "$KMIPCRYPT" -c "$conf" unlock "$1" --test; }
viaplugin() { cryptsetup open --test-passphrase --token-only "$img"; }
pyscript()  { "$PYTHON" bench/pykmip_unlock.py "${pyargs[@]}" "$uid" |
		cryptsetup open --test-passphrase --disable-external-tokens --key-file - "$img"; }
all16()     { "$KMIPCRYPT" -c "$conf" unlock --all --test --from "${2:-$LAB_TMP/list}" ${1:+--jobs "$1"}; }
floor16()   { local v; while read -r v; do
		cryptsetup open --test-passphrase --disable-external-tokens --key-file "$pass" "$v" ||
			return; done <"${1:-$LAB_TMP/list}"; }
all16_1()   { all16 1; }
dig16()     { all16 "" "$LAB_TMP/diglist"; }
dig16_1()   { all16 1 "$LAB_TMP/diglist"; }
digfloor16() { floor16 "$LAB_TMP/diglist"; }
viaclevis() { clevis luks pass -d "$img" -s "$cslot" |
		cryptsetup open --test-passphrase --disable-external-tokens --key-file - "$img"; }

# Every row once: it must work before it is timed.
rows=(floor "kunlock $img" "kunlock $env_img" pyscript all16 all16_1 dig16)
[ $clevis = yes ] && rows+=(viaclevis)
for row in "${rows[@]}"; do
	$row >"$B/unlock-check.txt" 2>&1 || { cat "$B/unlock-check.txt" >&2; die "$row failed"; }
done
if [ $plugin = yes ]; then
	viaplugin >"$B/unlock-check.txt" 2>&1 || { cat "$B/unlock-check.txt" >&2; die "plugin failed"; }
fi

raw=$B/unlock-raw.txt
: >"$raw"
sample() {	# sample NAME CMD...: one timed run
	local name=$1 t0 t1
	shift
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>&1 || die "$name failed"
	t1=$EPOCHREALTIME
	echo "$name $(( 10#${t1/./} - 10#${t0/./} ))" >>"$raw"
}
# waited NAME CMD...: the microseconds CMD spent in poll(), i.e. waiting for
# the server (strace -T; tracing slows the process, not the server).
waited() {
	local name=$1
	shift
	strace -qq -f -T -e trace=poll,ppoll -o "$B/unlock-strace.txt" "$@" >/dev/null 2>&1 ||
		die "$name failed under strace"
	awk -v name="$name" '/poll\(/ { t = $NF; gsub(/[<>]/, "", t); s += t }
		END { printf "%s %d\n", name, s * 1000000 }' "$B/unlock-strace.txt" >>"$raw"
}
strace=no
command -v strace >/dev/null && strace=yes
[ $strace = yes ] || echo "bench/unlock.sh: strace missing: the wait rows are skipped" >&2
per=$(( (N + ROUNDS - 1) / ROUNDS ))
for _ in $(seq 1 "$ROUNDS"); do
	for _ in $(seq 1 "$per"); do
		sample floor floor
		sample kmipcrypt kunlock "$img"
		sample kmipcrypt-env kunlock "$env_img"
		[ $plugin = yes ] && sample plugin viaplugin
	done
	for _ in $(seq 1 "$(( (per + 2) / 3 ))"); do	# slow rows: a third as many
		sample pykmip-script pyscript
		sample all-16 all16
		sample all-16-1 all16_1
		sample floor_16 floor16
		sample dig-16 dig16
		sample dig-16-1 dig16_1
		sample dig-floor_16 digfloor16
		[ $clevis = yes ] && sample clevis-tang viaclevis
		if [ $strace = yes ]; then	# the commands themselves: strace runs no shell function
			waited wait_1 "$KMIPCRYPT" -c "$conf" unlock "$img" --test
			# --jobs 1: the parent's poll() on its children is no wait for the server
			waited wait_16 "$KMIPCRYPT" -c "$conf" unlock --all --test --jobs 1 --from "$LAB_TMP/list"
		fi
	done
done
/usr/bin/time -f 'rss kmipcrypt %M' -a -o "$raw" "$KMIPCRYPT" -c "$conf" unlock "$img" --test >/dev/null 2>&1
/usr/bin/time -f 'rss pykmip %M' -a -o "$raw" "$PYTHON" bench/pykmip_unlock.py "${pyargs[@]}" "$uid" >/dev/null 2>&1
{
	echo "meta date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "meta commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "meta cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)"
	echo "meta ncpu $(nproc)"
	echo "meta load $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$raw"

"$PYTHON" bench/report.py "$raw" >"$B/unlock.md" \
	--title "Unlock latency (check only), PyKMIP 0.10.0 server on 127.0.0.1" \
	--what "Milliseconds per unlock, a new process each" --base floor --ratio-head "/ floor" \
	--row "floor=cryptsetup, passphrase from a local key file (the keyslot alone, no KMS)" \
	--row "kmipcrypt=\`kmipcrypt unlock --test\`, passphrase kind (State + Get)" \
	--row "kmipcrypt-env=\`kmipcrypt unlock --test\`, envelope kind (State + Decrypt)" \
	--row "plugin=\`cryptsetup open --test-passphrase --token-only\` through libcryptsetup-token-kmip.so" \
	--row "pykmip-script=PyKMIP ProxyKmipClient script (State + Get) piped into cryptsetup" \
	--row "clevis-tang=\`clevis luks pass\` against a local Tang, piped into cryptsetup (same image)" \
	--row "wait_1=of the kmipcrypt row, waiting for the server (time in poll(): TCP, TLS handshake, the answer)" \
	--row "all-16=sixteen volumes of one group, \`kmipcrypt unlock --all --test\`" \
	--row "wait_16=of the sixteen, waiting for the server" \
	--row "floor_16=the floor over the same sixteen volumes, one after the other" \
	--row "all-16-1=the sixteen with \`--jobs 1\`: proofs one after the other, in one process" \
	--row "dig-16=sixteen volumes, the digest at luksFormat's default cost, \`unlock --all --test\`" \
	--row "dig-16-1=the same with \`--jobs 1\`" \
	--row "dig-floor_16=the floor over these sixteen, one after the other" \
	--note "Targets (issue 8): kmipcrypt {ratio=kmipcrypt/floor}x the floor (<= 1.7), the plugin {ratio=plugin/floor}x (<= 1.7); sixteen volumes {ratio=all-16/kmipcrypt}x one (<= 2.5)." \
	--note "What stands in the way, measured: a client that cost nothing itself would still wait for the server, floor + wait = {expr=(floor+wait_1)/floor}x the floor; kmipcrypt's own work beyond the floor and the wait is {expr=kmipcrypt-floor-wait_1} ms. Sixteen volumes: the server alone takes {ratio=wait_16/kmipcrypt}x one unlock to answer them; their keyslot checks alone take {ratio=floor_16/kmipcrypt}x one unlock in a row, at best {expr=floor_16/ncpu/kmipcrypt}x spread over all {meta=ncpu} CPUs, plus the wait ({expr=(floor_16/ncpu+wait_16)/kmipcrypt}x); kmipcrypt's sixteen take {ratio=all-16/floor_16}x the sixteen floors in a row." \
	--note "At once (issue 8): the sixteen proofs and activations in child processes, one per CPU ({meta=ncpu}), take {ratio=all-16/all-16-1}x the time of one after the other when each costs little (1000 PBKDF2 iterations); with the digest luksFormat sets by default, which every activation pays, {ratio=dig-16/dig-16-1}x, and {ratio=dig-16/dig-floor_16}x the sixteen floors in a row." \
	--note "Peers: clevis + Tang takes {ratio=clevis-tang/kmipcrypt}x kmipcrypt's time, the PyKMIP script {ratio=pykmip-script/kmipcrypt}x." \
	--note "Peak RSS of one unlock (whole process): kmipcrypt {rss=kmipcrypt} KiB; the PyKMIP client process alone {rss=pykmip} KiB."
cat "$B/unlock.md"
cp "$B/unlock.md" "$OUT"
echo
echo "written: $OUT (raw samples: $raw)"
