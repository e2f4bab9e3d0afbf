#!/bin/bash
# The build and install targets a new user runs first: a plain `make` builds
# every product (the command, the TTLV tools it runs, the token plugin and
# the daemon, not only the plugin);
# `make install` puts exactly the expected files, with their modes, under
# DESTDIR and PREFIX: the programs, the plugin, the manual pages, every unit
# and the generator of systemd/, the rules of udev/, the dracut module and
# the initramfs-tools scripts, in the directories their pkg-config files name
# (or Debian 12's), and units that name the programs where PREFIX put them;
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
# The system's directories, as their pkg-config files say, or Debian 12's.
pcvar() { pkg-config --variable="$1" "$2" 2>/dev/null; }
unit_dir=$(pcvar systemdsystemunitdir systemd); unit_dir=${unit_dir:-/lib/systemd/system}
gen_dir=$(pcvar systemdsystemgeneratordir systemd); gen_dir=${gen_dir:-/lib/systemd/system-generators}
udev_dir=$(pcvar udevdir udev); udev_dir=${udev_dir:-/lib/udev}
dracut_dir=$(pcvar dracutmodulesdir dracut); dracut_dir=${dracut_dir:-/usr/lib/dracut/modules.d}
itools_dir=/usr/share/initramfs-tools

# The files `make install` must put under DESTDIR for PREFIX, as "MODE PATH"
# lines, sorted: what the tree holds today (files added to systemd/, udev/,
# dracut/90kmipcrypt/ or initramfs-tools/ are expected too).
expected() {
	local prefix=$1 p mode
	{
		echo "755 $prefix/sbin/kmipcrypt"
		echo "755 $prefix/sbin/kmipcryptd"
		echo "755 $prefix/libexec/kmipcrypt/kmipcrypt-ttlv"
		echo "644 $plugin_dir/libcryptsetup-token-kmip.so"
		for p in "$root"/docs/*.8; do echo "644 $prefix/share/man/man8/${p##*/}"; done
		for p in "$root"/docs/*.5; do echo "644 $prefix/share/man/man5/${p##*/}"; done
		for p in "$root"/systemd/*.service "$root"/systemd/*.target "$root"/systemd/*.path \
			 "$root"/systemd/*.timer; do
			[ -f "$p" ] && echo "644 $unit_dir/${p##*/}"
		done
		[ -f "$root/systemd/kmipcrypt-generator" ] && echo "755 $gen_dir/kmipcrypt-generator"
		for p in "$root"/udev/*.rules; do [ -f "$p" ] && echo "644 $udev_dir/rules.d/${p##*/}"; done
		for p in "$root"/dracut/90kmipcrypt/*; do
			[ -f "$p" ] || continue
			case $p in *.sh) mode=755 ;; *) mode=644 ;; esac
			echo "$mode $dracut_dir/90kmipcrypt/${p##*/}"
		done
		for p in "$root"/initramfs-tools/hooks/* "$root"/initramfs-tools/scripts/*/*; do
			[ -f "$p" ] && echo "755 $itools_dir/${p#"$root"/initramfs-tools/}"
		done
		for p in "$root"/initramfs-tools/conf-hooks.d/*; do
			[ -f "$p" ] && echo "644 $itools_dir/conf-hooks.d/${p##*/}"
		done
	} | sort -k2
}
# The files under a directory as "MODE PATH" lines, sorted.
installed() { (cd "$1" && find . -type f -printf '%m %P\n' | sed 's|^\([0-7]*\) |\1 /|' | sort -k2); }

# The daemon's unit at least: the rest is what the tree holds.
[ -f "$root/systemd/kmipcryptd.service" ] || fail "no systemd/kmipcryptd.service in the tree"

# The system directories come from pkg-config, from Debian 12's when a .pc
# file is absent, and from the command line over both: make -n shows where
# each file would go (its entries MODE:SOURCE:DESTINATION).
# check_dirs NAME UNITS GENERATORS UDEV-RULES DRACUT-MODULES INITRAMFS-TOOLS [MAKE-ARGS]
check_dirs() {
	local name=$1 units=$2 gens=$3 rules=$4 dracut=$5 itools=$6 plan p w
	shift 6
	plan=$(make -n --no-print-directory -C "$root" BUILD="$build" install "$@" 2>&1) ||
		{ printf '%s\n' "$plan" | tail -n 20 | sed 's/^/    | /'; fail "$name: make -n install $*"; }
	{
		echo ":$units/kmipcryptd.service"
		[ -f "$root/systemd/kmipcrypt-generator" ] && echo ":$gens/kmipcrypt-generator"
		for p in "$root"/udev/*.rules; do [ -f "$p" ] && echo ":$rules/${p##*/}"; done
		for p in "$root"/dracut/90kmipcrypt/*; do [ -f "$p" ] && echo ":$dracut/90kmipcrypt/${p##*/}"; done
		for p in "$root"/initramfs-tools/hooks/*; do [ -f "$p" ] && echo ":$itools/hooks/${p##*/}"; done
	} >"$tmp/want-dirs"
	while IFS= read -r w; do
		printf '%s\n' "$plan" | grep -qF -- "$w " ||
			fail "$name: make install would not install to ${w#:} (make -n install $*)"
	done <"$tmp/want-dirs"
	echo "ok the system directories $name ($(wc -l <"$tmp/want-dirs") files checked)"
}
mkdir -p "$tmp/pc" "$tmp/nopc"
printf '%s\n' systemdsystemunitdir=/opt/pc/units systemdsystemgeneratordir=/opt/pc/generators \
	'Name: systemd' 'Description: test' 'Version: 252' >"$tmp/pc/systemd.pc"
printf '%s\n' udevdir=/opt/pc/udev 'Name: udev' 'Description: test' 'Version: 252' >"$tmp/pc/udev.pc"
printf '%s\n' dracutmodulesdir=/opt/pc/dracut 'Name: dracut' 'Description: test' 'Version: 059' >"$tmp/pc/dracut.pc"
PKG_CONFIG_PATH=$tmp/pc check_dirs "come from pkg-config (systemd.pc, udev.pc, dracut.pc)" \
	/opt/pc/units /opt/pc/generators /opt/pc/udev/rules.d /opt/pc/dracut /usr/share/initramfs-tools
PKG_CONFIG_LIBDIR=$tmp/nopc PKG_CONFIG_PATH='' check_dirs "are Debian 12's without .pc files" \
	/lib/systemd/system /lib/systemd/system-generators /lib/udev/rules.d /usr/lib/dracut/modules.d \
	/usr/share/initramfs-tools
PKG_CONFIG_PATH=$tmp/pc check_dirs "given on the command line win over pkg-config" \
	/opt/cl/units /opt/cl/gen /opt/cl/rules /opt/cl/dracut /opt/cl/itools \
	UNITDIR=/opt/cl/units SYSTEMD_GENERATOR_DIR=/opt/cl/gen UDEV_RULES_DIR=/opt/cl/rules \
	DRACUT_MODULES_DIR=/opt/cl/dracut INITRAMFS_TOOLS_DIR=/opt/cl/itools

# install_cycle NAME [PREFIX]: install, compare, uninstall, compare.
install_cycle() {
	local name=$1 prefix=${2:-} dest=$tmp/dest-$1 got want args=()
	[ -n "$prefix" ] && args=(PREFIX="$prefix")
	[ -n "$dest" ] && [ "$dest" != / ] || fail "empty DESTDIR: refusing to install into the system"
	mk install DESTDIR="$dest" "${args[@]}" >"$tmp/out" 2>&1 ||
		{ sed 's/^/    | /' "$tmp/out"; fail "$name: make install DESTDIR=$dest ${args[*]}"; }
	got=$(installed "$dest")
	want=$(expected "${prefix:-/usr}")
	[ "$got" = "$want" ] ||
		fail "$name: make install put these files (mode path):"$'\n'"$got"$'\n'"want:"$'\n'"$want"$'\n'"diff:"$'\n'"$(diff <(echo "$want") <(echo "$got"))"
	echo "ok $name: make install puts exactly the programs, the plugin, the manual pages, the units, the generator, the udev rules, the dracut module and the initramfs-tools scripts, with their modes, under DESTDIR$([ -n "$prefix" ] && echo " and PREFIX=$prefix")"
	# Units start the programs by absolute path: where this install put them.
	local unit line path n=0
	for unit in "$dest$unit_dir"/*.service "$dest$dracut_dir"/90kmipcrypt/*.service; do
		[ -f "$unit" ] || continue
		while IFS= read -r line; do
			path=${line#*=}; path=${path#[-+@!:]}; path=${path#[-+@!:]}; path=${path%% *}
			case $path in */kmipcrypt*) ;; *) continue ;; esac
			[ -x "$dest$path" ] ||
				fail "$name: ${unit#"$dest"}: '$line' names $path, which this install did not put there (PREFIX=${prefix:-/usr})"
			n=$((n + 1))
		done < <(grep -E '^Exec[A-Za-z]*=' "$unit")
	done
	[ $n -gt 0 ] || fail "$name: no installed unit starts a kmipcrypt program"
	echo "ok $name: the installed units start the programs where PREFIX=${prefix:-/usr} put them ($n Exec lines)"
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
	local d
	for d in "${prefix:-/usr}/libexec/kmipcrypt" "$dracut_dir/90kmipcrypt"; do
		[ ! -e "$dest$d" ] || fail "$name: make uninstall left the directory $d"
	done
	echo "ok $name: nothing of kmipcrypt is left under DESTDIR"
}

install_cycle default

# The README's installed tree (PREFIX=/usr on Debian 12) is what `make
# install` installs: every file, and nothing it does not (the directories
# of this machine, a Debian 12 amd64 like CI's).
readme_tree() {
	awk '/^The installed tree, with `PREFIX=\/usr` on Debian 12:/ { on = 1; next }
	     on && /^```/ { if (++fence == 2) exit; next }
	     on && fence == 1 && /^\// { print $1 }' "$root/README.md" | grep -v '/$' | sort
}
got=$(readme_tree)
[ -n "$got" ] || fail "README.md has no installed tree (\"The installed tree, with \`PREFIX=/usr\` on Debian 12:\")"
want=$(expected /usr | awk '{ print $2 }' | sort)
[ "$got" = "$want" ] ||
	fail "README.md's installed tree is not what make install installs:"$'\n'"$(diff <(echo "$want") <(echo "$got") | sed 's/^/    /')"
echo "ok README.md's installed tree lists exactly the files make install installs ($(echo "$got" | wc -l))"
install_cycle local /usr/local

# uninstall of what was never installed: nothing to do, no error.
mk uninstall DESTDIR="$tmp/empty" >"$tmp/out" 2>&1 ||
	{ sed 's/^/    | /' "$tmp/out"; fail "make uninstall of an empty DESTDIR"; }
echo "ok make uninstall with nothing installed succeeds"
echo "PASS $(basename "$0")"
