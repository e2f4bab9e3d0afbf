#!/bin/sh
# Run every integration test (tests/integration/test-*.sh) against real
# parts: the PyKMIP server over mutual TLS, real cryptsetup and LUKS2 images.
# Each script starts what it needs on free ports and stops only that.
# Each script is bounded (TEST_TIMEOUT seconds, default 600, or what the
# script's second line asks for, "# test-timeout: SECONDS"): a hung test
# gets SIGTERM (its traps stop what it started), then SIGKILL 20 s later, and
# fails, so that a hang costs minutes, not the CI job.
# Usage: run.sh CLI [TEST...]
set -u
cd "$(dirname "$0")/../.." || exit 1
cli=$(realpath "${1:?usage: run.sh CLI [TEST...]}")
shift
export KMIPCRYPT="$cli"
tests=${*:-$(ls tests/integration/test-*.sh 2>/dev/null)}
fail=0 n=0
for t in $tests; do
	n=$((n + 1))
	log="build/integration-$(basename "$t" .sh).log"
	start=$(date +%s)
	# A script may ask for more time on its second line ("# test-timeout: SECONDS").
	limit=$(sed -n '2s/^# test-timeout: \([0-9][0-9]*\)$/\1/p' "$t")
	limit=${TEST_TIMEOUT:-${limit:-600}}
	if timeout --kill-after=20 "$limit" bash "$t" >"$log" 2>&1; then
		echo "PASS $(basename "$t") ($(( $(date +%s) - start )) s, $(grep -c '^ok ' "$log") checks)"
	else
		rc=$?
		[ $rc = 124 ] || [ $rc = 137 ] &&
			echo "FAIL $(basename "$t"): no end within $limit s, stopped" >>"$log"
		echo "FAIL $(basename "$t"); log $log:"
		tail -n 40 "$log" | sed 's/^/    /'
		fail=1
	fi
done
echo "integration: $n scripts, $([ $fail = 0 ] && echo all passed || echo FAILURES)"
exit $fail
