#!/bin/bash
# test-timeout: 1500
# Boot (issue 10): a real Debian 12 guest whose root file system is LUKS2,
# unlocked at boot from the KMIP key server (PyKMIP on this host) by its own
# initramfs, with no passphrase typed.  tests/vm/debian.sh builds the guest
# from Debian's packages (mmdebstrap, cached outside the clone); tests/vm/
# guest-boot.sh reports from inside it.
#
# Scenario 1, dracut + systemd: kmipcrypt installed into the guest, its
# configuration and client credentials in /etc/kmipcrypt, the initramfs made
# inside the guest by its own dracut with the kmipcrypt module; the root is
# bound (enroll, passphrase kind) on the host.  Boot 1: systemd-cryptsetup in
# the initramfs unlocks the root through the token plugin once the network is
# up (no passphrase prompt on the console; PyKMIP served the root's key), the
# system reaches multi-user.target and writes a nonce to the root.  Boot 2:
# the same, and the nonce written by boot 1 is read back.
#
# QEMU is killed by its PID on every exit path.  LAB_KEEP=1 keeps the work
# dir ($LAB_TMP/boot: root tree, disk, initramfs, serial logs, boot.sh).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/../vm/debian.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
trap 'vm_stop; lab_cleanup' EXIT

t_start=$(lab_now_ms)
vm_require && debian_require || fail "the boot test needs packages that are not installed: run 'make deps'"
luks_lab timeout_ms=5000
slog=$(lab_server_log main)

w=$LAB_TMP/boot
r=$w/root
debian_root "$r" dracut || fail "no Debian guest base (see above)"
t_base=$(lab_now_ms)
echo "ok the Debian guest's root tree ($(( (t_base - t_start) / 1000 )) s, cache $DEBIAN_CACHE)"

# ------------------------------------------------ the product, installed in the guest
make -s -C "$repo" install DESTDIR="$r" PREFIX=/usr >"$w/install.log" 2>&1 ||
	{ cat "$w/install.log"; fail "make install into the guest's tree"; }
if [ ! -f "$r/usr/lib/dracut/modules.d/90kmipcrypt/module-setup.sh" ]; then
	mkdir -p "$r/usr/lib/dracut/modules.d"
	cp -a "$repo/dracut/90kmipcrypt" "$r/usr/lib/dracut/modules.d/"
fi
install -d -m 0700 "$r/etc/kmipcrypt"
lab_config "$r/etc/kmipcrypt/kmipcrypt.conf" "10.0.2.2:$port" ca=/etc/kmipcrypt/ca.crt \
	cert=/etc/kmipcrypt/client.crt key=/etc/kmipcrypt/client.key timeout_ms=10000
install -m 0644 "$LAB_CERTS/ca.crt" "$LAB_CERTS/client.crt" "$r/etc/kmipcrypt/"
install -m 0600 "$LAB_CERTS/client.key" "$r/etc/kmipcrypt/"
install -m 0755 "$VM_HOME/guest-boot.sh" "$r/usr/local/sbin/kmipvm-report"
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
ln -sf /etc/systemd/system/kmipvm-report.service "$r/etc/systemd/system/multi-user.target.wants/"
# No login prompt on the serial console: its getty hangs up the console's
# other users (the report) when it starts.
ln -sf /dev/null "$r/etc/systemd/system/serial-getty@ttyS0.service"
echo kmipguest >"$r/etc/hostname"

# ------------------------------------------------ the initramfs, by the guest's own dracut
kver=$(ls "$r/lib/modules" | head -n 1)
[ -n "$kver" ] || fail "no kernel in the guest"
t0=$(lab_now_ms)
debian_chroot "$r" dracut --force --no-hostonly --add kmipcrypt --kver "$kver" \
	/boot/initrd.img-kmipcrypt >"$w/dracut.log" 2>&1 || { tail -n 30 "$w/dracut.log"; fail "dracut in the guest"; }
expect_grep "kmipcrypt" "dracut included the kmipcrypt module" \
	debian_chroot "$r" lsinitrd -m /boot/initrd.img-kmipcrypt
debian_chroot "$r" lsinitrd /boot/initrd.img-kmipcrypt >"$w/lsinitrd.txt" 2>&1
for f in usr/sbin/kmipcrypt etc/kmipcrypt/kmipcrypt.conf etc/kmipcrypt/client.key \
	 libcryptsetup-token-kmip.so systemd-cryptsetup@.service.d/kmipcrypt-network.conf \
	 kmipcrypt-unlock.service; do
	grep -q -- "$f" "$w/lsinitrd.txt" || fail "the initramfs has no $f"
done
echo "ok the initramfs holds kmipcrypt, the token plugin, the configuration and credentials, the network drop-in"
expect_grep "^-rw-------" "the initramfs file is not readable by others (it holds the client key)" \
	ls -l "$r/boot/initrd.img-kmipcrypt"
echo "    dracut: $(( ($(lab_now_ms) - t0) / 1000 )) s, $(du -h "$r/boot/initrd.img-kmipcrypt" | cut -f1)"
cp "$r/boot/initrd.img-kmipcrypt" "$r/boot/vmlinuz-$kver" "$w/"

# ------------------------------------------------ the root disk: LUKS2, bound on the host
t0=$(lab_now_ms)
debian_disk "$r" "$w/disk.img" "$pass" || fail "cannot make the encrypted root disk"
expect_rc 0 "the root disk bound to the KMS (enroll on the host)" K enroll "$w/disk.img" --key-file "$pass"
uid=$(uid_of "$w/disk.img")
echo "    disk: $(( ($(lab_now_ms) - t0) / 1000 )) s, LUKS2 $DEBIAN_LUKS_UUID, key '$uid'"

# ------------------------------------------------ two boots
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
append="root=UUID=$DEBIAN_FS_UUID rd.luks.uuid=$DEBIAN_LUKS_UUID rd.neednet=1 ip=dhcp net.ifnames=0"
append="$append systemd.show_status=1 kmipvm.nonce=$nonce"
gets() { tail -n +"$(( $1 + 1 ))" "$slog" | grep -c "Getting a SecretData with ID: $uid\$"; }
for boot in 1 2; do
	b=$w/b$boot
	mkdir -p "$b"
	m=$(wc -l <"$slog")
	debian_boot "$b" "$w/vmlinuz-$kver" "$w/initrd.img-kmipcrypt" "$append kmipvm.boot=$boot" \
		"root=$w/disk.img"
	timed_out=
	vm_wait "${VM_TIMEOUT:-400}" || timed_out="no end within ${VM_TIMEOUT:-400} s: "
	vm_results || fail "${timed_out}boot $boot: the guest's checks failed (console above; LAB_KEEP=1 keeps $w)"
	echo "ok boot $boot: the guest booted from its encrypted root and powered off (${VM_SECS:-?} s)"
	expect_nogrep "Please enter passphrase" "boot $boot: no passphrase prompt on the console" \
		cat "$b/serial.txt"
	[ "$(gets "$m")" -ge 1 ] || fail "boot $boot: PyKMIP did not serve the root's key '$uid'"
	echo "ok boot $boot: PyKMIP served the root's key '$uid' to the guest"
done
expect_grep "^KMIPVM previous-boot nonce: $nonce" "boot 2 read back the nonce boot 1 wrote to the encrypted root" \
	cat "$w/b2/serial.txt"
echo "ok timings: whole test $(( ($(lab_now_ms) - t_start) / 1000 )) s"
pass
