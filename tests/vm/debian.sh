# tests/vm/debian.sh: a real Debian 12 guest for the boot tests (issue 10),
# built from Debian's own packages with mmdebstrap, its root file system on
# LUKS2, its initramfs made inside it by its own dracut or initramfs-tools,
# the product installed in it from its Debian package.  Sourced by bash
# after tests/lab/lib.sh (lab_init) and tests/vm/lib.sh (vm_boot, vm_wait,
# vm_stop, vm_results).
#
#   debian_require || fail ...        mmdebstrap, mkfs.ext4, cryptsetup, QEMU
#   debian_base KIND                  the cached base tarball's path (built if
#                                     missing); KIND: dracut, initramfs_tools
#   debian_root DIR KIND              DIR: the base unpacked
#   debian_chroot DIR CMD...          CMD inside DIR (/proc /sys /dev bound,
#                                     unbound on every path)
#   debian_deb BUILD OUTDIR           the product's package (make deb, as
#                                     test-deb.sh checks it) from the tree's
#                                     build dir BUILD; sets DEBIAN_DEB
#   debian_install_deb DIR DEB LOG    dpkg -i DEB in DIR (its Depends must be
#                                     in the base: nothing is fetched)
#   debian_guest DIR SERVER TIMEOUT_MS  /etc/kmipcrypt for the lab's PyKMIP
#                                     (client credentials), the report unit
#                                     (tests/vm/guest-boot.sh), no serial getty
#   debian_ids DIR                    picks DEBIAN_FS_UUID, DEBIAN_LUKS_UUID
#                                     and writes DIR/etc/fstab (before the
#                                     initramfs is made when crypttab names it)
#   debian_disk DIR IMG PASSFILE      IMG: DIR as an ext4 root file system in
#                                     LUKS2 (keyslot 0: PASSFILE), with the
#                                     UUIDs of debian_ids (called if not yet)
#   debian_volume DIR IMG PASSFILE FS_UUID LUKS_UUID [SPARE_MB]
#                                     the same for any tree DIR (a data volume)
#   debian_product DIR WORK           debian_deb from $KMIPCRYPT's build dir,
#                                     then debian_install_deb (WORK/dpkg.log)
#   debian_boot WORK KERNEL INITRD APPEND SERIAL=IMAGE...
#                                     vm_boot with the guest's own kernel, 1 GiB
#   debian_booted WHAT                vm_wait, vm_results: fail or "ok WHAT"
#   debian_prompted WORK WHAT START PROMPT BOUND_S PASSFILE SLOG
#                                     the prompt within BOUND_S of START, the
#                                     passphrase typed (none if PASSFILE is
#                                     empty), debian_booted
#   debian_sessions SLOG FROM TO      PyKMIP's sessions in lines FROM..TO
#
# debian_product, debian_booted and debian_prompted are for the tests: they
# print "ok" lines and call fail (tests/integration/common.sh).
#
# The base (minbase, systemd, cryptsetup, dracut, the kernel: ~700 MB) takes
# about three minutes to build and is cached outside the clone, in
# ${KMIPCRYPT_TEST_CACHE:-/var/cache/kmipcrypt-tests}/debian-KIND-HASH.tar,
# HASH over what makes it (suite, package list, mmdebstrap's version, this
# file's recipe version): change any and a new one is built; older ones are
# removed.  Concurrent runs wait for each other (flock).

DEBIAN_CACHE=${KMIPCRYPT_TEST_CACHE:-/var/cache/kmipcrypt-tests}
DEBIAN_CA_DIR=/etc/ssl/kmip
DEBIAN_SUITE=bookworm
DEBIAN_RECIPE=2
# dbus: dracut's network module needs it (LAB.md); isc-dhcp-client: ip=dhcp
# without systemd-networkd; e2fsprogs: fsck of the root.  adduser, libxml2:
# the product's package depends on them (its postinst makes a system user,
# kmipcrypt-ttlv links libxml2) and dpkg -i fetches nothing.
DEBIAN_PKGS_dracut=systemd,systemd-sysv,dbus,udev,kmod,iproute2,e2fsprogs,cryptsetup,dracut,dracut-network,isc-dhcp-client,linux-image-amd64,adduser,libxml2
# Debian's default initramfs: initramfs-tools with cryptsetup-initramfs (its
# hook and cryptroot), busybox (cryptsetup-initramfs sets BUSYBOX=y), no
# dracut.  The network comes from klibc's ipconfig (ip=), iproute2 gives
# ip(8) for the local-bottom teardown.
DEBIAN_PKGS_initramfs_tools=systemd,systemd-sysv,udev,kmod,iproute2,e2fsprogs,cryptsetup,cryptsetup-initramfs,initramfs-tools,busybox,linux-image-amd64,adduser,libxml2

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
		[ -f "$tar" ] && [ -s "$tar" ] && exit 0
		vm_log "building the Debian $DEBIAN_SUITE guest base ($kind) with mmdebstrap: a few minutes, once"
		rm -rf "$DEBIAN_CACHE/debian-$kind-"*.tar "$tar.tmp"
		# --format: the name "*.tar.tmp" would make mmdebstrap write a directory.
		mmdebstrap --variant=minbase --format=tar --include="$pkgs" "$DEBIAN_SUITE" "$tar.tmp" \
			>"$DEBIAN_CACHE/build-$kind.log" 2>&1
		rc=$?
		if [ $rc != 0 ]; then
			tail -n 20 "$DEBIAN_CACHE/build-$kind.log" >&2
			rm -rf "$tar.tmp"
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

# debian_ids DIR: the root file system's and the LUKS2 volume's UUIDs,
# chosen now (DEBIAN_FS_UUID, DEBIAN_LUKS_UUID), and DIR/etc/fstab for them,
# so that crypttab and the initramfs can name them before the disk exists.
debian_ids() {
	DEBIAN_FS_UUID=$(cat /proc/sys/kernel/random/uuid)
	DEBIAN_LUKS_UUID=$(cat /proc/sys/kernel/random/uuid)
	echo "UUID=$DEBIAN_FS_UUID / ext4 defaults 0 1" >"$1/etc/fstab"
}

# debian_disk DIR IMG PASSFILE: DIR as ext4 (4096-byte blocks, as LUKS2 on a
# file wants) in LUKS2, encrypted in place offline (no device-mapper needed),
# with the UUIDs of debian_ids.
debian_disk() {
	[ -n "${DEBIAN_FS_UUID:-}" ] && [ -n "${DEBIAN_LUKS_UUID:-}" ] || debian_ids "$1"
	debian_volume "$1" "$2" "$3" "$DEBIAN_FS_UUID" "$DEBIAN_LUKS_UUID"
}

# debian_volume DIR IMG PASSFILE FS_UUID LUKS_UUID [SPARE_MB]: DIR as ext4
# in LUKS2, with SPARE_MB (default 256) free.
debian_volume() {
	local dir=$1 img=$2 pass=$3 fs=$4 luks=$5 mb
	mb=$(( $(du -sm "$dir" | cut -f1) * 3 / 2 + ${6:-256} ))
	rm -f "$img"
	truncate -s "$((mb + 32))M" "$img" &&
		mkfs.ext4 -q -b 4096 -U "$fs" -d "$dir" "$img" "${mb}M" &&
		cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M \
			--uuid "$luks" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--batch-mode --key-file "$pass" "$img" >/dev/null || return 1
	[ "$(cryptsetup luksUUID "$img")" = "$luks" ] ||
		{ vm_log "debian_volume: the LUKS2 UUID of $img is not $luks"; return 1; }
}

# debian_deb BUILD OUTDIR: the product's Debian package, built by `make deb`
# from this tree (as users build it, checked by test-deb.sh) with the build
# dir BUILD, into OUTDIR; DEBIAN_DEB: its path.
debian_deb() {
	local build=$1 out=$2
	make -s --no-print-directory -C "$VM_REPO" BUILD="$build" deb DEB_DIR="$out" \
		>"$out.log" 2>&1 || { tail -n 30 "$out.log" >&2; vm_log "make deb failed (log $out.log)"; return 1; }
	DEBIAN_DEB=$(sed -n 's/^deb: //p' "$out.log" | tail -n 1)
	[ -n "$DEBIAN_DEB" ] && [ -f "$DEBIAN_DEB" ] || { vm_log "make deb named no package"; return 1; }
}

# debian_install_deb DIR DEB LOG: dpkg -i in DIR, as a user installs it: its
# maintainer scripts run, its update-initramfs trigger too (dracut and
# initramfs-tools each take it and rebuild /boot/initrd.img-*).  Nothing is
# fetched: a Depends the base lacks fails here (add it to the base's list).
debian_install_deb() {
	local dir=$1 deb=$2 log=$3 rc
	cp "$deb" "$dir/tmp/kmipcrypt.deb" || return 1
	debian_chroot "$dir" env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/kmipcrypt.deb >"$log" 2>&1
	rc=$?
	rm -f "$dir/tmp/kmipcrypt.deb"
	[ $rc = 0 ] || { tail -n 30 "$log" >&2; vm_log "dpkg -i of the product's package failed in the guest"; }
	return $rc
}

# debian_guest DIR SERVER TIMEOUT_MS: the guest's /etc/kmipcrypt for the
# lab's PyKMIP at SERVER (as the guest reaches it: 10.0.2.2:PORT) with the
# lab's client credentials (the CA outside /etc/kmipcrypt, in
# DEBIAN_CA_DIR: the initramfs hooks must find it through the
# configuration), guest-boot.sh (with guest-lib.sh) as kmipvm-report.service after
# multi-user.target, and no getty on the serial console (it hangs up the
# console's other users, the report, when it starts).
debian_guest() {
	local r=$1 server=$2 timeout_ms=$3
	install -d -m 0700 "$r/etc/kmipcrypt" && install -d -m 0755 "$r$DEBIAN_CA_DIR" &&
		lab_config "$r/etc/kmipcrypt/kmipcrypt.conf" "$server" ca="$DEBIAN_CA_DIR/ca.crt" \
			cert=/etc/kmipcrypt/client.crt key=/etc/kmipcrypt/client.key timeout_ms="$timeout_ms" &&
		install -m 0644 "$LAB_CERTS/ca.crt" "$r$DEBIAN_CA_DIR/" &&
		install -m 0644 "$LAB_CERTS/client.crt" "$r/etc/kmipcrypt/" &&
		install -m 0600 "$LAB_CERTS/client.key" "$r/etc/kmipcrypt/" &&
		install -m 0755 "$VM_HOME/guest-boot.sh" "$r/usr/local/sbin/kmipvm-report" &&
		install -D -m 0644 "$VM_HOME/guest-lib.sh" "$r/usr/local/lib/kmipvm/guest-lib.sh" || return 1
	cat >"$r/etc/systemd/system/kmipvm-report.service" <<'EOF'
[Unit]
Description=Report to the test on the host (tests/vm/guest-boot.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kmipvm-report
[Install]
WantedBy=multi-user.target
EOF
	ln -sf /etc/systemd/system/kmipvm-report.service "$r/etc/systemd/system/multi-user.target.wants/" &&
		ln -sf /dev/null "$r/etc/systemd/system/serial-getty@ttyS0.service" &&
		echo kmipguest >"$r/etc/hostname"
}

# debian_boot WORK KERNEL INITRD APPEND SERIAL=IMAGE...
debian_boot() {
	local w=$1 kernel=$2 initrd=$3 append=$4
	shift 4
	VM_VMLINUZ=$kernel VM_MEM=1024 VM_APPEND="$append" vm_boot "$w" "$initrd" "$@"
}

# debian_product DIR WORK: the product's package built from this tree in the
# build dir of the binary under test ($KMIPCRYPT, as test-deb.sh does; else
# WORK/build) and installed in DIR with dpkg -i (its log: WORK/dpkg.log).
debian_product() {
	local r=$1 w=$2 bin build t0 t1
	bin=$(realpath "$KMIPCRYPT")
	case $bin in
	"$VM_REPO"/*/kmipcrypt) build=${bin#"$VM_REPO"/}; build=${build%/kmipcrypt} ;;
	*) build=$w/build ;;
	esac
	t0=$(lab_now_ms)
	debian_deb "$build" "$w/deb" || fail "make deb"
	t1=$(lab_now_ms)
	debian_install_deb "$r" "$DEBIAN_DEB" "$w/dpkg.log" ||
		fail "dpkg -i $(basename "$DEBIAN_DEB") in the guest"
	echo "ok the guest installs the product's package $(basename "$DEBIAN_DEB") with dpkg -i (make deb $(( (t1 - t0) / 1000 )) s; dpkg -i, initramfs included, $(( ($(lab_now_ms) - t1) / 1000 )) s)"
}

# debian_booted WHAT: the guest started by debian_boot ends (VM_TIMEOUT,
# default 400 s) and its report (tests/vm/guest-boot.sh) has no failure.
debian_booted() {
	local timed_out=
	vm_wait "${VM_TIMEOUT:-400}" || timed_out="no end within ${VM_TIMEOUT:-400} s: "
	vm_results || fail "${timed_out}$1: the guest's checks failed (console above; LAB_KEEP=1 keeps the work dir)"
	echo "ok $1: the guest booted from its encrypted root and powered off (${VM_SECS:-?} s)"
}

_debian_console_has() { tr -d '\r' <"$1/serial.log" 2>/dev/null | grep -q "$2"; }

# debian_prompted WORK WHAT START PROMPT BOUND_S PASSFILE SLOG: the guest
# booting in WORK (debian_boot with VM_SERIAL_IN=1), where the KMS will not
# give the key: START (a grep pattern) on its console, then PROMPT within
# BOUND_S seconds of it, measured here as the console comes; the passphrase
# in PASSFILE typed on the console; debian_booted.  With PASSFILE empty,
# nothing is typed: DEBIAN_AT_PROMPT runs at the prompt (a command: the KMS
# comes back), and the guest must boot without a passphrase.
# DEBIAN_LOG_AT_PROMPT: the lines of PyKMIP's log SLOG when the prompt came.
debian_prompted() {
	local b=$1 what=$2 start=$3 prompt=$4 bound=$5 pass=$6 slog=$7 t0 t1
	lab_wait_for 400 _debian_console_has "$b" "$start" ||
		{ vm_stop; tail -n 30 "$b/serial.log"; fail "$what: no '$start' on the console"; }
	t0=$(lab_now_ms)
	lab_wait_for "$(( bound + 60 ))" _debian_console_has "$b" "$prompt" ||
		{ vm_stop; tail -n 30 "$b/serial.log"; fail "$what: no passphrase prompt ('$prompt')"; }
	t1=$(lab_now_ms)
	DEBIAN_LOG_AT_PROMPT=$(wc -l <"$slog")
	echo "    $what: the prompt came $(( (t1 - t0) / 100 / 10 )).$(( (t1 - t0) / 100 % 10 )) s after '$start'"
	[ $(( t1 - t0 )) -le $(( bound * 1000 )) ] ||
		fail "$what: the prompt came more than $bound s after '$start'"
	echo "ok $what: the passphrase prompt, within $bound s"
	if [ -z "$pass" ]; then
		${DEBIAN_AT_PROMPT:-:} || fail "$what: '$DEBIAN_AT_PROMPT' at the prompt failed"
		debian_booted "$what, nothing typed"
		return
	fi
	vm_type "$(cat "$pass")" || fail "$what: cannot type on the guest's console"
	debian_booted "$what, the passphrase typed on the console"
}

# debian_sessions SLOG FROM TO: the TLS sessions PyKMIP started in lines
# FROM..TO of its log SLOG (TO '$': to the end).
debian_sessions() { sed -n "$2,${3}p" "$1" | grep -c "Starting session"; }
