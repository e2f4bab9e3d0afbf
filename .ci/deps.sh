#!/bin/sh
# Install the Debian 12 packages that building and testing kmipcrypt needs.
# Only what is missing; apt-get needs root.
set -eu
pkgs="gcc make pkg-config libcryptsetup-dev libssl-dev libdevmapper-dev
libjson-c-dev libxml2-dev libblkid-dev libcmocka-dev cryptsetup-bin python3-pykmip
openssl iproute2 nftables valgrind xxd clang libclang-rt-14-dev groff-base
qemu-system-x86 busybox-static kmod cpio dmsetup libsystemd-dev libudev-dev libseccomp-dev mmdebstrap e2fsprogs udev strace
debhelper lintian"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
