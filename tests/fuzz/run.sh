#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build and run the libFuzzer targets in tests/fuzz/ (clang, ASan + UBSan).
#
#   tests/fuzz/run.sh [SECONDS]        fuzz each target for SECONDS (default 60)
#   tests/fuzz/run.sh --replay         run each target over its seed corpus
#                                      once (a few seconds; for `make check`)
#   tests/fuzz/run.sh --build          build only
#   tests/fuzz/run.sh --repro FILE...  run the inputs given (crash reproducers):
#                                      each with the target its name starts with,
#                                      other names with the targets in TARGETS
#
# Environment:
#   TARGETS="fuzz_ttlv_decode ..."  restrict to these targets (default: every
#                                   tests/fuzz/fuzz_*.c)
#   CLANG=clang-14                  compiler (default: clang, else clang-14)
#   FUZZ_MAX_LEN=8192               largest generated input (bytes)
#   FUZZ_BUILD=build/fuzz           where objects, binaries and the working
#                                   corpus go (never the seed corpus)
#
# Layout:
#   tests/fuzz/fuzz_<t>.c           target
#   tests/fuzz/corpus/fuzz_<t>/     seed corpus (small, committed, read-only)
#   tests/fuzz/<t>.dict, ttlv.dict  dictionary (fuzz_<t>.dict if present, else ttlv.dict)
#   tests/fuzz/crashes/             reproducers of crashes found (committed by hand)
#
# The library sources a target needs are compiled directly (not through the
# Makefile, so that a half-written file elsewhere in src/ does not stop the
# fuzzers): src/{ttlv,kmip,util,net}/*.c and src/luks/token.c go into an instrumented archive, and the
# linker pulls only the objects a target uses.  A source that does not
# compile is skipped with a warning; a target whose link then fails is
# reported as not built.
#
# Exit status: 0 when every target built and nothing crashed, 1 otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1

mode=fuzz
seconds=60
repro=()
case "${1:-}" in
"") ;;
--replay) mode=replay ;;
--build) mode=build ;;
--repro) mode=repro; shift; repro=("$@") ;;
-h|--help) sed -n '3,35p' "$0"; exit 0 ;;
*[!0-9]*) echo "usage: $0 [SECONDS | --replay | --build | --repro FILE...]" >&2; exit 2 ;;
*) seconds=$1 ;;
esac

CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
if [ -z "$CLANG" ]; then
	echo "run.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
B=${FUZZ_BUILD:-build/fuzz}
MAXLEN=${FUZZ_MAX_LEN:-8192}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=gnu11 -g -O1 -Wall -Wno-unused-parameter -Isrc $SAN"
# Optional libraries some sources use (libxml2 for the XML codec...).
PKG_CFLAGS= PKG_LIBS=
for p in libxml-2.0 json-c libssl libcrypto; do
	PKG_CFLAGS="$PKG_CFLAGS $(pkg-config --cflags "$p" 2>/dev/null)"
	PKG_LIBS="$PKG_LIBS $(pkg-config --libs "$p" 2>/dev/null)"
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mkdir -p "$B/obj" "$B/bin" "$B/work" "$B/logs"

# ------------------------------------------------------------------ build
newest_header=$(find src -name '*.h' -printf '%T@\n' 2>/dev/null | sort -n | tail -1)
newest_header=${newest_header%.*}

build_lib() {
	local src obj objs=() failed=0 mt changed=0
	for src in $(ls src/ttlv/*.c src/kmip/*.c src/util/*.c src/net/*.c src/luks/token.c 2>/dev/null); do
		obj="$B/obj/$(echo "${src%.c}" | tr / _).o"
		mt=0
		[ -f "$obj" ] && mt=$(stat -c %Y "$obj")
		if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "${newest_header:-0}" -gt "$mt" ]; then
			# shellcheck disable=SC2086
			if ! "$CLANG" $CFLAGS $PKG_CFLAGS -fsanitize=fuzzer-no-link \
				-c "$src" -o "$obj" 2>"$B/logs/cc.err"; then
				echo "run.sh: warning: $src does not compile, left out:" >&2
				sed 's/^/    /' "$B/logs/cc.err" | head -5 >&2
				rm -f "$obj"
				failed=1
				continue
			fi
			changed=1
		fi
		objs+=("$obj")
	done
	# Re-archive only when an object or the set of objects changed, so
	# that targets are not relinked for nothing.
	if [ $changed = 1 ] || [ ! -f "$B/libfuzzsrc.a" ] ||
	   [ "$(printf '%s\n' "${objs[@]##*/}" | sort)" != "$(ar t "$B/libfuzzsrc.a" | sort)" ]; then
		rm -f "$B/libfuzzsrc.a"
		ar rcs "$B/libfuzzsrc.a" "${objs[@]}"
	fi
	return 0
}

build_target() {
	local t=$1 bin="$B/bin/$1"
	if [ -x "$bin" ] && [ "$bin" -nt "tests/fuzz/$t.c" ] && [ "$bin" -nt "$B/libfuzzsrc.a" ] &&
	   [ "$bin" -nt "$0" ]; then
		return 0
	fi
	# shellcheck disable=SC2086
	if ! "$CLANG" $CFLAGS $PKG_CFLAGS -fsanitize=fuzzer -o "$bin" \
		"tests/fuzz/$t.c" "$B/libfuzzsrc.a" $PKG_LIBS 2>"$B/logs/$t.build"; then
		echo "run.sh: $t: build failed:" >&2
		head -20 "$B/logs/$t.build" >&2
		return 1
	fi
}

if [ -n "${TARGETS:-}" ]; then
	targets=($TARGETS)
else
	targets=()
	for f in tests/fuzz/fuzz_*.c; do
		[ -e "$f" ] && targets+=("$(basename "${f%.c}")")
	done
fi

build_lib
status=0
built=()
for t in "${targets[@]}"; do
	if build_target "$t"; then
		built+=("$t")
	else
		status=1
	fi
done
[ "$mode" = build ] && { echo "built: ${built[*]}"; exit $status; }

# ------------------------------------------------------------------ run
dict_for() {
	if [ -f "tests/fuzz/$1.dict" ]; then echo "-dict=tests/fuzz/$1.dict"
	elif [ -f tests/fuzz/ttlv.dict ]; then echo "-dict=tests/fuzz/ttlv.dict"
	fi
}

summary=()
for t in "${built[@]}"; do
	bin="$B/bin/$t"
	seeds="tests/fuzz/corpus/$t"
	log="$B/logs/$t.log"
	case $mode in
	replay)
		files=()
		[ -d "$seeds" ] && while IFS= read -r -d '' f; do files+=("$f"); done \
			< <(find "$seeds" -type f -print0 | sort -z)
		if [ ${#files[@]} -eq 0 ]; then
			summary+=("$t: no seed corpus")
			continue
		fi
		if "$bin" -runs=1 "${files[@]}" >"$log" 2>&1; then
			summary+=("$t: ${#files[@]} inputs OK")
		else
			summary+=("$t: FAILED (see $log)")
			tail -30 "$log" >&2
			status=1
		fi
		;;
	repro)
		# Each file goes to the target its name starts with
		# (<target>-crash-...), or to every target given in TARGETS.
		files=()
		for f in "${repro[@]}"; do
			case "$(basename "$f")" in
			"$t"-*) files+=("$f") ;;
			fuzz_*) ;;
			*) [ -n "${TARGETS:-}" ] && files+=("$f") ;;
			esac
		done
		[ ${#files[@]} -eq 0 ] && continue
		if "$bin" -runs=1 "${files[@]}"; then
			summary+=("$t: ${#files[@]} inputs OK")
		else
			summary+=("$t: FAILED")
			status=1
		fi
		;;
	fuzz)
		mkdir -p "$B/work/$t" tests/fuzz/crashes
		# New inputs go to the working corpus (first directory); the
		# seed corpus is only read.
		dirs=("$B/work/$t")
		[ -d "$seeds" ] && dirs+=("$seeds")
		# shellcheck disable=SC2046
		"$bin" -max_total_time="$seconds" -max_len="$MAXLEN" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 $(dict_for "$t") \
			-artifact_prefix="tests/fuzz/crashes/$t-" "${dirs[@]}" \
			>"$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		ncorp=$(find "$B/work/$t" -type f | wc -l)
		if [ $rc -eq 0 ]; then
			summary+=("$t: ${seconds}s, ${execs:-?} execs, ${cov:-cov: ?}, working corpus $ncorp, no crash")
		else
			art=$(grep -o 'Test unit written to .*' "$log" | sed 's/Test unit written to //' | tail -1)
			summary+=("$t: CRASH after ${execs:-?} execs: ${art:-see $log}")
			grep -m1 -E 'ERROR: |runtime error|property failed' "$log" >&2
			status=1
		fi
		;;
	esac
done

echo "fuzz ($mode):"
for s in "${summary[@]}"; do echo "  $s"; done
exit $status
