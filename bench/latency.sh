#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Get latency over mutual TLS against a real PyKMIP server: kmipcrypt's CLI
# against PyKMIP's own client, same server, same key, same run.
#
#   bench/latency.sh [N]      N samples per row (default 30), in ROUNDS rounds
#
# Steps:
#   1. a throw-away PKI and a PyKMIP server on a free port of 127.0.0.1
#      (tests/lab/lib.sh; everything torn down on exit);
#   2. one AES-256 key created and activated with PyKMIP's client;
#   3. rows, alternating in ROUNDS rounds (N / ROUNDS samples each per round):
#        kmipcrypt-1.2   `kmipcrypt -c CONF key get UID`, kmip_version = 1.2
#                        (a new process: exec, config, TLS handshake, Get)
#        kmipcrypt-auto  the same with kmip_version = auto (+ Discover Versions)
#        pykmip-conn     ProxyKmipClient in one warm interpreter: new
#                        connection (TLS handshake) + Get per sample
#        pykmip-warm     ProxyKmipClient, one open connection, Get per sample
#        pykmip-proc     a new python3 process doing one ProxyKmipClient Get
#   4. medians, ranges, ratios: Markdown on stdout and in
#      bench/results/latency-<date>.md.
#
# Environment: KMIPCRYPT=path (default: built into build/bench-cli/ with the
# Makefile), ROUNDS=3, PYTHON=/usr/bin/python3, OUT=...
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top" || exit 1

N=${1:-30}
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-bench/results/latency-$(date +%Y-%m-%d).md}
B=build/bench
mkdir -p "$B" "$(dirname "$OUT")"

die() { echo "bench/latency.sh: $*" >&2; exit 1; }

[ -f tests/lab/lib.sh ] || die "tests/lab/lib.sh missing (the lab helpers)"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 (EPOCHREALTIME)"

if [ -z "${KMIPCRYPT:-}" ]; then
	KMIPCRYPT=build/bench-cli/kmipcrypt
	make -s BUILD=build/bench-cli "$KMIPCRYPT" >"$B/cli-build.log" 2>&1 ||
		{ tail -5 "$B/cli-build.log" >&2; die "cannot build the CLI (see $B/cli-build.log); set KMIPCRYPT=path"; }
fi
[ -x "$KMIPCRYPT" ] || die "$KMIPCRYPT is not executable"

# shellcheck source=../tests/lab/lib.sh
. tests/lab/lib.sh
lab_init >/dev/null || die "lab_init failed"
port=$(lab_server_start bench) || die "PyKMIP server did not start"
lab_config "$LAB_TMP/k1.2.conf" "$port" kmip_version=1.2
lab_config "$LAB_TMP/kauto.conf" "$port" kmip_version=auto
uid=$(lab_pyclient bench create --name bench-latency --length 256 | lab_json uid) ||
	die "create failed"
lab_pyclient bench activate "$uid" >/dev/null || die "activate failed"

pyargs=(--host 127.0.0.1 --port "$port" --cert "$LAB_CERTS/client.crt"
	--key "$LAB_CERTS/client.key" --ca "$LAB_CERTS/ca.crt")
raw="$B/latency-raw.txt"
: >"$raw"

# Check every client once (and warm the server's caches).
"$KMIPCRYPT" -c "$LAB_TMP/k1.2.conf" key get "$uid" >"$B/latency-check.txt" 2>&1 ||
	{ cat "$B/latency-check.txt" >&2; die "kmipcrypt key get failed"; }
"$PYTHON" bench/pykmip_latency.py "${pyargs[@]}" once "$uid" >/dev/null ||
	die "PyKMIP get failed"

us() { # elapsed microseconds between two EPOCHREALTIME values
	local a=${1/./} b=${2/./}
	echo $(( 10#$b - 10#$a ))
}

per=$(( (N + ROUNDS - 1) / ROUNDS ))
for r in $(seq 1 "$ROUNDS"); do
	for conf in 1.2 auto; do
		for _ in $(seq 1 "$per"); do
			t0=$EPOCHREALTIME
			"$KMIPCRYPT" -c "$LAB_TMP/k$conf.conf" key get "$uid" >/dev/null 2>&1 ||
				die "kmipcrypt key get failed (round $r)"
			t1=$EPOCHREALTIME
			echo "kmipcrypt-$conf $(us "$t0" "$t1")" >>"$raw"
		done
	done
	"$PYTHON" bench/pykmip_latency.py "${pyargs[@]}" cold "$uid" "$per" |
		awk '{ printf "pykmip-conn %d\n", $2 * 1000 }' >>"$raw"
	"$PYTHON" bench/pykmip_latency.py "${pyargs[@]}" warm "$uid" "$per" |
		awk '{ printf "pykmip-warm %d\n", $2 * 1000 }' >>"$raw"
	for _ in $(seq 1 "$(( (per + 2) / 3 ))"); do	# slow: a third as many
		t0=$EPOCHREALTIME
		"$PYTHON" bench/pykmip_latency.py "${pyargs[@]}" once "$uid" >/dev/null ||
			die "PyKMIP get failed (round $r)"
		t1=$EPOCHREALTIME
		echo "pykmip-proc $(us "$t0" "$t1")" >>"$raw"
	done
done

# Peak RSS of one Get by each client (whole process).
/usr/bin/time -f 'rss kmipcrypt %M' -a -o "$raw" \
	"$KMIPCRYPT" -c "$LAB_TMP/k1.2.conf" key get "$uid" >/dev/null 2>&1
/usr/bin/time -f 'rss pykmip %M' -a -o "$raw" \
	"$PYTHON" bench/pykmip_latency.py "${pyargs[@]}" once "$uid" >/dev/null 2>&1

{
	echo "meta date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "meta commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "meta cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)"
	echo "meta load $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$raw"

"$PYTHON" bench/report.py "$raw" >"$B/latency.md" \
	--title "Get latency over mutual TLS, PyKMIP 0.10.0 server on 127.0.0.1" \
	--what "Milliseconds per Get" --base kmipcrypt-1.2 --ratio-head "/ kmipcrypt (1.2, new process)" \
	--row "kmipcrypt-1.2=kmipcrypt \`key get\`, new process (exec + TLS + Get), KMIP 1.2 pinned" \
	--row "kmipcrypt-auto=kmipcrypt \`key get\`, new process, kmip_version auto (+ Discover Versions)" \
	--row "pykmip-conn=PyKMIP ProxyKmipClient, warm interpreter, new connection + Get" \
	--row "pykmip-proc=PyKMIP ProxyKmipClient, new python3 process (start-up + import + TLS + Get)" \
	--row "pykmip-warm=PyKMIP ProxyKmipClient, open connection, Get only" \
	--note "Peak RSS of one Get (whole process): kmipcrypt {rss=kmipcrypt} KiB, PyKMIP {rss=pykmip} KiB." \
	--note "The server is the same PyKMIP process for every row and dominates the time; compare rows of the same kind (new connection vs new connection)."
cat "$B/latency.md"
cp "$B/latency.md" "$OUT"
echo
echo "written: $OUT (raw samples: $raw)"
