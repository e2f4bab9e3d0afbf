#!/bin/bash
# test-timeout: 1500
# Boot with initramfs-tools (issue 10, scenario 2): a real Debian 12 guest
# with Debian's default initramfs (initramfs-tools and cryptsetup-initramfs,
# no dracut) whose LUKS2 root, named in /etc/crypttab, is unlocked at boot by
# initramfs-tools/scripts/local-top/kmipcrypt from the KMIP key server
# (PyKMIP on this host) before cryptroot would ask for a passphrase.
#
# The guest (tests/vm/debian.sh, base kind initramfs_tools) gets the
# product's Debian package (make deb) with dpkg -i, after its configuration
# and client credentials are in /etc/kmipcrypt: the package's
# update-initramfs trigger makes initramfs-tools rebuild the image with
# hooks/kmipcrypt.  The root is bound on the host (enroll, passphrase kind).
# The network comes from ip= (static, klibc's ipconfig).  Boot 1: no prompt,
# kmipcrypt unlocks the root under its crypttab name, the system reaches
# multi-user.target with the initramfs network taken down (local-bottom) and
# writes a nonce to the root.  Boot 2: the same, and the nonce is read back.
# The bounded fallback: boot 3 with the KMS down (its port refuses), boot 4
# with the root's key revoked on the host: cryptroot's prompt comes within a
# bound of kmipcrypt's first try (measured), the unreachable KMS is retried
# (exit 2) and the revoked key is not (exit 4), the test types the
# passphrase, the system boots with its data.
#
# QEMU is killed by its PID on every exit path.  LAB_KEEP=1 keeps the work
# dir ($LAB_TMP/boot-itools).
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

w=$LAB_TMP/boot-itools
r=$w/root
debian_root "$r" initramfs_tools || fail "no Debian guest base (see above)"
echo "ok the Debian guest's root tree, initramfs-tools ($(( ($(lab_now_ms) - t_start) / 1000 )) s, cache $DEBIAN_CACHE)"
[ ! -e "$r/usr/bin/dracut" ] || fail "the initramfs-tools guest has dracut"

# ------------------------------------------------ crypttab, configuration, the package
# The root in crypttab under a name of its own (not luks-UUID: the name must
# come from crypttab).  'initramfs': cryptsetup-initramfs's hook takes the
# line into the image although the chroot's / (this host's) is not on it.
name=kmipvm_root
debian_ids "$r"
echo "$name UUID=$DEBIAN_LUKS_UUID none luks,initramfs" >"$r/etc/crypttab"
debian_guest "$r" "10.0.2.2:$port" 10000 || fail "cannot set up the guest's configuration"
kver=$(ls "$r/lib/modules" | head -n 1)
[ -n "$kver" ] || fail "no kernel in the guest"
initrd=/boot/initrd.img-$kver
debian_product "$r" "$w"
expect_grep "^update-initramfs: Generating $initrd" \
	"the package's update-initramfs trigger made initramfs-tools rebuild $initrd" cat "$w/dpkg.log"
grep -E "^(W|E): " "$w/dpkg.log" | sed 's/^/    | /'

# ------------------------------------------------ what the image holds
debian_chroot "$r" lsinitramfs "$initrd" >"$w/lsinitramfs.txt" 2>&1 || fail "lsinitramfs $initrd"
plugin_dir=$(debian_chroot "$r" cryptsetup --help | sed -n 's/^LUKS2 external token plugin path: \(.*\)\.$/\1/p')
[ -n "$plugin_dir" ] || fail "the guest's cryptsetup --help names no token plugin path"
for f in usr/sbin/kmipcrypt \
	etc/kmipcrypt/kmipcrypt.conf "${DEBIAN_CA_DIR#/}/ca.crt" etc/kmipcrypt/client.crt etc/kmipcrypt/client.key \
	scripts/local-top/kmipcrypt scripts/local-bottom/kmipcrypt scripts/local-top/cryptroot cryptroot/crypttab; do
	# usr-merged images keep lib/ as a link to usr/lib/
	grep -qxE "(usr/)?${f#usr/}" "$w/lsinitramfs.txt" || fail "the initramfs has no $f"
done
echo "ok the initramfs holds kmipcrypt, the configuration and credentials (the CA from $DEBIAN_CA_DIR, named by the configuration), the local-top and local-bottom scripts, cryptroot and its crypttab"
# Not the token plugin: cryptroot's cryptsetup would ask the KMS again at
# every passphrase typed (hooks/kmipcrypt says why; boot 4 checks it).
! grep -q "libcryptsetup-token-kmip.so" "$w/lsinitramfs.txt" ||
	fail "the initramfs holds the token plugin: cryptroot's cryptsetup open would ask the KMS at each passphrase"
echo "ok the initramfs has no token plugin (in $plugin_dir on the guest): after local-top, the prompt is the passphrase's alone"
mkdir -p "$w/unpacked"
debian_chroot "$r" unmkinitramfs "$initrd" /tmp/unpacked >/dev/null 2>&1 &&
	mv "$r/tmp/unpacked" "$w/" 2>/dev/null
top=$w/unpacked/main
[ -d "$top" ] || top=$w/unpacked
expect_grep "^$name UUID=$DEBIAN_LUKS_UUID " "the initramfs crypttab names the root" cat "$top/cryptroot/crypttab"
# cryptroot runs last in local-top (its prereqs name every other script): after kmipcrypt.
order=$(grep -o '/scripts/local-top/[a-z_-]*' "$top/scripts/local-top/ORDER" | tr '\n' ' ')
case " $order " in
*" /scripts/local-top/kmipcrypt "*"/scripts/local-top/cryptroot "*) echo "ok local-top runs kmipcrypt before cryptroot ($order)" ;;
*) fail "local-top order: $order (want kmipcrypt before cryptroot)" ;;
esac
expect_grep "^-rw-------" "the initramfs file is not readable by others (it holds the client key)" \
	ls -l "$r$initrd"
cp "$r$initrd" "$w/initrd.img" && cp "$r/boot/vmlinuz-$kver" "$w/" || fail "copy the kernel and initramfs"

# ------------------------------------------------ the root disk: LUKS2, bound on the host
t0=$(lab_now_ms)
debian_disk "$r" "$w/disk.img" "$pass" || fail "cannot make the encrypted root disk"
expect_rc 0 "the root disk bound to the KMS (enroll on the host)" K enroll "$w/disk.img" --key-file "$pass"
uid=$(uid_of "$w/disk.img")
echo "    disk: $(( ($(lab_now_ms) - t0) / 1000 )) s, LUKS2 $DEBIAN_LUKS_UUID, key '$uid'"

# ------------------------------------------------ two boots
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
append="root=UUID=$DEBIAN_FS_UUID ip=10.0.2.15::10.0.2.2:255.255.255.0:kmipguest:eth0:off net.ifnames=0"
append="$append systemd.show_status=1 kmipvm.root=$name kmipvm.netdown=1 kmipvm.nonce=$nonce"
gets() { tail -n +"$(( $1 + 1 ))" "$slog" | grep -c "Getting a SecretData with ID: $uid\$"; }
for boot in 1 2; do
	b=$w/b$boot
	mkdir -p "$b"
	m=$(wc -l <"$slog")
	debian_boot "$b" "$w/vmlinuz-$kver" "$w/initrd.img" "$append kmipvm.boot=$boot" "root=$w/disk.img"
	debian_booted "boot $boot"
	expect_grep "unlocked as $name" "boot $boot: kmipcrypt unlocked the root in the initramfs under its crypttab name" \
		cat "$b/serial.txt"
	expect_nogrep "Please unlock disk|Please enter passphrase" "boot $boot: no passphrase prompt on the console" \
		cat "$b/serial.txt"
	[ "$(gets "$m")" -ge 1 ] || fail "boot $boot: PyKMIP did not serve the root's key '$uid'"
	echo "ok boot $boot: PyKMIP served the root's key '$uid' to the guest"
done
expect_grep "^KMIPVM previous-boot nonce: $nonce" "boot 2 read back the nonce boot 1 wrote to the encrypted root" \
	cat "$w/b2/serial.txt"

# prompted_boot N WHAT: boot N, where the KMS will not give the key: cryptroot's
# passphrase prompt must come within PROMPT_BOUND_S of kmipcrypt's first
# message on the console (measured here, as the console comes), the test types
# the passphrase, and the guest boots with its data (debian_prompted).  Sets
# b and log_at_prompt (server log lines by then).
#
# The bound, from the configuration: local-top gives up when
# kmipcrypt.timeout= (TIMEOUT_S, on this boot's command line) has passed since
# it started, which is before its first attempt; each attempt's
# `kmipcrypt unlock --timeout` is what is left of it.  PROMPT_SLACK_S is the
# rest, not the KMS: the last attempt's process, cryptroot starting and
# askpass under TCG on a shared 2-core machine, this script polling.
TIMEOUT_S=5
PROMPT_SLACK_S=20
PROMPT_BOUND_S=$(( TIMEOUT_S + PROMPT_SLACK_S ))
echo "    prompt bound $PROMPT_BOUND_S s: kmipcrypt.timeout=$TIMEOUT_S + $PROMPT_SLACK_S s"
prompted_boot() {
	local boot=$1 what=$2
	b=$w/b$boot
	mkdir -p "$b"
	VM_SERIAL_IN=1 debian_boot "$b" "$w/vmlinuz-$kver" "$w/initrd.img" \
		"$append kmipvm.boot=$boot kmipcrypt.timeout=$TIMEOUT_S" "root=$w/disk.img"
	debian_prompted "$b" "boot $boot ($what)" "^kmipcrypt: " "Please unlock disk $name" \
		"$PROMPT_BOUND_S" "$pass" "$slog"
	log_at_prompt=$DEBIAN_LOG_AT_PROMPT
	expect_grep "^KMIPVM previous-boot nonce: $nonce" "boot $boot ($what): the data on the root is intact" \
		cat "$b/serial.txt"
	grep -a "FAILED (exit" "$b/serial.txt" | sed 's/^/    console| /'
}
# tries STATUS: the attempts of local-top's loop that ended with exit STATUS
# (kmipcrypt unlock --all prints "DEVICE: FAILED (exit N: reason)" per volume).
tries() { grep -c "FAILED (exit $1[:)]" "$b/serial.txt"; }

# Boot 3, the KMS down (its port refuses): retried (exit 2), then the prompt
# within the bound.
lab_server_stop main
prompted_boot 3 "KMS down"
n=$(tries 2)
[ "$n" -ge 1 ] && [ "$(grep -c "FAILED (exit [013456]" "$b/serial.txt")" = 0 ] ||
	fail "boot 3 (KMS down): $n attempts with exit 2, or another status (want only exit 2)"
echo "ok boot 3 (KMS down): local-top retried the unreachable KMS ($n attempts, exit 2 each) until kmipcrypt.timeout"

# Boot 4, the key revoked on the host before the boot: one attempt (exit 4,
# not retried), the console says the key is revoked, the prompt at once, and
# PyKMIP is not asked again after it.
lab_server_restart main || fail "PyKMIP did not come back"
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "revoke the root's key '$uid'"
m=$(wc -l <"$slog")
prompted_boot 4 "key revoked"
expect_grep "^kmipcrypt: key '$uid' is Deactivated \(revoked\)" \
	"boot 4 (key revoked): the console says the key is revoked" cat "$b/serial.txt"
[ "$(tries 4)" = 1 ] && [ "$(tries 2)" = 0 ] ||
	fail "boot 4 (key revoked): $(tries 4) attempts with exit 4 and $(tries 2) with exit 2 (want one, exit 4)"
before=$(debian_sessions "$slog" "$((m + 1))" "$log_at_prompt")
after=$(debian_sessions "$slog" "$((log_at_prompt + 1))" '$')
echo "    boot 4: PyKMIP sessions: $before before the prompt, $after from the prompt to the guest's power-off"
[ "$before" -ge 1 ] && [ "$after" = 0 ] ||
	fail "boot 4 (key revoked): PyKMIP sessions $before before the prompt and $after after (want >= 1, 0)"
echo "ok boot 4 (key revoked): one attempt (exit 4, not retried), PyKMIP never asked after the prompt"
echo "ok timings: whole test $(( ($(lab_now_ms) - t_start) / 1000 )) s"
pass
