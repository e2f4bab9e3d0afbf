#!/bin/bash
# Shared by the integration tests: the lab (PyKMIP, certificates, cleanup by
# PID) and assertions that print "ok ..." per check and stop at the first
# failure with what was expected and what came.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"
: "${KMIPCRYPT:?set KMIPCRYPT to the kmipcrypt binary}"
lab_init

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS $(basename "$0")"; exit 0; }

# expect_eq GOT WANT WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
	echo "ok $3"
}

# expect_rc RC WHAT CMD...: CMD exits with RC (its output goes to the log).
expect_rc() {
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$LAB_TMP/out" 2>&1
	rc=$?
	sed 's/^/    | /' "$LAB_TMP/out"
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want"
	echo "ok $what (exit $rc)"
}

# expect_grep RE WHAT CMD...: CMD's stdout+stderr matches RE (any exit code).
expect_grep() {
	local re=$1 what=$2
	shift 2
	"$@" >"$LAB_TMP/out" 2>&1
	grep -qE -- "$re" "$LAB_TMP/out" || { sed 's/^/    | /' "$LAB_TMP/out"; fail "$what: no '$re' in output"; }
	echo "ok $what"
}

expect_nogrep() {
	local re=$1 what=$2
	shift 2
	"$@" >"$LAB_TMP/out" 2>&1
	! grep -qE -- "$re" "$LAB_TMP/out" || fail "$what: '$re' found in output"
	echo "ok $what"
}

# The "uid" of every object in a JSON array on stdin, one per line.
json_uids() {
	"$LAB_PY" -c 'import json, sys; print("\n".join(o["uid"] if isinstance(o, dict) else o for o in json.load(sys.stdin)))'
}
