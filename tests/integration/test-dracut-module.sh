#!/bin/bash
# The dracut module's choices made from the host's devices
# (dracut/90kmipcrypt/module-setup.sh): whether dracut includes kmipcrypt,
# and with it the network, by itself (check()), and which volumes' units wait
# for the network (install()).  Sourced by bash as dracut sources it, with
# stand-ins for the dracut functions it calls (require_binaries, inst_*,
# for_each_host_dev_fs over host_fs_types, dracut's own array of the devices
# the initramfs opens) and for kmipcrypt (config check and files); the
# volumes are real LUKS2 image files read by the real cryptsetup.  Checks:
#  - check(), not hostonly: 255 (only when asked for), bound volume or not;
#  - check(), hostonly: 0 (included by itself) when a crypto_LUKS device has
#    a token of type "kmip", 255 when the LUKS volumes have none, or only
#    another token type whose name starts with "kmip" (kmip-rotation), or
#    when a device is not LUKS at all;
#  - check(): 1 (cannot work) without kmipcrypt.conf or without the binaries;
#  - install(), hostonly: the network drop-in for the bound volume's units
#    only (luks-UUID, as rd.luks.uuid= names it, and its crypttab name),
#    none for the unbound one; not hostonly: one for every
#    systemd-cryptsetup@ unit.
# No server, no network, no root needed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
command -v cryptsetup >/dev/null || fail "no cryptsetup: run 'make deps'"
d=$(mktemp -d /tmp/kmipcrypt-dracut-check.XXXXXX) || fail "mktemp"
trap 'rm -rf "$d"' EXIT

# A small LUKS2 image with a fast keyslot, and one token of TYPE on keyslot 0.
mkimg() {
	local img=$1 type=${2:-}
	truncate -s 32M "$img" || return 1
	printf pw | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file - "$img" || return 1
	[ -z "$type" ] && return 0
	printf '{"type":"%s","keyslots":["0"],"uid":"1"}' "$type" |
		cryptsetup token import --token-id 0 "$img"
}
mkimg "$d/bound.img" kmip || fail "cannot make a LUKS2 image with a kmip token"
mkimg "$d/plain.img" || fail "cannot make a LUKS2 image"
mkimg "$d/rotation.img" kmip-rotation || fail "cannot make a LUKS2 image with a kmip-rotation token"
truncate -s 1M "$d/ext4.img"
mkdir -p "$d/sysroot/etc/kmipcrypt"
: >"$d/sysroot/etc/kmipcrypt/kmipcrypt.conf"

# What dracut gives a module (stand-ins), sourced first in each fresh bash
# below: host_fs_types from the arguments DEV=FS after the first three.
cat >"$d/dracut-stubs.sh" <<'STUBS'
declare -A host_fs_types
for a in "${@:4}"; do host_fs_types[${a%=*}]=${a#*=}; done
hostonly=$2 dracutsysrootdir=$3
for_each_host_dev_fs() {
	local dev r=1
	for dev in "${!host_fs_types[@]}"; do
		"$1" "$dev" "${host_fs_types[$dev]}" && r=0
	done
	return $r
}
STUBS

# check_rc HOSTONLY BINARIES DEV=FS...: check()'s exit status in a fresh bash.
check_rc() {
	local hostonly=$1 bins=$2
	shift 2
	STUBS=$d/dracut-stubs.sh BINS=$bins bash -c '
		. "$STUBS"
		require_binaries() { [ "$BINS" = yes ]; }
		. "$1"
		check' check "$root/dracut/90kmipcrypt/module-setup.sh" "$hostonly" "$d/sysroot" "$@" \
		</dev/null >/dev/null 2>&1
	echo $?
}
want() {
	local w=$1 what=$2 got
	shift 2
	got=$(check_rc "$@")
	[ "$got" = "$w" ] || fail "$what: check() returned $got, want $w"
	ok "$what: $w"
}

# dropins HOSTONLY DEV=FS...: the drop-in destinations install() asks for.
dropins() {
	local hostonly=$1
	shift
	STUBS=$d/dracut-stubs.sh PATH=$d/bin:$PATH bash -c '
		. "$STUBS"
		moddir=/moddir initdir=/initdir
		systemdsystemunitdir=/usr/lib/systemd/system DRACUT_TMPDIR=$3 SYSTEMCTL=:
		inst_simple() { [[ $1 == */cryptsetup-network.conf ]] && echo "$2"; return 0; }
		inst_multiple() { :; }; inst_library() { :; }; inst_hook() { :; }
		dracut_need_initqueue() { :; }; dwarn() { echo "warn: $*" >&2; }
		dracut_module_included() { [ "$1" = systemd ]; }
		. "$1"
		install' install "$root/dracut/90kmipcrypt/module-setup.sh" "$hostonly" "$d/sysroot" "$@" \
		</dev/null 2>/dev/null | sort
}

want 255 "not hostonly, a bound root: only when asked for" "" yes "$d/bound.img=crypto_LUKS"
want 0 "hostonly, the root on a LUKS2 volume with a kmip token: included by itself" \
	yes yes "$d/plain.img=crypto_LUKS" "$d/bound.img=crypto_LUKS" "$d/ext4.img=ext4"
want 255 "hostonly, LUKS2 volumes without a kmip token: not included (no network in the image)" \
	yes yes "$d/plain.img=crypto_LUKS" "$d/ext4.img=ext4"
want 255 "hostonly, only a kmip-rotation token: not a kmip token" yes yes "$d/rotation.img=crypto_LUKS"
want 255 "hostonly, a bound volume's header seen as another file system type: not read" \
	yes yes "$d/bound.img=ext4"
want 255 "hostonly, a device that is gone" yes yes "$d/missing.img=crypto_LUKS"
want 1 "no kmipcrypt or cryptsetup: cannot work" yes no "$d/bound.img=crypto_LUKS"
mkdir -p "$d/bin"
printf '#!/bin/sh\nexit 0\n' >"$d/bin/kmipcrypt" && chmod +x "$d/bin/kmipcrypt"
buuid=$(cryptsetup luksUUID "$d/bound.img") && puuid=$(cryptsetup luksUUID "$d/plain.img") ||
	fail "luksUUID"
printf '# name device key options\ncryptdata UUID=%s none luks\nplain UUID=%s none luks\nbyfile %s none luks\n' \
	"$buuid" "$puuid" "$d/bound.img" >"$d/sysroot/etc/crypttab"
unit() { echo "/usr/lib/systemd/system/$(systemd-escape --template=systemd-cryptsetup@.service -- "$1").d/kmipcrypt-network.conf"; }
got=$(dropins yes "$d/plain.img=crypto_LUKS" "$d/bound.img=crypto_LUKS" "$d/ext4.img=ext4")
exp=$(printf '%s\n' "$(unit "luks-$buuid")" "$(unit cryptdata)" "$(unit byfile)" | sort)
[ "$got" = "$exp" ] || fail "install(), hostonly: drop-ins
$got
want
$exp"
ok "install(), hostonly: the network drop-in for the bound volume's units only (luks-UUID and its two crypttab names), none for the unbound one"
got=$(dropins "" "$d/plain.img=crypto_LUKS" "$d/bound.img=crypto_LUKS")
[ "$got" = /usr/lib/systemd/system/systemd-cryptsetup@.service.d/kmipcrypt-network.conf ] ||
	fail "install(), not hostonly: drop-ins '$got', want the one for every systemd-cryptsetup@ unit"
ok "install(), not hostonly: one drop-in for every systemd-cryptsetup@ unit (which volumes are bound is not known)"
rm "$d/sysroot/etc/kmipcrypt/kmipcrypt.conf"
want 1 "no kmipcrypt.conf: cannot work" yes yes "$d/bound.img=crypto_LUKS"
echo "1..$n"
