#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What a fleet of kmipcryptd hosts costs one KMIP server (issue 9): N hosts,
# each a kmipcryptd watching its own KEYS keys (default 10) in an Object
# Group of its own ("kmipcrypt-host-K", as enroll does by default), all
# polling one local PyKMIP over mutual TLS at the real poll_interval
# (INTERVAL, default 30 s, with the daemon's own +-10 % jitter):
#
#   bench/fleet.sh            hosts NS="1 10 50 200", strategies
#                             STRATEGIES="batch naive auto locate" (run in
#                             that order: a server that could not keep up
#                             drains its backlog before the next row; each
#                             row waits until PyKMIP is idle, as does key
#                             creation)
#
# The keys: created with PyKMIP's client (tests/lab/pyclient.py create
# --count --activate --group kmipcrypt-host-K) as the hosts
# are first needed, so with NS ascending the server holds KEYS x N objects
# when N hosts are measured (PyKMIP's cost per operation grows with the
# objects it holds: the table says how many).  Each host is one kmipcryptd
# (locker + unprivileged poller, user nobody) with its own configuration
# copy and state file, watching its keys through the test seam (--test-keys:
# no LUKS header; --test-record /dev/null: nothing locked), the strategy
# forced by --test-strategy:
#   auto    the default: batch while the host's keys fit in one message
#           (128; with 10 keys a host, always), else one Locate of the
#           host's Object Group where a Locate cycle is faster than asking
#           every key, every key's State on the first cycle and every tenth
#   batch   every key's State each cycle, batched Get Attributes
#   locate  Locate each cycle but every tenth, whatever it costs (LOCATE_MAX)
#   naive   one Get Attributes request per key: the baseline (NAIVE_MAX)
# A fleet does not poll in lockstep: host K starts at (K-1) x INTERVAL / N
# (its first cycle at once), the daemon's jitter does the rest.  Warm-up:
# every host past its first cycle (a sweep of every key); for auto and locate
# past its second (the first Locate, which also probes the State filter, and
# for auto the choice).  Then a WINDOW (default 60 s) is measured:
#   - PyKMIP's CPU (utime + stime of its process group, /proc/PID/stat),
#     in seconds per minute, and, net of its idle CPU (measured once before
#     the keys exist), linearly extrapolated to 1,000 hosts;
#   - the requests it processed and the operations in them (its log:
#     "Received request", "Processing operation: Locate / GetAttributes",
#     by timestamp within the window, rotated files included);
#   - the cycles the hosts completed (their state files) against the number
#     expected (N x WINDOW / INTERVAL), each cycle's wall time (kmipcryptd -v),
#     and the cycles "late": longer than the jitter (INTERVAL / 10), i.e.
#     the server held the host back by more than the jitter moves it;
#   - the daemons' own CPU (locker + poller, /proc/PID/schedstat), per host
#     and minute;
#   - warnings the daemons logged during the whole run (unreachable, ...),
#     the most frequent one under the table.
# Markdown on stdout and in bench/results/fleet-<date>.md; raw samples in
# build/bench/fleet-raw.txt.  Takes about (INTERVAL x 2 or 3 + WINDOW) per
# row plus key creation: ~25 min with the defaults.
#
# Environment: KMIPCRYPT=path of a build dir's kmipcrypt (kmipcryptd beside
# it; default build/), NS, STRATEGIES, NAIVE_MAX (largest N for naive,
# default 10: its server cost per key is batch's, measured at 10 hosts),
# LOCATE_MAX (largest N for locate, default 50: PyKMIP reads every object it
# holds for each Locate, ~1 s of CPU with 500 objects, ~4 s with 2,000, more
# than the client's 5 s timeout under load), KEYS, INTERVAL (seconds),
# WINDOW (seconds), PYTHON, OUT.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top" || exit 1

NS=${NS:-1 10 50 200}
STRATEGIES=${STRATEGIES:-batch naive auto locate}
NAIVE_MAX=${NAIVE_MAX:-10}
LOCATE_MAX=${LOCATE_MAX:-50}
KEYS=${KEYS:-10}
INTERVAL=${INTERVAL:-30}
WINDOW=${WINDOW:-60}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-bench/results/fleet-$(date +%Y-%m-%d).md}
B=build/bench
mkdir -p "$B" "$(dirname "$OUT")"
die() { echo "bench/fleet.sh: $*" >&2; exit 1; }
say() { echo "bench/fleet.sh: $*" >&2; }
for v in KEYS INTERVAL WINDOW NAIVE_MAX LOCATE_MAX; do
	case "${!v}" in ''|*[!0-9]*) die "$v must be a whole number" ;; esac
done
if [ "$INTERVAL" -lt 1 ] || [ "$WINDOW" -lt 1 ] || [ "$KEYS" -lt 1 ]; then
	die "KEYS, INTERVAL, WINDOW: at least 1"
fi
for n in $NS; do
	case "$n" in ''|0|*[!0-9]*) die "NS: host counts of 1 or more" ;; esac
done
for s in $STRATEGIES; do
	case "$s" in auto|batch|locate|naive) ;; *) die "STRATEGIES: auto, batch, locate, naive" ;; esac
done

if [ -z "${KMIPCRYPT:-}" ]; then
	KMIPCRYPT=build/kmipcrypt
	make -s build/kmipcrypt build/kmipcryptd >"$B/fleet-build.log" 2>&1 ||
		{ tail -5 "$B/fleet-build.log" >&2; die "cannot build (see $B/fleet-build.log)"; }
fi
D=$(dirname "$(realpath "$KMIPCRYPT")")/kmipcryptd
[ -x "$D" ] || die "no $D"

# shellcheck source=../tests/lab/lib.sh
. tests/lab/lib.sh
lab_init >/dev/null || die "lab_init failed"
H=$LAB_TMP/hosts
mkdir -p "$H"
pids=()		# the lockers of the running fleet (each kills its own poller on SIGTERM)

# stop_fleet: SIGTERM to every daemon this script started, by PID; a daemon
# stops both its processes within a second; SIGKILL for any still there.
stop_fleet() {
	local p
	[ "${#pids[@]}" -gt 0 ] || return 0
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		lab_wait_for 5 _gone "$p" || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pids=()
}
_gone() { ! kill -0 "$1" 2>/dev/null; }
trap 'stop_fleet; lab_cleanup' EXIT

port=$(lab_server_start fleet) || die "PyKMIP server did not start"
srvdir=$(lab_server_dir fleet)
spid=$(cat "$srvdir/pid")
lab_config "$LAB_TMP/base.conf" "$port"
hz=$(getconf CLK_TCK)

# sum_ticks PID...: utime + stime of these processes (all their threads), clock ticks.
sum_ticks() {
	local p f=()
	for p in "$@"; do [ -r "/proc/$p/stat" ] && f+=("/proc/$p/stat"); done
	[ "${#f[@]}" -gt 0 ] || { echo 0; return; }
	# comm (field 2) is "(kmipcryptd)" or "(python3)": no blanks, fields fixed.
	cat "${f[@]}" 2>/dev/null | awk '{ s += $14 + $15 } END { print s + 0 }'
}
# shellcheck disable=SC2046
server_ticks() { sum_ticks $(ps -o pid= -g "$spid"); }
# sum_ns PID...: CPU time of these single-threaded processes, ns (schedstat:
# the daemons' cycles cost well under a clock tick).
sum_ns() {
	local p f=()
	for p in "$@"; do [ -r "/proc/$p/schedstat" ] && f+=("/proc/$p/schedstat"); done
	[ "${#f[@]}" -gt 0 ] || { echo 0; return; }
	cat "${f[@]}" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
# server_quiet: PyKMIP used at most 2 ticks in one second (nothing queued
# from the last run is still being served).
server_quiet() {
	local a
	a=$(server_ticks)
	sleep 1
	[ $(( $(server_ticks) - a )) -le 2 ]
}
# cycles_all N: "K CYCLES" per host 1..N, from its state file (0 if none yet).
cycles_all() {
	awk -v dir="$H" -v n="$1" 'BEGIN {
		for (k = 1; k <= n; k++) {
			f = dir "/" k "/state.json"; c = 0
			while ((getline l < f) > 0)
				if (match(l, /"cycles": *[0-9]+/)) {
					c = substr(l, RSTART, RLENGTH); sub(/.*: */, "", c)
				}
			close(f)
			print k, c
		} }'
}
fleet_logs() { local k; for k in $(seq 1 "$1"); do cat "$H/$k/d.log" 2>/dev/null; done; }
all_at_least() { [ "$(cycles_all "$1" | awk 'NR == 1 || $2 < m { m = $2 } END { print m + 0 }')" -ge "$2" ]; }
now_log() { date '+%Y-%m-%d %H:%M:%S,%3N'; }	# PyKMIP's log timestamps (asctime)
# log_counts FROM TO: "requests LOCATE GETATTR OTHER COMPLETE" in PyKMIP's log,
# its rotated files included; COMPLETE is 0 when rotation already dropped
# lines of the window.
log_counts() {
	local f=() i
	for i in 5 4 3 2 1; do [ -f "$srvdir/server.log.$i" ] && f+=("$srvdir/server.log.$i"); done
	f+=("$srvdir/server.log")
	awk -v a="$1" -v b="$2" '
		$1 ~ /^[0-9][0-9][0-9][0-9]-/ { t = $1 " " $2; if (first == "" || t < first) first = t }
		{ t = $1 " " $2 }
		t >= a && t < b {
			if (/Received request at time/) r++
			else if (/Processing operation: Locate$/) l++
			else if (/Processing operation: GetAttributes$/) g++
			else if (/Processing operation: /) o++
		}
		END { print r + 0, l + 0, g + 0, o + 0, (first != "" && first <= a) ? 1 : 0 }' "${f[@]}"
}

raw=$B/fleet-raw.txt
: >"$raw"
{
	echo "meta date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "meta commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "meta cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)"
	echo "meta load_start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "meta interval $INTERVAL"
	echo "meta window $WINDOW"
	echo "meta keys $KEYS"
} >>"$raw"

# PyKMIP's own CPU with no client (its policy monitor, idle threads).
lab_wait_for 60 server_quiet
t0=$(lab_now_ms) i0=$(server_ticks)
sleep 10
echo "meta idle_s_per_min $(awk -v t="$(( $(server_ticks) - i0 ))" -v hz="$hz" \
	-v ms="$(( $(lab_now_ms) - t0 ))" 'BEGIN { printf "%.3f", t / hz * 60000 / ms }')" >>"$raw"

# hosts N: hosts 1..N exist: keys on the server, a config, a keys file.
made=0
hosts() {
	local n=$1 k t0
	[ "$n" -le "$made" ] && return 0
	lab_wait_for 900 server_quiet || say "PyKMIP still busy from the last run"
	t0=$(lab_now_ms)
	: >"$LAB_TMP/uids.new"
	for k in $(seq $(( made + 1 )) "$n"); do
		lab_pyclient fleet create --count "$KEYS" --activate --group "kmipcrypt-host-$k" |
			lab_json uids | sed "s/^/$k /" >>"$LAB_TMP/uids.new"
		[ "$(grep -c "^$k " "$LAB_TMP/uids.new")" = "$KEYS" ] || die "cannot create the keys of host $k"
	done
	for k in $(seq $(( made + 1 )) "$n"); do
		mkdir -p "$H/$k"
		cp "$LAB_TMP/base.conf" "$H/$k/k.conf"
		printf '\n[daemon]\nuser = nobody\nstate_file = %s\npoll_interval = %ss\n' \
			"$H/$k/state.json" "$INTERVAL" >>"$H/$k/k.conf"
	done
	awk -v dir="$H" '{ f = dir "/" $1 "/keys"; printf "v%d default %s\n", ++c[$1], $2 > f }' \
		"$LAB_TMP/uids.new"
	say "hosts $(( made + 1 ))-$n: $(( (n - made) * KEYS )) keys created in $(( ($(lab_now_ms) - t0) / 1000 )) s"
	made=$n
}

# run N STRATEGY: the fleet of N hosts; raw lines "N STRATEGY metric value".
run() {
	local n=$1 s=$2 warm=1 k at now t0 ts0 ts1 m0 m1 srv0 srv1 d0 d1 pp
	local -a all
	case "$s" in auto|locate) warm=2 ;; esac
	lab_wait_for 900 server_quiet || say "$n $s: PyKMIP still busy from the last run"
	for k in $(seq 1 "$n"); do rm -f "$H/$k/state.json" "$H/$k/d.log"; done
	t0=$(lab_now_ms)
	for k in $(seq 1 "$n"); do
		at=$(( t0 + (k - 1) * INTERVAL * 1000 / n ))
		now=$(lab_now_ms)
		[ "$at" -gt "$now" ] && sleep "$(awk -v ms="$(( at - now ))" 'BEGIN { print ms / 1000 }')"
		"$D" -c "$H/$k/k.conf" --test-keys "$H/$k/keys" --test-record /dev/null \
			--test-strategy "$s" -v >"$H/$k/d.log" 2>&1 &
		pids+=("$!")
	done
	# Bounded: a server that cannot keep up is measured all the same (and shows).
	if ! lab_wait_for $(( INTERVAL * (warm * 12 / 10 + 1) + 60 )) all_at_least "$n" "$warm"; then
		say "$n $s: warm-up incomplete: $(cycles_all "$n" | awk -v w="$warm" '$2 < w' | wc -l) of $n hosts before cycle $warm"
		echo "$n $s warmup_incomplete $(cycles_all "$n" | awk -v w="$warm" '$2 < w' | wc -l)" >>"$raw"
	fi
	all=("${pids[@]}")
	pp=$(ps -o pid= --ppid "$(IFS=,; echo "${pids[*]}")" 2>/dev/null)
	# shellcheck disable=SC2206
	all+=($pp)
	cycles_all "$n" >"$LAB_TMP/c0"
	ts0=$(now_log) m0=$(lab_now_ms) srv0=$(server_ticks) d0=$(sum_ns "${all[@]}")
	sleep "$WINDOW"		# the measurement window
	ts1=$(now_log) m1=$(lab_now_ms) srv1=$(server_ticks) d1=$(sum_ns "${all[@]}")
	cycles_all "$n" >"$LAB_TMP/c1"
	echo "$n $s load1 $(cut -d' ' -f1 /proc/loadavg)" >>"$raw"
	echo "$n $s alive $(for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && echo; done | wc -l) $(( ${#all[@]} ))" >>"$raw"
	stop_fleet
	{
		echo "$n $s window_ms $(( m1 - m0 ))"
		echo "$n $s server_ticks $(( srv1 - srv0 ))"
		echo "$n $s daemon_ns $(( d1 - d0 ))"
		echo "$n $s hz $hz"
		echo "$n $s objects $(( made * KEYS ))"
		echo "$n $s log $(log_counts "$ts0" "$ts1")"
		echo "$n $s cycles $(paste "$LAB_TMP/c0" "$LAB_TMP/c1" | awk '{ s += $4 - $2 } END { print s + 0 }')"
		echo "$n $s warnings $(fleet_logs "$n" | grep -c 'warning: ')"
		# The most frequent warning, identifiers and numbers blanked.
		echo "$n $s warning_top $(fleet_logs "$n" | sed -n 's/.*warning: //p' |
			sed -E "s/'[^']*'/'.'/g; s/[0-9]+/N/g" | sort | uniq -c | sort -rn | head -1)"
	} >>"$raw"
	# Each host's cycles within the window (kmipcryptd -v): "cycle WALL_MS REQUESTS POLLER_US".
	paste "$LAB_TMP/c0" "$LAB_TMP/c1" | while read -r k c0 _ c1; do
		sed -n 's/.*debug: cycle \([0-9]*\): [0-9]* key(s), \([0-9]*\) request(s), \([0-9]*\) ms, poller CPU \([0-9]*\) us.*/\1 \2 \3 \4/p' \
			"$H/$k/d.log" | awk -v a="$c0" -v b="$c1" -v n="$n" -v s="$s" \
			'$1 > a && $1 <= b { print n, s, "cycle", $3, $2, $4 }'
	done >>"$raw"
}

for n in $NS; do
	hosts "$n"
	for s in $STRATEGIES; do
		[ "$s" = naive ] && [ "$n" -gt "$NAIVE_MAX" ] && continue
		[ "$s" = locate ] && [ "$n" -gt "$LOCATE_MAX" ] && continue
		say "$n hosts, $s ($(( made * KEYS )) objects on the server)"
		run "$n" "$s"
	done
done
echo "meta load_end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw"

"$PYTHON" - "$raw" >"$B/fleet.md" <<'PY'
import statistics, sys
meta, v, cyc = {}, {}, {}
for line in open(sys.argv[1]):
    w = line.split()
    if w[0] == "meta":
        meta[w[1]] = " ".join(w[2:])
    elif w[2] == "cycle":
        cyc.setdefault((int(w[0]), w[1]), []).append((int(w[3]), int(w[4]), int(w[5])))
    elif w[2] == "warning_top":
        v[(int(w[0]), w[1], w[2])] = " ".join(w[3:])
    else:
        v[(int(w[0]), w[1], w[2])] = w[3:]
iv, win = int(meta["interval"]), int(meta["window"])
idle = float(meta.get("idle_s_per_min", 0))
late_ms = iv * 1000 // 10
print("## A fleet of kmipcryptd hosts against one PyKMIP (0.10.0 on 127.0.0.1): the server's CPU\n")
print("%s, commit %s, %s; load %s at the start, %s at the end (the machine is shared: "
      "CPU seconds are the server's own, wall times are not)." % (
          meta.get("date"), meta.get("commit"), meta.get("cpu"), meta.get("load_start"),
          meta.get("load_end")))
print("%s keys a host, each host's in an Object Group of its own; poll_interval %d s (+-10 %% jitter), "
      "hosts started spread over one interval; measured over %d s after warm-up.  "
      "PyKMIP idle: %.2f CPU s/min.\n" % (meta.get("keys"), iv, win, idle))
print("| hosts | objects on server | strategy | requests/min | Locate + Get Attributes items/min "
      "| cycles done / expected | cycle wall ms p50 / max | late (> %d ms) | warnings "
      "| PyKMIP CPU s/min | per 1,000 hosts, linear (CPU s/min; cores) | a host's CPU ms/min | load |"
      % late_ms)
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = sorted({(k[0], k[1]) for k in v}, key=lambda x: (x[0], ["auto", "batch", "locate", "naive"].index(x[1])))
for n, s in rows:
    g = lambda m: v.get((n, s, m))
    ms = int(g("window_ms")[0]); hz = int(g("hz")[0])
    permin = lambda ticks: ticks / hz * 60000.0 / ms
    srv = permin(int(g("server_ticks")[0]))
    dae = int(g("daemon_ns")[0]) / 1e6 * 60000.0 / ms / n
    req, loc, ga, oth, complete = (int(x) for x in g("log"))
    rq = lambda x: ("%.0f" % (x * 60000.0 / ms)) if complete else "?"
    c = cyc.get((n, s), [])
    walls = sorted(x[0] for x in c)
    exp = n * win / iv
    ext = (srv - idle) * 1000 / n
    warm = g("warmup_incomplete")
    note = " (warm-up: %s hosts short)" % warm[0] if warm else ""
    alive = g("alive")
    if alive and alive[0] != alive[1]:
        note += " (%s of %s daemon processes alive at the end)" % (alive[0], alive[1])
    print("| %d | %s | %s%s | %s | %s + %s | %d / %.0f | %s / %s | %d | %s | %.2f | %.0f; %.2f | %.2f | %s |" % (
        n, "{:,}".format(int(g("objects")[0])), s, note, rq(req), rq(loc), rq(ga + oth),
        int(g("cycles")[0]), exp,
        statistics.median(walls) if walls else "-", walls[-1] if walls else "-",
        sum(1 for x in walls if x > late_ms), int(g("warnings")[0]), srv, ext, ext / 60, dae,
        g("load1")[0]))
print()
tops = [(n, s, v[(n, s, "warning_top")]) for n, s in rows if v.get((n, s, "warning_top"))]
for n, s, top in tops:
    print("- %d hosts, %s: most frequent warning (x%s): %s" % (n, s, top.split()[0],
          " ".join(top.split()[1:])))
if tops:
    print()
print("Per 1,000 hosts: (PyKMIP CPU s/min - its idle CPU) x 1,000 / hosts, a linear "
      "extrapolation of the row (not measured; PyKMIP's cost per operation grows with the "
      "objects it holds, so 1,000 hosts' 10,000 objects would cost it more).  "
      "Cores: that / 60.  Expected cycles: hosts x window / interval (a cycle also waits for "
      "the server, so a slow server shows as fewer).  \"?\": PyKMIP's log rotated past the window.")
PY
cat "$B/fleet.md"
cp "$B/fleet.md" "$OUT"
echo
echo "written: $OUT (raw: $raw)"
