# tests/vm/debian.sh: a real Debian 12 guest for the boot tests (issue 10),
# built from Debian's own packages with mmdebstrap, its root file system on
# LUKS2, its initramfs made inside it by its own dracut.  Sourced by bash
# after tests/lab/lib.sh (lab_init) and tests/vm/lib.sh (vm_boot, vm_wait,
# vm_stop, vm_results).
#
#   debian_require || fail ...        mmdebstrap, mkfs.ext4, cryptsetup, QEMU
#   debian_base KIND                  the cached base tarball's path (built if
#                                     missing); KIND: dracut
#   debian_root DIR KIND              DIR: the base unpacked
#   debian_chroot DIR CMD...          CMD inside DIR (/proc /sys /dev bound,
#                                     unbound on every path)
#   debian_disk DIR IMG PASSFILE      IMG: DIR as an ext4 root file system in
#                                     LUKS2 (keyslot 0: PASSFILE); sets
#                                     DEBIAN_FS_UUID and DEBIAN_LUKS_UUID
#   debian_boot WORK KERNEL INITRD APPEND SERIAL=IMAGE...
#                                     vm_boot with the guest's own kernel, 1 GiB
#
# The base (minbase, systemd, cryptsetup, dracut, the kernel: ~700 MB) takes
# about three minutes to build and is cached outside the clone, in
# ${KMIPCRYPT_TEST_CACHE:-/var/cache/kmipcrypt-tests}/debian-KIND-HASH.tar,
# HASH over what makes it (suite, package list, mmdebstrap's version, this
# file's recipe version): change any and a new one is built; older ones are
# removed.  Concurrent runs wait for each other (flock).

DEBIAN_CACHE=${KMIPCRYPT_TEST_CACHE:-/var/cache/kmipcrypt-tests}
DEBIAN_SUITE=bookworm
DEBIAN_RECIPE=1
# dbus: dracut's network module needs it (LAB.md); isc-dhcp-client: ip=dhcp
# without systemd-networkd; e2fsprogs: fsck of the root.
DEBIAN_PKGS_dracut=systemd,systemd-sysv,dbus,udev,kmod,iproute2,e2fsprogs,cryptsetup,dracut,dracut-network,isc-dhcp-client,linux-image-amd64

debian_require() {
	local missing=() c
	for c in mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs cryptsetup:cryptsetup-bin \
		qemu-system-x86_64:qemu-system-x86 flock:util-linux; do
		command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:} (${c%%:*})")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		vm_log "missing: ${missing[*]}; install them with 'make deps' (.ci/deps.sh)"
		return 1
	fi
}

# debian_base KIND: the path of the cached tarball, built if missing.
debian_base() {
	local kind=$1 pkgs key tar lock rc
	pkgs=DEBIAN_PKGS_$kind
	pkgs=${!pkgs:-}
	[ -n "$pkgs" ] || { vm_log "debian_base: unknown kind '$kind'"; return 1; }
	key=$(printf '%s\n' "$DEBIAN_SUITE" "$pkgs" "$(mmdebstrap --version)" "$DEBIAN_RECIPE" |
		sha256sum | cut -c1-16)
	tar=$DEBIAN_CACHE/debian-$kind-$key.tar
	mkdir -p "$DEBIAN_CACHE" || return 1
	lock=$DEBIAN_CACHE/.lock
	(
		flock 9 || exit 1
		[ -s "$tar" ] && exit 0
		vm_log "building the Debian $DEBIAN_SUITE guest base ($kind) with mmdebstrap: a few minutes, once"
		rm -f "$DEBIAN_CACHE/debian-$kind-"*.tar "$tar.tmp"
		mmdebstrap --variant=minbase --include="$pkgs" "$DEBIAN_SUITE" "$tar.tmp" \
			>"$DEBIAN_CACHE/build-$kind.log" 2>&1
		rc=$?
		if [ $rc != 0 ]; then
			tail -n 20 "$DEBIAN_CACHE/build-$kind.log" >&2
			rm -f "$tar.tmp"
			exit 1
		fi
		mv -f "$tar.tmp" "$tar"
	) 9>"$lock" || return 1
	echo "$tar"
}

# debian_root DIR KIND: the base, unpacked into DIR (ownership kept: we are root).
debian_root() {
	local tar
	tar=$(debian_base "$2") || return 1
	mkdir -p "$1" && tar -C "$1" -xf "$tar"
}

# debian_chroot DIR CMD...: run CMD in DIR with the kernel file systems bound.
debian_chroot() {
	local dir=$1 m rc=0 done=()
	shift
	for m in proc sys dev dev/pts; do
		mount --bind "/$m" "$dir/$m" || { rc=1; break; }
		done=("$m" "${done[@]}")
	done
	[ $rc = 0 ] && { chroot "$dir" "$@"; rc=$?; }
	for m in "${done[@]}"; do
		umount "$dir/$m" || umount -l "$dir/$m"
	done
	return $rc
}

# debian_disk DIR IMG PASSFILE: DIR as ext4 (4096-byte blocks, as LUKS2 on a
# file wants) in LUKS2, encrypted in place offline (no device-mapper needed).
debian_disk() {
	local dir=$1 img=$2 pass=$3 mb
	mb=$(( $(du -sm "$dir" | cut -f1) * 3 / 2 + 256 ))
	DEBIAN_FS_UUID=$(cat /proc/sys/kernel/random/uuid)
	echo "UUID=$DEBIAN_FS_UUID / ext4 defaults 0 1" >"$dir/etc/fstab"
	rm -f "$img"
	truncate -s "$((mb + 32))M" "$img" &&
		mkfs.ext4 -q -b 4096 -U "$DEBIAN_FS_UUID" -d "$dir" "$img" "${mb}M" &&
		cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M \
			--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode \
			--key-file "$pass" "$img" >/dev/null || return 1
	DEBIAN_LUKS_UUID=$(cryptsetup luksUUID "$img")
}

# debian_boot WORK KERNEL INITRD APPEND SERIAL=IMAGE...
debian_boot() {
	local w=$1 kernel=$2 initrd=$3 append=$4
	shift 4
	VM_VMLINUZ=$kernel VM_MEM=1024 VM_APPEND="$append" vm_boot "$w" "$initrd" "$@"
}
