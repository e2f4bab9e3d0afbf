#!/bin/bash
# The Debian package, as users install it: `make deb` builds it from the
# tree (debian/, debhelper) without writing into the tree, lintian finds no
# error in it, it holds exactly the files `make install` installs, with the
# same modes (plus its documentation), its control fields name what the
# scripts need, and its maintainer scripts do what Debian packages do: the
# initramfs is rebuilt by the update-initramfs trigger (initramfs-tools and
# dracut both take it), postinst creates the system user kmipcryptd, and the
# daemon's unit is installed but not enabled on a first install (it needs a
# configuration first) while an upgrade keeps an administrator's choice.
# Nothing is installed on this machine: the postinst runs with every program
# it calls replaced by a stub that only records its arguments.
# No server, no root needed (but dpkg-buildpackage, debhelper and lintian:
# `make deps`).
set -u
: "${KMIPCRYPT:?set KMIPCRYPT to the kmipcrypt binary}"
root=$(cd "$(dirname "$0")/../.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }

for p in dpkg-buildpackage dh lintian dpkg-deb; do
	command -v "$p" >/dev/null || fail "$p is not installed: run 'make deps' (debhelper, lintian)"
done
tmp=$(mktemp -d /tmp/kmipcrypt-deb.XXXXXX) || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

# As test-install.sh: install from the build directory of the binary under
# test when it is one of this checkout's, else build in a directory of ours.
bin=$(realpath "$KMIPCRYPT")
case $bin in
"$root"/*/kmipcrypt) build=${bin#"$root"/}; build=${build%/kmipcrypt} ;;
*) build=$tmp/build ;;
esac
mk() { make -s --no-print-directory -C "$root" BUILD="$build" "$@"; }
version=$(sed -n 's/^VERSION *:= *//p' "$root/Makefile")
[ -n "$version" ] || fail "no VERSION in the Makefile"

# 1. make deb, into a directory of this test's.
start=$(date +%s)
mk deb DEB_DIR="$tmp/deb" >"$tmp/deb.log" 2>&1 ||
	{ tail -n 40 "$tmp/deb.log" | sed 's/^/    | /'; fail "make deb failed"; }
deb=$(sed -n 's/^deb: //p' "$tmp/deb.log" | tail -n 1)
[ -n "$deb" ] && [ -f "$deb" ] || fail "make deb printed no package path (want a line 'deb: PATH'); its output ends:"$'\n'"$(tail -n 5 "$tmp/deb.log")"
[ "$(basename "$deb")" = "kmipcrypt_${version}-1_$(dpkg-architecture -qDEB_HOST_ARCH).deb" ] ||
	fail "make deb built $(basename "$deb"), want kmipcrypt_${version}-1_ARCH.deb (the Makefile's VERSION $version)"
echo "ok make deb builds $(basename "$deb") and prints its path ($(( $(date +%s) - start )) s)"

# A build in the tree would leave debhelper's files in debian/ (and the
# packages beside the tree).
for f in files kmipcrypt .debhelper debhelper-build-stamp kmipcrypt.substvars tmp; do
	[ ! -e "$root/debian/$f" ] || fail "make deb left $root/debian/$f in the tree"
done
echo "ok make deb leaves the tree clean (it builds in a copy)"

# 2. lintian: no error (make deb fails on one too); warnings are listed.
lintian --fail-on error "$tmp/deb"/*.changes >"$tmp/lintian" 2>&1
rc=$?
grep -v '^running with root privileges' "$tmp/lintian" | sed 's/^/# lintian: /'
[ $rc = 0 ] && ! grep -q '^E:' "$tmp/lintian" ||
	fail "lintian reports errors (exit $rc):"$'\n'"$(grep '^E:' "$tmp/lintian")"
echo "ok lintian: no error ($(grep -c '^W:' "$tmp/lintian") warnings not overridden)"

# 3. The control fields.
info=$(dpkg-deb -I "$deb") || fail "dpkg-deb -I $deb"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = kmipcrypt ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version-1" ] || fail "Version: $(field Version), want $version-1 (the Makefile's VERSION)"
for dep in cryptsetup-bin adduser libcryptsetup12 libssl3; do
	field Depends | tr ',' '\n' | grep -qE "^ *$dep( |\$)" ||
		fail "Depends: $(field Depends): no $dep"
done
field Recommends | grep -qE '(^|, *)dracut \| initramfs-tools(,|$)' ||
	fail "Recommends: '$(field Recommends)', want 'dracut | initramfs-tools'"
echo "ok dpkg-deb -I: kmipcrypt $version-1, Depends on cryptsetup-bin, adduser and the libraries, Recommends dracut | initramfs-tools"

# 4. The package holds what `make install` installs, with the same modes.
# As "MODE PATH" lines from dpkg-deb -c: the permission string in octal.
listing() {
	dpkg-deb -c "$deb" | awk -v want="$1" '{
		t = substr($1, 1, 1); m = 0
		for (i = 2; i <= 10; i++) m = m * 2 + (substr($1, i, 1) != "-")
		p = $6; sub(/^\./, "", p); sub(/\/$/, "", p)
		if ((want == "f" && t == "-") || (want == "d" && t == "d")) printf "%o %s\n", m, p
	}' | sort -k2
}
mk install DESTDIR="$tmp/dest" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
	{ tail -n 20 "$tmp/install.log" | sed 's/^/    | /'; fail "make install DESTDIR=$tmp/dest"; }
want=$(cd "$tmp/dest" && find . -type f -printf '%m /%P\n' | sort -k2)
# Debhelper compresses the manual pages and adds the documentation and the
# lintian overrides.
got=$(listing f | grep -vE ' /usr/share/(doc/kmipcrypt/|lintian/overrides/kmipcrypt$)' | sed 's|^\([0-9]* /usr/share/man/.*\)\.gz$|\1|')
[ "$got" = "$want" ] ||
	fail "the package's files (mode path) differ from make install's:"$'\n'"$(diff <(echo "$want") <(echo "$got"))"
echo "ok dpkg-deb -c lists exactly the $(echo "$want" | wc -l) files make install installs, with their modes"
listing d | grep -qx '700 /etc/kmipcrypt' ||
	fail "the package's /etc/kmipcrypt: $(listing d | grep ' /etc/kmipcrypt$'), want mode 700"
echo "ok the package's /etc/kmipcrypt has mode 700"
listing f | grep -q ' /usr/share/doc/kmipcrypt/copyright$' || fail "no /usr/share/doc/kmipcrypt/copyright"

# What it installs runs (on this machine's libraries).
dpkg-deb -x "$deb" "$tmp/root" || fail "dpkg-deb -x"
"$tmp/root/usr/sbin/kmipcrypt" --version | grep -q "^kmipcrypt $version" ||
	fail "the packaged kmipcrypt --version: $("$tmp/root/usr/sbin/kmipcrypt" --version 2>&1)"
echo "ok the packaged kmipcrypt runs and says version $version"

# 5. Maintainer scripts.
dpkg-deb -e "$deb" "$tmp/ctl" || fail "dpkg-deb -e"
trig=$(grep -v '^[[:space:]]*\(#\|$\)' "$tmp/ctl/triggers" 2>/dev/null)
[ "$trig" = "activate-noawait update-initramfs" ] ||
	fail "the triggers file says '$trig', want exactly 'activate-noawait update-initramfs'"
echo "ok the package activates the update-initramfs trigger (noawait), once"

# run_postinst NAME ARGS...: the postinst, with only stubs on PATH; each stub
# appends its name and arguments to $tmp/calls-NAME.  STUB_USER=1: getent
# finds the user and group; STUB_INSTALLED=1: the unit was installed before
# (an upgrade), and enabled.
mkdir -p "$tmp/stubs"
for s in getent adduser addgroup deb-systemd-helper deb-systemd-invoke systemctl; do
	cat >"$tmp/stubs/$s" <<EOF
#!/bin/sh
echo "$s \$*" >>"\$STUB_LOG"
case "$s \$1" in
"getent "*) [ "\$STUB_USER" = 1 ] ;;
"deb-systemd-helper debian-installed") [ "\$STUB_INSTALLED" = 1 ] ;;
*) exit 0 ;;
esac
EOF
	chmod 0755 "$tmp/stubs/$s"
done
run_postinst() {
	local name=$1 user=$2 installed=$3
	shift 3
	: >"$tmp/calls-$name"
	env -i PATH="$tmp/stubs" STUB_LOG="$tmp/calls-$name" STUB_USER="$user" \
		STUB_INSTALLED="$installed" /bin/sh -e "$tmp/ctl/postinst" "$@" >"$tmp/out-$name" 2>&1 ||
		fail "postinst $* ($name) failed: $(cat "$tmp/out-$name")"
}
# A first install: the group and the user made the Debian way, the unit not enabled.
run_postinst first 0 0 configure ''
grep -qx 'addgroup --system --quiet kmipcryptd' "$tmp/calls-first" &&
	grep -q '^adduser --system .*--ingroup kmipcryptd .*--home /nonexistent --no-create-home kmipcryptd$' "$tmp/calls-first" ||
	fail "postinst configure did not create the system group and user kmipcryptd; its calls:"$'\n'"$(cat "$tmp/calls-first")"
echo "ok postinst configure creates the system user kmipcryptd in its own group (adduser --system, no home)"
! grep -q '^deb-systemd-helper enable' "$tmp/calls-first" ||
	fail "postinst enables a unit on a first install:"$'\n'"$(cat "$tmp/calls-first")"
grep -q "^deb-systemd-helper update-state kmipcryptd.service" "$tmp/calls-first" ||
	fail "postinst does not register kmipcryptd.service with deb-systemd-helper (purge would leave its links)"
echo "ok postinst does not enable kmipcryptd.service on a first install (it needs a configuration first)"
# Again, the user there: nothing made twice.
run_postinst again 1 0 configure ''
! grep -qE '^(adduser|addgroup) ' "$tmp/calls-again" ||
	fail "postinst makes the user or group again when it exists:"$'\n'"$(cat "$tmp/calls-again")"
echo "ok postinst leaves an existing kmipcryptd user alone"
# An upgrade of an enabled unit keeps it enabled.
run_postinst upgrade 1 1 configure "$version-0"
grep -q '^deb-systemd-helper enable kmipcryptd.service' "$tmp/calls-upgrade" ||
	fail "postinst configure (upgrade) does not keep kmipcryptd.service enabled:"$'\n'"$(cat "$tmp/calls-upgrade")"
echo "ok postinst keeps an administrator's enablement of kmipcryptd.service on upgrade"
# Removal and purge keep the user (files may be its) and /etc/kmipcrypt's
# content (the client key): dpkg removes the directory itself if empty.
for s in prerm postrm; do
	[ -f "$tmp/ctl/$s" ] || continue
	! grep -nE '(deluser|userdel|delgroup|groupdel)|rm .*/etc/kmipcrypt' "$tmp/ctl/$s" ||
		fail "$s removes the user or the configuration"
done
echo "ok prerm and postrm keep the kmipcryptd user and /etc/kmipcrypt's content"
echo "PASS $(basename "$0")"
