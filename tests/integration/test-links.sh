#!/bin/bash
# Link boundaries: the programs on the boot and poll paths load neither
# libxml2 nor what it brings (ICU, libstdc++).  kmipcrypt (unlock at boot)
# and the token plugin (inside cryptsetup and systemd-cryptsetup) are read
# with `readelf -d` (what they name, NEEDED) and with `ldd` (everything the
# loader maps for them, transitively); only kmipcrypt-ttlv, which
# `kmipcrypt ttlv` runs, may load them, and does (so the pattern is known to
# match), and `kmipcrypt ttlv` still works through it.
# The binaries are the build of $KMIPCRYPT (run.sh); no server, no root.
set -u
: "${KMIPCRYPT:?set KMIPCRYPT to the kmipcrypt binary}"
root=$(cd "$(dirname "$0")/../.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }

bin=$(realpath "$KMIPCRYPT")
build=$(dirname "$bin")
plugin=$build/libcryptsetup-token-kmip.so
tool=$build/kmipcrypt-ttlv
for f in "$bin" "$plugin"; do
	[ -f "$f" ] || fail "no $f: build every product first (make BUILD=${build#"$root"/})"
done
command -v readelf >/dev/null && command -v ldd >/dev/null ||
	fail "readelf or ldd missing (Debian: binutils, libc-bin)"

# A library that must not be loaded on those paths, by its file name.
forbidden='^(libxml2|libicu[a-z0-9]*|libstdc\+\+)\.so'

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
# Every library the loader maps for $1, "NAME PATH" a line; fails when one
# is not found.
ldd_of() {
	local out
	out=$(ldd "$1") || return 1
	! printf '%s\n' "$out" | grep -q 'not found' || { printf '%s\n' "$out" >&2; return 1; }
	printf '%s\n' "$out" | awk '$2 == "=>" { print $1, $3 }'
}
# By name, less what a sanitizer runtime (an ASan/UBSan build: libasan
# needs libstdc++) brings with it: that is the build's choice, not ours.
loaded() {
	local all san=
	all=$(ldd_of "$1") || return 1
	while read -r name path; do
		case $name in
		libasan.so* | libubsan.so* | libtsan.so* | liblsan.so*)
			san="$san $(ldd_of "$path" | awk '{ print $1 }')" || return 1 ;;
		esac
	done <<<"$all"
	printf '%s\n' "$all" | awk '{ print $1 }' | grep -vxF -f <(printf '%s\n' $san) -
}

bad=0
for f in "$bin" "$plugin"; do
	name=${f#"$root"/}
	n=$(needed "$f") || fail "readelf -d $name"
	[ -n "$n" ] || fail "readelf -d $name lists no NEEDED library: cannot read it?"
	hits=$(printf '%s\n' "$n" | grep -E "$forbidden")
	if [ -n "$hits" ]; then
		echo "not ok - $name names (NEEDED)" $hits
		bad=1
	else
		echo "ok $name names none of libxml2, ICU, libstdc++ (NEEDED:" $n")"
	fi
	l=$(loaded "$f") || fail "ldd $name: failed or a library was not found (above)"
	hits=$(printf '%s\n' "$l" | grep -E "$forbidden")
	if [ -n "$hits" ]; then
		echo "not ok - $name loads (ldd, transitively)" $hits
		bad=1
	else
		echo "ok $name loads none of them, transitively ($(printf '%s\n' "$l" | wc -l) libraries, ldd)"
	fi
done
[ $bad = 0 ] || fail "libxml2, ICU or libstdc++ is linked into the boot path (lines above); \
only kmipcrypt-ttlv (libkmipcrypt-ttlv.a) may link libxml2 (Makefile)"

# The other side: the TTLV tools do load libxml2 (the pattern matches what
# readelf and ldd print), and `kmipcrypt ttlv` reaches them.
[ -f "$tool" ] || fail "no $tool: \`kmipcrypt ttlv\` runs it; build every product (make)"
needed "$tool" | grep -qE "$forbidden" ||
	fail "kmipcrypt-ttlv names no libxml2 (NEEDED): the pattern '$forbidden' matches nothing readelf prints"
loaded "$tool" | grep -qE '^libicu' ||
	fail "kmipcrypt-ttlv loads no ICU (ldd): the transitive check above could not see it either"
echo "ok kmipcrypt-ttlv, and only it, names libxml2 and loads ICU (the checks above can see them)"

# A Request Message holding an empty Request Header, as hex.
msg=42007801000000084200770100000000
out=$(echo $msg | "$bin" ttlv dump --hex 2>&1) ||
	{ rc=$?; printf '%s\n' "$out" | sed 's/^/    | /'; fail "kmipcrypt ttlv dump: exit $rc"; }
printf '%s\n' "$out" | grep -q 'Request Message' ||
	{ printf '%s\n' "$out" | sed 's/^/    | /'; fail "kmipcrypt ttlv dump does not name the Request Message"; }
echo "ok kmipcrypt ttlv dump works (through kmipcrypt-ttlv)"
out=$(printf '<RequestMessage><RequestHeader/></RequestMessage>' |
	"$bin" ttlv convert --to hex - 2>&1) ||
	{ rc=$?; printf '%s\n' "$out" | sed 's/^/    | /'; fail "kmipcrypt ttlv convert (XML): exit $rc"; }
[ "$out" = $msg ] ||
	fail "kmipcrypt ttlv convert --to hex of an XML message: got '$out'"
echo "ok kmipcrypt ttlv convert reads XML (libxml2, in kmipcrypt-ttlv)"
echo "PASS $(basename "$0")"
