#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Codec benchmark: kmipcrypt's TTLV codec against PyKMIP's, same messages,
# same run.  See bench/README.md for how to read the output.
#
#   bench/run.sh            build, measure, print a Markdown table and write
#                           it to bench/results/codec-<date>.md
#
# Environment:
#   ROUNDS=3      alternating rounds (kmipcrypt, PyKMIP, kmipcrypt, ...)
#   REPS=3        timed repetitions per round and op: ROUNDS*REPS samples per
#                 op and side (9 by default), of which the median is reported
#   MIN_MS_C=40   length of one repetition of the C side (ms)
#   MIN_MS_PY=100 length of one repetition of the Python side (ms)
#   CG_ITERS=1000 iterations for the callgrind instruction count
#   CC=gcc        compiler for the C side (built with the Makefile's -O2 flags)
#   PYTHON=/usr/bin/python3   the interpreter that sees python3-pykmip
#   OUT=bench/results/codec-<date>.md
#
# Takes about 30 s on an idle 2-core machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
MIN_MS_C=${MIN_MS_C:-40}
MIN_MS_PY=${MIN_MS_PY:-100}
CG_ITERS=${CG_ITERS:-1000}
CC=${CC:-gcc}
PYTHON=${PYTHON:-/usr/bin/python3}
B=${BENCH_BUILD:-build/bench}
OUT=${OUT:-bench/results/codec-$(date +%Y-%m-%d).md}

mkdir -p "$B" "$(dirname "$OUT")"
raw="$B/codec-raw.txt"
: >"$raw"

# ---------------------------------------------------------------- build
# The codec sources are compiled directly, with the Makefile's optimisation
# and hardening flags, so that a half-written file elsewhere in src/ cannot
# stop the bench.
CFLAGS_BENCH="-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC -fstack-clash-protection -Isrc"
PKGS="libssl libcrypto libxml-2.0 json-c"
# With src/kmip (the product's builder and response parser) when the library
# sources build; otherwise the codec alone.
# shellcheck disable=SC2086,SC2046
if $CC $CFLAGS_BENCH $(pkg-config --cflags $PKGS 2>/dev/null) -DWITH_KMIP \
	-pie -Wl,-z,relro,-z,now -o "$B/codec" bench/codec.c \
	src/ttlv/*.c src/kmip/*.c src/util/*.c src/net/*.c \
	$(pkg-config --libs $PKGS 2>/dev/null) 2>"$B/codec-build.log"; then
	CG_OPS="encode_get decode_get_resp encode_get_locked kmip_build_get kmip_parse_get_resp"
else
	echo "bench/run.sh: src/kmip does not build (see $B/codec-build.log): codec rows only" >&2
	$CC $CFLAGS_BENCH -pie -Wl,-z,relro,-z,now -o "$B/codec" \
		bench/codec.c src/ttlv/ttlv.c src/util/secmem.c || exit 1
	CG_OPS="encode_get decode_get_resp encode_get_locked"
fi

if ! "$PYTHON" -c 'import kmip' 2>/dev/null; then
	echo "bench/run.sh: $PYTHON cannot import kmip (apt-get install python3-pykmip)" >&2
	exit 1
fi

# ---------------------------------------------------------------- time
# Peak RSS from /usr/bin/time when present (whole process), else the
# program's own getrusage() line.
rss() {	# rss SIDE CMD...
	local side=$1 tf="$B/time.txt"
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f 'time_rss_kb %M' -o "$tf" "$@" | sed "s/^/$side /" >>"$raw"
		sed "s/^/$side /" "$tf" >>"$raw"
	else
		"$@" | sed "s/^/$side /" >>"$raw"
	fi
}

for r in $(seq 1 "$ROUNDS"); do
	rss c "$B/codec" --reps "$REPS" --min-ms "$MIN_MS_C"
	rss py "$PYTHON" bench/pykmip_codec.py --reps "$REPS" --min-ms "$MIN_MS_PY"
done

# ---------------------------------------------------------------- callgrind
# Instructions per message (Ir), ours only: the difference between a run of
# 2N and one of N iterations, divided by N, so that one-time costs cancel.
# Deterministic: the same binary gives the same number on any load.
if command -v valgrind >/dev/null; then
	for op in $CG_OPS; do
		for n in "$CG_ITERS" $((2 * CG_ITERS)); do
			valgrind --tool=callgrind --toggle-collect="op_$op" \
				--callgrind-out-file="$B/callgrind.$op.$n" \
				"$B/codec" --once "$op" "$n" >/dev/null 2>&1
			echo "cg $op $n $(sed -n 's/^totals: *//p' "$B/callgrind.$op.$n")" >>"$raw"
		done
	done
fi

# ---------------------------------------------------------------- report
meta() {
	echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src/ttlv 2>/dev/null || echo '+dirty-src/ttlv')"
	echo "cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)"
	echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "cc $($CC --version | head -1)"
	echo "python $("$PYTHON" -c 'import sys, kmip; print(sys.version.split()[0], "PyKMIP", kmip.__version__)')"
	echo "valgrind $(valgrind --version 2>/dev/null || echo none)"
	echo "rounds $ROUNDS reps $REPS"
}
meta >>"$raw"

"$PYTHON" - "$raw" >"$B/table.md" <<'EOF'
import statistics
import sys

samples, rss, cg, meta, blobs, iters = {}, {}, {}, {}, {}, {}
for line in open(sys.argv[1]):
    w = line.split()
    if not w:
        continue
    if w[0] in ("c", "py"):
        side = w[0]
        if w[1] == "op":
            name = w[2]
            i = w.index("samples_ns")
            samples.setdefault((side, name), []).extend(float(x) for x in w[i + 1:])
            iters.setdefault((side, name), set()).add(int(w[4]))
        elif w[1] == "time_rss_kb":
            rss[side] = max(rss.get(side, 0), int(w[2]))
        elif w[1] == "rss_kb" and side not in rss:
            rss[side + "_self"] = max(rss.get(side + "_self", 0), int(w[2]))
        elif w[1] == "bytes":
            blobs.setdefault((side, w[2]), set()).add(w[3])
    elif w[0] == "cg":
        cg.setdefault(w[1], {})[int(w[2])] = int(w[3])
    else:
        meta[w[0]] = " ".join(w[1:])

def med(side, name):
    s = samples.get((side, name))
    return statistics.median(s) if s else None

def spread(side, name):
    s = sorted(samples.get((side, name), []))
    return "%s-%s" % (fmt(s[0]), fmt(s[-1])) if s else ""

def fmt(x):
    if x is None:
        return "-"
    return "{:,.0f}".format(x) if x >= 100 else "{:.1f}".format(x)

def ir(op):
    d = cg.get(op, {})
    if len(d) != 2:
        return None
    (n1, i1), (n2, i2) = sorted(d.items())
    return (i2 - i1) / (n2 - n1)

same_req = blobs.get(("c", "encode_get")) == blobs.get(("py", "encode_get"))
if ("c", "kmip_build_get") in blobs:
    same_req = same_req and blobs[("c", "kmip_build_get")] == blobs.get(("py", "encode_get"))
n = len(samples.get(("c", "encode_get"), []))
rows = [
    ("encode Get request (values -> 112 bytes)", "encode_get", "encode_get"),
    ("decode + walk Get response (capture 7, 280 bytes)", "decode_get_resp", "decode_get_resp"),
    ("encode Get into locked memory, alloc + free included", "encode_get_locked", None),
    ("PyKMIP write() of prebuilt objects (no build)", None, "write_get"),
    ("product layer: kmip_build_get() (caller buffer) vs PyKMIP build + write", "kmip_build_get", "encode_get"),
    ("product layer: kmip_response_parse() + kmip_parse_get(), key copied to locked memory, vs PyKMIP read", "kmip_parse_get_resp", "decode_get_resp"),
]
out = []
out.append("## Codec: kmipcrypt vs PyKMIP %s\n" % meta.get("python", "").split("PyKMIP")[-1].strip())
out.append("%s, commit %s, %s, load %s at the end.  " % (
    meta.get("date"), meta.get("commit"), meta.get("cpu"), meta.get("load")))
out.append("Median of %d samples per cell (%s rounds x %s reps, sides alternating); "
           "ns per message; range = min-max of the samples.\n" % (
               n, meta.get("rounds", "?").split()[0], meta.get("rounds", "? reps ?").split()[-1]))
out.append("| operation | kmipcrypt ns | range | PyKMIP ns | range | PyKMIP / kmipcrypt | kmipcrypt instructions (callgrind) |")
out.append("|---|---:|---:|---:|---:|---:|---:|")
for label, cop, pop in rows:
    if cop and ("c", cop) not in samples:
        continue                                # built without src/kmip
    c = med("c", cop) if cop else None
    p = med("py", pop) if pop else None
    ratio = "%.0fx" % (p / c) if c and p else "-"
    i = ir(cop) if cop else None
    out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
        label, fmt(c), spread("c", cop) if cop else "", fmt(p),
        spread("py", pop) if pop else "", ratio,
        "{:,.0f}".format(i) if i is not None else "-"))
rc, rp = rss.get("c") or rss.get("c_self"), rss.get("py") or rss.get("py_self")
out.append("| peak RSS of the process (KiB) | %s | | %s | | %s | |" % (
    "{:,}".format(rc) if rc else "-", "{:,}".format(rp) if rp else "-",
    "%.0fx" % (rp / rc) if rc and rp else "-"))
out.append("")
out.append("Same request bytes on both sides: %s.  Compiler: %s.  Python %s.  %s." % (
    "yes" if same_req else "NO (check bench/codec.c and pykmip_codec.py)",
    meta.get("cc"), meta.get("python"), meta.get("valgrind")))
print("\n".join(out))
EOF

cat "$B/table.md"
cp "$B/table.md" "$OUT"
echo
echo "written: $OUT (raw samples: $raw)"
