#!/bin/bash
# The build and install targets a new user runs first: a plain `make` builds
# every product (the command, the TTLV tools it runs, the token plugin and
# the daemon, not only the plugin);
# `make install` puts exactly the expected files under DESTDIR and PREFIX;
# the installed kmipcrypt finds the installed kmipcrypt-ttlv for `ttlv` (and
# says so clearly when it is missing); `make uninstall` removes exactly those
# and nothing else (a file of the user's next to them stays, and so does the
# configuration directory).
# Every install here goes to a temporary DESTDIR, never to the system.
# No server, no root.
set -u
: "${KMIPCRYPT:?set KMIPCRYPT to the kmipcrypt binary}"
root=$(cd "$(dirname "$0")/../.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kmipcrypt-install.XXXXXX) || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

# The build directory of the binary under test when it is one of this
# checkout's (build/, build-asan/, ...): install what is being tested, and
# build nothing twice.  Anything else is rebuilt in a directory of our own,
# so that make never writes next to a binary it does not own.
bin=$(realpath "$KMIPCRYPT")
case $bin in
"$root"/*/kmipcrypt) build=${bin#"$root"/}; build=${build%/kmipcrypt} ;;
*) build=$tmp/build ;;
esac
mk() { make -s --no-print-directory -C "$root" BUILD="$build" "$@"; }

# 1. `make` with no target: its plan builds the command, the TTLV tools and the plugin.
plan=$(make -n --no-print-directory -C "$root" BUILD="$tmp/fresh" 2>&1) ||
	{ printf '%s\n' "$plan" | tail -n 20 | sed 's/^/    | /'; fail "make -n: exit $?"; }
for product in kmipcrypt kmipcrypt-ttlv libcryptsetup-token-kmip.so kmipcryptd; do
	printf '%s\n' "$plan" | grep -qE -- "-o $tmp/fresh/$product( |\$)" ||
		fail "a plain 'make' does not build $product (make -n above names no '-o .../$product')"
	echo "ok a plain 'make' builds $product"
done
[ ! -e "$tmp/fresh" ] || fail "make -n created $tmp/fresh"

plugin_dir=$(mk print-plugin-dir) || fail "make print-plugin-dir"
[ -n "$plugin_dir" ] || fail "make print-plugin-dir printed nothing"
unit_dir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
unit_dir=${unit_dir:-/lib/systemd/system}

# The files `make install` must put under DESTDIR for PREFIX, sorted.
expected() {
	local prefix=$1 p
	{
		echo "$prefix/sbin/kmipcrypt"
		echo "$prefix/sbin/kmipcryptd"
		echo "$unit_dir/kmipcryptd.service"
		echo "$prefix/libexec/kmipcrypt/kmipcrypt-ttlv"
		echo "$plugin_dir/libcryptsetup-token-kmip.so"
		for p in "$root"/docs/*.8; do echo "$prefix/share/man/man8/$(basename "$p")"; done
		echo "$prefix/share/man/man5/kmipcrypt.conf.5"
	} | sort
}

# install_cycle NAME [PREFIX]: install, compare, uninstall, compare.
install_cycle() {
	local name=$1 prefix=${2:-} dest=$tmp/dest-$1 got want args=()
	[ -n "$prefix" ] && args=(PREFIX="$prefix")
	[ -n "$dest" ] && [ "$dest" != / ] || fail "empty DESTDIR: refusing to install into the system"
	mk install DESTDIR="$dest" "${args[@]}" >"$tmp/out" 2>&1 ||
		{ sed 's/^/    | /' "$tmp/out"; fail "$name: make install DESTDIR=$dest ${args[*]}"; }
	got=$(cd "$dest" && find . -type f | sed 's|^\.||' | sort)
	want=$(expected "${prefix:-/usr}")
	[ "$got" = "$want" ] ||
		fail "$name: make install put these files:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
	echo "ok $name: make install puts exactly the command, the daemon and its unit, the TTLV tools, the plugin and the manual pages under DESTDIR$([ -n "$prefix" ] && echo " and PREFIX=$prefix")"
	[ "$(stat -c %a "$dest/etc/kmipcrypt")" = 700 ] ||
		fail "$name: $dest/etc/kmipcrypt has mode $(stat -c %a "$dest/etc/kmipcrypt"), want 700"
	echo "ok $name: make install creates /etc/kmipcrypt with mode 700"
	"$dest${prefix:-/usr}/sbin/kmipcrypt" --version | grep -q '^kmipcrypt [0-9]' ||
		fail "$name: the installed kmipcrypt --version does not say its version"
	echo "ok $name: the installed kmipcrypt runs"
	# `kmipcrypt ttlv` runs kmipcrypt-ttlv from PREFIX/libexec/kmipcrypt,
	# found relative to the installed kmipcrypt (so also under DESTDIR): the
	# installed one, as its absence shows.
	local sbin=$dest${prefix:-/usr}/sbin tool=$dest${prefix:-/usr}/libexec/kmipcrypt/kmipcrypt-ttlv rc
	got=$(echo 42007801000000084200770100000000 | "$sbin/kmipcrypt" ttlv dump --hex 2>&1) &&
		printf '%s\n' "$got" | grep -q 'Request Message' ||
		fail "$name: the installed 'kmipcrypt ttlv dump' does not work: $got"
	echo "ok $name: the installed kmipcrypt ttlv runs the installed kmipcrypt-ttlv"
	mv "$tool" "$tmp/kmipcrypt-ttlv.aside" || fail "mv $tool"
	got=$("$sbin/kmipcrypt" ttlv --help 2>&1)
	rc=$?
	mv "$tmp/kmipcrypt-ttlv.aside" "$tool" || fail "mv back $tool"
	[ $rc = 6 ] && printf '%s\n' "$got" | grep -qF "the TTLV tools are not installed: no $sbin/kmipcrypt-ttlv" &&
		printf '%s\n' "$got" | grep -qF "nor $tool" ||
		fail "$name: without kmipcrypt-ttlv, 'kmipcrypt ttlv': exit $rc, '$got'; want exit 6 and where it was looked for"
	echo "ok $name: without kmipcrypt-ttlv, 'kmipcrypt ttlv' says where it looked (exit 6)"

	# Files uninstall did not install must stay: the user's configuration,
	# another program beside ours.
	echo "[default]" >"$dest/etc/kmipcrypt/kmipcrypt.conf"
	echo "#!/bin/sh" >"$dest${prefix:-/usr}/sbin/other-tool"
	mk uninstall DESTDIR="$dest" "${args[@]}" >"$tmp/out" 2>&1 ||
		{ sed 's/^/    | /' "$tmp/out"; fail "$name: make uninstall DESTDIR=$dest ${args[*]}"; }
	got=$(cd "$dest" && find . -type f | sed 's|^\.||' | sort)
	want=$(printf '%s\n' /etc/kmipcrypt/kmipcrypt.conf "${prefix:-/usr}/sbin/other-tool" | sort)
	[ "$got" = "$want" ] ||
		fail "$name: after make uninstall these files are left:"$'\n'"$got"$'\n'"want only:"$'\n'"$want"
	echo "ok $name: make uninstall removes every file make install put there, and nothing else"
	rm -f "$dest/etc/kmipcrypt/kmipcrypt.conf" "$dest${prefix:-/usr}/sbin/other-tool"
	[ -z "$(find "$dest" -type f)" ] || fail "$name: files left in $dest"
	[ ! -e "$dest${prefix:-/usr}/libexec/kmipcrypt" ] ||
		fail "$name: make uninstall left the directory ${prefix:-/usr}/libexec/kmipcrypt"
	echo "ok $name: nothing of kmipcrypt is left under DESTDIR"
}

install_cycle default
install_cycle local /usr/local

# uninstall of what was never installed: nothing to do, no error.
mk uninstall DESTDIR="$tmp/empty" >"$tmp/out" 2>&1 ||
	{ sed 's/^/    | /' "$tmp/out"; fail "make uninstall of an empty DESTDIR"; }
echo "ok make uninstall with nothing installed succeeds"
echo "PASS $(basename "$0")"
