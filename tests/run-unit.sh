#!/bin/sh
# Run every unit test binary given; with VALGRIND=1 under valgrind.
# Prints one line per binary and fails if any failed.
set -u
cd "$(dirname "$0")/.." || exit 1
fail=0
for t in "$@"; do
	if [ "${VALGRIND:-0}" = 1 ]; then
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
			--error-exitcode=99 "$t" >"$t.log" 2>&1
	else
		"$t" >"$t.log" 2>&1
	fi
	rc=$?
	if [ $rc = 0 ]; then
		printf 'PASS %s (%s)\n' "${t##*/}" "$(grep -o '[0-9]* test(s) run' "$t.log" | head -1)"
	else
		printf 'FAIL %s (exit %d); output:\n' "${t##*/}" $rc
		sed 's/^/    /' "$t.log"
		fail=1
	fi
done
exit $fail
