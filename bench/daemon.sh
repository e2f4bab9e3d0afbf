#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What kmipcryptd's polling costs, per cycle, by the number of keys watched
# and by how it asks, against a local PyKMIP over mutual TLS (issue 9):
#
#   bench/daemon.sh [MAX]     key counts 1, 10, 100, 1000, ... up to MAX
#                             (default 10000)
#
# The keys: MAX Active AES keys in one Object Group, created once with
# PyKMIP's client (bench/daemon_keys.py); the daemon watches the first N of
# them through its test seam (--test-keys: no LUKS header, no device-mapper;
# --test-record: nothing locked), polling every INTERVAL_MS (default 300),
# for CYCLES cycles (default 12: the first cycle of "auto" asks every key
# and learns its Object Group, nine Locate cycles follow, the tenth is a
# sweep again), per strategy (--test-strategy):
#   auto    the default: the batch up to 128 keys; above, one Locate of
#           the Object Group's Active objects where that is quicker, every
#           key's State on the first cycle and every tenth
#   batch   every key's State, batched Get Attributes (128 items a message)
#   naive   one Get Attributes request per key: the baseline
# Per row, over the cycles after the first (the steady state; "auto"
# includes its sweep): requests per cycle (the poller's count), bytes on the
# wire per cycle (the poller's TCP connection, ss -ti bytes_sent +
# bytes_received), the poller's CPU per cycle (its getrusage), wall time per
# cycle, and PyKMIP's CPU per cycle (/proc/PID/stat of the server: what a KMS
# operator provisions).  Medians; the ratio column is the server's CPU
# against naive's for the same N.  Peak RSS of both daemon processes with
# 1,000 volumes (the target: <= 8 MiB), whatever MAX.  Markdown on stdout and in
# bench/results/daemon-<date>.md.
#
# Environment: KMIPCRYPT=path of a build dir's kmipcrypt (kmipcryptd beside it;
# default build/), CYCLES, INTERVAL_MS, STRATEGIES="auto batch naive",
# NAIVE_MAX (largest N for naive, default 1000: 10,000 single requests take
# minutes a cycle), PYTHON, OUT.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top" || exit 1

MAX=${1:-10000}
CYCLES=${CYCLES:-12}
INTERVAL_MS=${INTERVAL_MS:-300}
STRATEGIES=${STRATEGIES:-auto batch naive}
NAIVE_MAX=${NAIVE_MAX:-1000}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-bench/results/daemon-$(date +%Y-%m-%d).md}
B=build/bench
mkdir -p "$B" "$(dirname "$OUT")"
die() { echo "bench/daemon.sh: $*" >&2; exit 1; }
command -v ss >/dev/null || die "ss missing (iproute2)"

if [ -z "${KMIPCRYPT:-}" ]; then
	KMIPCRYPT=build/kmipcrypt
	make -s build/kmipcrypt build/kmipcryptd >"$B/daemon-build.log" 2>&1 ||
		{ tail -5 "$B/daemon-build.log" >&2; die "cannot build (see $B/daemon-build.log)"; }
fi
D=$(dirname "$(realpath "$KMIPCRYPT")")/kmipcryptd
[ -x "$D" ] || die "no $D"

# shellcheck source=../tests/lab/lib.sh
. tests/lab/lib.sh
lab_init >/dev/null || die "lab_init failed"
dpid=""
trap '[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null; lab_cleanup' EXIT
port=$(lab_server_start bench) || die "PyKMIP server did not start"
spid=$(cat "$(lab_server_dir bench)/pid")
conf=$LAB_TMP/k.conf
lab_config "$conf" "$port"
state=$LAB_TMP/state.json
printf '\n[daemon]\nuser = nobody\nstate_file = %s\n' "$state" >>"$conf"

t0=$(lab_now_ms)
"$PYTHON" bench/daemon_keys.py --port "$port" --cert "$LAB_CERTS/client.crt" \
	--key "$LAB_CERTS/client.key" --ca "$LAB_CERTS/ca.crt" --group kmipcrypt-bench "$MAX" \
	>"$LAB_TMP/uids" || die "cannot create the keys"
echo "bench/daemon.sh: $MAX keys created in $(( ($(lab_now_ms) - t0) / 1000 )) s" >&2

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# utime + stime, clock ticks
hz=$(getconf CLK_TCK)
# tcp_bytes: bytes sent + received on the poller's connection to PyKMIP
tcp_bytes() {
	ss -tinH state established "dst 127.0.0.1:$port" 2>/dev/null |
		grep -oE 'bytes_(sent|received):[0-9]+' | awk -F: '{ s += $2 } END { print s + 0 }'
}
cycles() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$state" 2>/dev/null || echo 0; }
at_least() { [ "$(cycles)" -ge "$1" ]; }

raw=$B/daemon-raw.txt
: >"$raw"
run() {	# run N STRATEGY: one daemon for CYCLES cycles; raw lines "N STRATEGY metric value"
	local n=$1 s=$2 c b0 b1 s0 s1 bytes log=$LAB_TMP/d-$1-$2.log
	head -n "$n" "$LAB_TMP/uids" | awk '{ printf "k%d default %s\n", NR, $1 }' >"$LAB_TMP/keys"
	rm -f "$state"
	"$D" -c "$conf" --test-keys "$LAB_TMP/keys" --test-record /dev/null \
		--test-interval-ms "$INTERVAL_MS" --test-strategy "$s" -v >"$log" 2>&1 &
	dpid=$!
	lab_wait_for 600 at_least 1 || die "$n $s: no first cycle"
	b0=$(tcp_bytes) s0=$(ticks "$spid") bytes=0
	for c in $(seq 2 "$CYCLES"); do
		lab_wait_for 900 at_least "$c" || die "$n $s: stuck before cycle $c"
		# The connection's counters since the last look (a new connection starts at 0).
		b1=$(tcp_bytes)
		if [ "$b1" -ge "$b0" ]; then bytes=$(( bytes + b1 - b0 )); else bytes=$(( bytes + b1 )); fi
		b0=$b1
	done
	s1=$(ticks "$spid")
	kill -TERM "$dpid"
	wait "$dpid" 2>/dev/null
	dpid=""
	# The daemon's own per-cycle lines (kmipcryptd -v): cycles 2..CYCLES.
	sed -n 's/.*cycle \([0-9]*\): [0-9]* key(s), \([0-9]*\) request(s), \([0-9]*\) ms, poller CPU \([0-9]*\) us/\1 \2 \3 \4/p' "$log" |
		awk -v n="$n" -v s="$s" -v max="$CYCLES" '$1 >= 2 && $1 <= max {
			print n, s, "requests", $2; print n, s, "wall_ms", $3; print n, s, "cpu_ms", $4 / 1000 }' >>"$raw"
	c=$(( CYCLES - 1 ))
	echo "$n $s bytes $(( bytes / c ))" >>"$raw"
	echo "$n $s server_ms $(( (s1 - s0) * 1000 / hz / c ))" >>"$raw"
}

n=1
while [ "$n" -le "$MAX" ]; do
	for s in $STRATEGIES; do
		[ "$s" = naive ] && [ "$n" -gt "$NAIVE_MAX" ] && continue
		echo "bench/daemon.sh: $n keys, $s" >&2
		run "$n" "$s"
	done
	n=$(( n * 10 ))
done

# Peak RSS with 1,000 volumes: identifiers the server does not have (each
# then "not found", confirmed once, locked into /dev/null), 4 cycles.
seq 1000 | awk '{ printf "v%d default rss-%d\n", $1, $1 }' >"$LAB_TMP/keys"
rm -f "$state"
"$D" -c "$conf" --test-keys "$LAB_TMP/keys" --test-record /dev/null \
	--test-interval-ms "$INTERVAL_MS" >"$LAB_TMP/d-rss.log" 2>&1 &
dpid=$!
lab_wait_for 600 at_least 4 || die "RSS run: fewer than 4 cycles"
cpid=$(pgrep -P "$dpid" | head -1)
echo "rss locker $(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$dpid/status")" >>"$raw"
echo "rss poller $(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$cpid/status")" >>"$raw"
kill -TERM "$dpid"
wait "$dpid" 2>/dev/null
dpid=""

{
	echo "meta date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "meta commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "meta cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)"
	echo "meta load $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$raw"
"$PYTHON" - "$raw" "$CYCLES" "$INTERVAL_MS" >"$B/daemon.md" <<'PY'
import statistics, sys
raw, cycles, iv = sys.argv[1], sys.argv[2], sys.argv[3]
v, rss, meta = {}, {}, {}
for line in open(raw):
    w = line.split()
    if w[0] == "meta":
        meta[w[1]] = " ".join(w[2:])
    elif w[0] == "rss":
        rss[w[1]] = int(w[2])
    else:
        v.setdefault((int(w[0]), w[1], w[2]), []).append(float(w[3]))
med = lambda k: statistics.median(v[k]) if k in v else None
print("## kmipcryptd: one poll cycle, by keys watched and strategy (PyKMIP 0.10.0 on 127.0.0.1)\n")
print("%s, commit %s, %s, load %s at the end.  %s cycles at %s ms; medians of the cycles after the first.\n"
      % (meta.get("date"), meta.get("commit"), meta.get("cpu"), meta.get("load"), cycles, iv))
print("| keys | strategy | requests | bytes on the wire | poller CPU ms | wall ms | PyKMIP CPU ms | server CPU / naive |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
ns = sorted({k[0] for k in v})
for n in ns:
    for s in ("auto", "batch", "naive"):
        if (n, s, "requests") not in v:
            continue
        naive = med((n, "naive", "server_ms"))
        srv = med((n, s, "server_ms"))
        ratio = "%.2f" % (srv / naive) if naive else "-"
        print("| %d | %s | %.0f | %.0f | %.2f | %.0f | %.0f | %s |" % (
            n, s, med((n, s, "requests")), med((n, s, "bytes")), med((n, s, "cpu_ms")),
            med((n, s, "wall_ms")), srv, ratio))
print()
print("Peak RSS with 1,000 volumes (VmHWM): locker %s KiB, poller %s KiB (target <= 8 MiB)."
      % ("{:,}".format(rss["locker"]) if "locker" in rss else "?",
         "{:,}".format(rss["poller"]) if "poller" in rss else "?"))
PY
cat "$B/daemon.md"
cp "$B/daemon.md" "$OUT"
echo
echo "written: $OUT (raw: $raw)"
