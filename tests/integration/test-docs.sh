#!/bin/bash
# The manual pages: every docs/*.8 and docs/*.5 renders without a groff
# warning, each LUKS verb has its page with the sections an administrator
# looks for, and every long option that `kmipcrypt VERB --help` prints is
# documented in that verb's page (so that a new option cannot ship without
# its documentation).  Needs groff (Debian: groff-base); no server, no root.
set -u
: "${KMIPCRYPT:?set KMIPCRYPT to the kmipcrypt binary}"
root=$(cd "$(dirname "$0")/../.." && pwd)
docs=$root/docs

fail() { echo "FAIL: $*" >&2; exit 1; }

command -v groff >/dev/null 2>&1 ||
	fail "groff is not installed; install it with 'apt-get install groff-base'"

# The text of a page with roff's escaped dashes made plain: "\-\-all" -> "--all".
plain() { sed 's/\\-/-/g' "$1"; }

pages=$(ls "$docs"/*.8 "$docs"/*.5 2>/dev/null)
[ -n "$pages" ] || fail "no manual page in $docs"
for p in $pages; do
	out=$(groff -t -man -ww -z "$p" 2>&1)
	rc=$?
	[ $rc = 0 ] && [ -z "$out" ] || { printf '%s\n' "$out" | sed 's/^/    | /'; fail "$(basename "$p"): groff -ww: exit $rc, warnings above"; }
	echo "ok $(basename "$p"): groff -t -man -ww renders it without a warning"
	! grep -nE '[[:blank:]]$' "$p" || fail "$(basename "$p"): trailing white space (lines above)"
	echo "ok $(basename "$p"): no trailing white space"
done

for verb in enroll unlock status lock unbind; do
	page=$docs/kmipcrypt-$verb.8
	[ -f "$page" ] || fail "no page for $verb: $page"
	for sh in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qE "^\.SH \"?$sh\"?\$" "$page" || fail "kmipcrypt-$verb.8: no section $sh"
	done
	echo "ok kmipcrypt-$verb.8: NAME SYNOPSIS DESCRIPTION OPTIONS EXIT STATUS EXAMPLES SEE ALSO"
	grep -qE "^\.BR kmipcrypt\\\\-$verb \(8\)" "$docs/kmipcrypt.8" ||
		fail "kmipcrypt.8 does not point to kmipcrypt-$verb(8)"
	echo "ok kmipcrypt.8 points to kmipcrypt-$verb(8)"

	help=$("$KMIPCRYPT" "$verb" --help) || fail "kmipcrypt $verb --help failed"
	opts=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ -n "$opts" ] || fail "kmipcrypt $verb --help names no long option"
	text=$(plain "$page")
	for o in $opts; do
		# The whole option: --token must not be found only inside --token-only.
		printf '%s\n' "$text" | grep -qE -- "(^|[^a-z-])$o([^a-z-]|\$)" ||
			fail "kmipcrypt-$verb.8 does not document $o (from 'kmipcrypt $verb --help')"
	done
	echo "ok kmipcrypt-$verb.8 documents every option of 'kmipcrypt $verb --help':" $opts
done
echo "PASS $(basename "$0")"
