#!/bin/bash
# test-timeout: 1500
# Boot (issue 10): a real Debian 12 guest whose root file system is LUKS2,
# unlocked at boot from the KMIP key server (PyKMIP on this host) by its own
# initramfs, with no passphrase typed.  tests/vm/debian.sh builds the guest
# from Debian's packages (mmdebstrap, cached outside the clone); tests/vm/
# guest-boot.sh reports from inside it.
#
# Scenario 1, dracut + systemd: the product's Debian package (make deb)
# installed in the guest with dpkg -i after its configuration and client
# credentials are in /etc/kmipcrypt; the package's update-initramfs trigger
# makes the guest's own dracut rebuild the initramfs with the kmipcrypt
# module; the root is bound (enroll, passphrase kind) on the host.  Boot 1: systemd-cryptsetup in
# the initramfs unlocks the root through the token plugin once the network is
# up (no passphrase prompt on the console; PyKMIP served the root's key), the
# system reaches multi-user.target and writes a nonce to the root; the
# network the initramfs brought up is down in the real system (its own,
# systemd-networkd, masked for this boot: no address left).  Boot 2: the
# same, and the nonce written by boot 1 is read back; the network is the
# real system's own (networkctl).
#
# Boot 2 also runs scenarios 3, 6 and 7 (tests/vm/guest-boot.sh,
# kill_checks): a data disk of kind volume-key, wrapped by a KEK whose host
# copy is in /etc/kmipcrypt/kek, is opened by the initramfs's
# kmipcrypt-unlock.service; kmipcryptd runs, enabled like an administrator
# enables it, polling every 2 s, the root left alone by its [volume] section
# (action = none: the root of a running system is not frozen here); a bound
# disk is plugged in through QEMU's monitor and unlocked by the udev rule
# (/etc/kmipcrypt/hotplug), kmipcryptd watches it from its udev event; a
# second one, the opt-in file removed, is left alone; the test revokes the
# data volume's and the hot disk's keys on PyKMIP and both are suspended
# within a bound (measured here), the journal has the locks with their
# MESSAGE_ID, systemctl status shows them.  The guest disables kmipcryptd
# at the end of boot 2: boot 5 counts the unlock's sessions on the KMS.
# Boot 2 also runs the rotation policy (issue 11) on the real system: hot2's
# server group [rot] has rotate_after = 1s, the guest starts
# kmipcrypt-rekey.service (kmipcrypt rekey --due, in its sandbox), the
# journal has the rotation with its MESSAGE_ID, and afterwards hot2's token
# names a new key, the old one is Deactivated, the root's and the data
# disk's keys are unchanged.
#
# Scenarios 4 and 5: boot 3 with the KMS down (its port refuses), boot 5 with
# the root's key revoked on the host: each time the passphrase prompt comes
# within a bound of systemd-cryptsetup's start (measured), the test types the
# passphrase on the serial console, the system boots with its data; boot 5's
# journal says the key is revoked, and neither the token plugin nor the
# password agent (kmipcrypt-askpass.service, beside the prompt) asks again.
# Boot 4, the prompt not held hostage by the network: the KMS down at boot,
# the prompt comes, the test starts the KMS, and the password agent answers
# the prompt from it: the system boots with nothing typed.
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

# ------------------------------------------------ the product's package, installed in the guest
# As a dracut user sets it up: the configuration and credentials in
# /etc/kmipcrypt, the module asked for in dracut.conf.d (hostonly off: dracut
# runs in a chroot on this host, whose devices are not the guest's), then
# dpkg -i of the package `make deb` builds from this tree: its
# update-initramfs trigger makes dracut rebuild /boot/initrd.img-KVER, the
# image booted below.  What is tested is what users install.
# rot_group FILE: hot2's server group [rot] is [default] with a rotation policy (rotate_after
# = 1s): boot 2 runs kmipcrypt-rekey.service, which must rotate its key, and
# no other.
rot_group() {
	{ echo; awk '/^\[/ { on = ($0 == "[default]") } on' "$1" | sed 's/^\[default\]$/[rot]/'
	  echo "rotate_after = 1s"; } >"$1.rot" && cat "$1.rot" >>"$1" && rm -f "$1.rot"
}
guest_timeout_ms=10000
debian_guest "$r" "10.0.2.2:$port" "$guest_timeout_ms" || fail "cannot set up the guest's configuration"
# kmipcryptd's settings, the hot-plug opt-in, the KEK's host copy: in
# /etc/kmipcrypt before the package makes the initramfs, which copies that
# directory.  The root's mapping name (dracut's luks-UUID) is known now.
debian_ids "$r"
rot_group "$r/etc/kmipcrypt/kmipcrypt.conf" || fail "the group [rot] in the guest's configuration"
POLL_S=2
printf '\n[daemon]\npoll_interval = %ss\n\n[volume luks-%s]\naction = none\n' \
	"$POLL_S" "$DEBIAN_LUKS_UUID" >>"$r/etc/kmipcrypt/kmipcrypt.conf"
: >"$r/etc/kmipcrypt/hotplug"
(umask 077; head -c 32 /dev/urandom >"$w/kek.bin")
kek=$(K key register --type aes --secret-file "$w/kek.bin" --name "kmipvm-kek-$DEBIAN_LUKS_UUID" \
	--activate) || fail "register the KEK"
install -d -m 0700 "$r/etc/kmipcrypt/kek" && install -m 0600 "$w/kek.bin" "$r/etc/kmipcrypt/kek/$kek" ||
	fail "the KEK's host copy in the guest"
mkdir -p "$r/etc/dracut.conf.d"
printf '%s\n' 'hostonly="no"' 'add_dracutmodules+=" kmipcrypt "' >"$r/etc/dracut.conf.d/90-kmipvm.conf"
kver=$(ls "$r/lib/modules" | head -n 1)
[ -n "$kver" ] || fail "no kernel in the guest"
initrd=/boot/initrd.img-$kver
# The real system's own network (systemd-networkd, DHCP on eth0): the
# initramfs takes its network down before switch_root (kmipcrypt-netdown.sh).
netfile=/etc/systemd/network/50-kmipvm.network
printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' >"$r$netfile"
debian_product "$r" "$w"
debian_chroot "$r" systemctl enable kmipcryptd.service systemd-networkd.service >/dev/null 2>&1 ||
	fail "systemctl enable kmipcryptd systemd-networkd"
expect_grep "^dracut: Generating $initrd" "the package's update-initramfs trigger made dracut rebuild $initrd" \
	cat "$w/dpkg.log"
expect_grep "kmipcrypt" "dracut included the kmipcrypt module" \
	debian_chroot "$r" lsinitrd -m "$initrd"
debian_chroot "$r" lsinitrd "$initrd" >"$w/lsinitrd.txt" 2>&1
for f in usr/sbin/kmipcrypt etc/kmipcrypt/kmipcrypt.conf etc/kmipcrypt/client.key "${DEBIAN_CA_DIR#/}/ca.crt" "etc/kmipcrypt/kek/$kek" \
	 libcryptsetup-token-kmip.so systemd-cryptsetup@.service.d/kmipcrypt-network.conf \
	 kmipcrypt-unlock.service kmipcrypt-askpass.path kmipcrypt-askpass.service \
	 cryptsetup.target.wants/kmipcrypt-askpass.path; do
	grep -q -- "$f" "$w/lsinitrd.txt" || fail "the initramfs has no $f"
done
echo "ok the initramfs holds kmipcrypt, the token plugin, the configuration and credentials (the CA from $DEBIAN_CA_DIR, named by the configuration), the KEK, the network drop-in, the password agent's units"
expect_grep "^-rw-------" "the initramfs file is not readable by others (it holds the client key)" \
	ls -l "$r$initrd"
echo "    initramfs: $(du -h "$r$initrd" | cut -f1)"
cp "$r$initrd" "$w/initrd.img"
cp "$r/boot/vmlinuz-$kver" "$w/"

# ------------------------------------------------ the root disk: LUKS2, bound on the host
t0=$(lab_now_ms)
debian_disk "$r" "$w/disk.img" "$pass" || fail "cannot make the encrypted root disk"
expect_rc 0 "the root disk bound to the KMS (enroll on the host)" K enroll "$w/disk.img" --key-file "$pass"
uid=$(uid_of "$w/disk.img")
echo "    disk: $(( ($(lab_now_ms) - t0) / 1000 )) s, LUKS2 $DEBIAN_LUKS_UUID, key '$uid'"

# The data disk (volume-key, wrapped by the KEK), and two disks to plug in
# (passphrase kind): boot 2's.
datanonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
mkdir -p "$w/datatree" && echo "$datanonce" >"$w/datatree/kmipvm-data"
data_uuid=$(cat /proc/sys/kernel/random/uuid)
debian_volume "$w/datatree" "$w/data.img" "$pass" "$(cat /proc/sys/kernel/random/uuid)" "$data_uuid" 16 ||
	fail "cannot make the data disk"
expect_rc 0 "the data disk bound to the KMS (enroll --kind volume-key --wrap-key)" K enroll "$w/data.img" \
	--kind volume-key --wrap-key "$kek" --kek-file "$w/kek.bin" --key-file "$pass"
data_uid=$(uid_of "$w/data.img")
# hot2 in the group [rot] (rot_group above).
rot_group "$conf" || fail "the group [rot] in $conf"
for h in hot:default hot2:rot; do
	g=${h#*:} h=${h%%:*}
	truncate -s 32M "$w/$h.img" &&
		cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode \
			"$w/$h.img" "$pass" || fail "luksFormat $h.img"
	K -g "$g" enroll "$w/$h.img" --key-file "$pass" >/dev/null 2>&1 || fail "enroll $h.img in [$g]"
done
hot_uuid=$(cryptsetup luksUUID "$w/hot.img")
hot_uid=$(uid_of "$w/hot.img")
hot2_uid=$(uid_of "$w/hot2.img")
echo "ok the data disk (key '$data_uid', KEK '$kek') and two disks to plug in, bound"

# ------------------------------------------------ two boots
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
append="root=UUID=$DEBIAN_FS_UUID rd.luks.uuid=$DEBIAN_LUKS_UUID rd.neednet=1 ip=dhcp net.ifnames=0"
append="$append systemd.show_status=1 kmipvm.nonce=$nonce"
# The bound of a lock after a revocation: one poll_interval (with its 10 %
# jitter), then the poller's confirmation and the locker's suspend; the
# slack is TCG on a shared 2-core machine and the guest's 0.2 s look.
LOCK_SLACK_S=15
realnet_off="systemd.mask=systemd-networkd.service systemd.mask=systemd-networkd.socket systemd.mask=systemd-networkd-wait-online.service"
gets() { tail -n +"$(( $1 + 1 ))" "$slog" | grep -c "Getting a SecretData with ID: $uid\$"; }
# console_wait B SECONDS PATTERN WHAT: until PATTERN is on boot B's console.
console_wait() {
	lab_wait_for "$2" _debian_console_has "$1" "$3" ||
		{ vm_stop; tail -n 40 "$1/serial.log"; fail "$4: no '$3' on the guest's console within $2 s"; }
}
for boot in 1 2; do
	b=$w/b$boot
	mkdir -p "$b"
	m=$(wc -l <"$slog")
	if [ "$boot" = 1 ]; then
		# The real system's network off (masked in it, not in the
		# initramfs): what is up came from the initramfs, which must
		# have taken it down.
		debian_boot "$b" "$w/vmlinuz-$kver" "$w/initrd.img" "$append kmipvm.boot=$boot kmipvm.netdown=1 $realnet_off" \
			"root=$w/disk.img"
	else
		VM_HOTPLUG=2 debian_boot "$b" "$w/vmlinuz-$kver" "$w/initrd.img" \
			"$append kmipvm.boot=$boot kmipvm.kill=1 kmipvm.data=luks-$data_uuid kmipvm.hot=luks-$hot_uuid kmipvm.hot2uid=$hot2_uid kmipvm.netfile=$netfile" \
			"root=$w/disk.img" "data=$w/data.img"
		console_wait "$b" 400 "^KMIPVM | hotplug-wanted hot$" "boot 2"
		vm_hotplug 0 hot "$w/hot.img" || fail "boot 2: QEMU did not plug hot.img in"
		echo "ok boot 2: hot.img plugged into the running guest (QEMU monitor, device_add)"
		console_wait "$b" 300 "^KMIPVM | hotplug-wanted hot2$" "boot 2"
		vm_hotplug 1 hot2 "$w/hot2.img" || fail "boot 2: QEMU did not plug hot2.img in"
		console_wait "$b" 300 "^KMIPVM | revoke-wanted$" "boot 2"
		t0=$(lab_now_ms)
		for u in "$data_uid" "$hot_uid"; do
			lab_pyclient main revoke "$u" --reason compromise >/dev/null || fail "revoke '$u'"
		done
		for v in "luks-$data_uuid" "luks-$hot_uuid"; do
			console_wait "$b" 150 "^KMIPVM | locked $v$" "boot 2"
			t1=$(lab_now_ms)
			echo "    boot 2: $v locked $(( (t1 - t0) / 100 / 10 )).$(( (t1 - t0) / 100 % 10 )) s after the revocation (poll_interval ${POLL_S} s)"
			[ $(( t1 - t0 )) -le $(( (POLL_S + LOCK_SLACK_S) * 1000 )) ] ||
				fail "boot 2: $v locked more than poll_interval + $LOCK_SLACK_S s after the revocation"
		done
		echo "ok boot 2: both volumes locked within poll_interval + $LOCK_SLACK_S s of the revocation"
	fi
	debian_booted "boot $boot"
	expect_nogrep "Please enter passphrase" "boot $boot: no passphrase prompt on the console" \
		cat "$b/serial.txt"
	[ "$(gets "$m")" -ge 1 ] || fail "boot $boot: PyKMIP did not serve the root's key '$uid'"
	echo "ok boot $boot: PyKMIP served the root's key '$uid' to the guest"
done
# The rotation policy in the guest: hot2's key (group [rot]) rotated by
# kmipcrypt-rekey.service, the others left alone.
new2=$(uid_of "$w/hot2.img")
[ -n "$new2" ] && [ "$new2" != "$hot2_uid" ] || fail "boot 2: hot2's token names '$new2', want a new key (rotated)"
expect_eq "$(lab_pyclient main get-state "$hot2_uid" | lab_json state)" "DEACTIVATED" \
	"boot 2: kmipcrypt-rekey.service rotated hot2's key: the old one '$hot2_uid' is Deactivated, the token names '$new2'"
expect_eq "$(uid_of "$w/disk.img") $(uid_of "$w/data.img")" "$uid $data_uid" \
	"boot 2: ... and left the root's and the data disk's keys (no rotate_after) alone"
expect_grep "^KMIPVM \| data volume: $datanonce" "boot 2: the data volume's content, read in the guest" \
	cat "$w/b2/serial.txt"
expect_grep "^KMIPVM previous-boot nonce: $nonce" "boot 2 read back the nonce boot 1 wrote to the encrypted root" \
	cat "$w/b2/serial.txt"

# prompted_boot N WHAT: boot N, where the KMS will not give the key: the
# passphrase prompt must come within PROMPT_BOUND_S of systemd-cryptsetup's
# start (measured here, on the console as it comes), the test types the
# passphrase (PASS, default the root's; empty: nothing typed, AT_PROMPT runs
# at the prompt), and the guest boots with its data (debian_prompted).  Sets
# b (the boot's dir) and log_at_prompt (server log lines by then).
#
# The bound, from the configuration: the token plugin gives up on the KMS
# within its deadline for one whole `cryptsetup open`, every server, request
# and token of the volume included (PLUGIN_DEADLINE_MS in
# src/plugin/token_kmip.c = LUKS_DEADLINE_MS_DEFAULT in src/luks/luks.h,
# read from there below); each connect, handshake, write and read is bounded
# by the guest's timeout_ms too, lowered to fit in what is left of the
# deadline, so the deadline is the bound whatever timeout_ms says; then
# systemd-cryptsetup asks for the passphrase.  PROMPT_SLACK_S is the rest,
# not the KMS: systemd-cryptsetup, libcryptsetup and the plugin starting
# under TCG on a shared 2-core machine, and this script polling the console.
guest_deadline_ms=$(sed -n 's/^#define LUKS_DEADLINE_MS_DEFAULT[[:space:]]*\([0-9]*\).*/\1/p' "$repo/src/luks/luks.h")
[ -n "$guest_deadline_ms" ] || fail "no LUKS_DEADLINE_MS_DEFAULT in src/luks/luks.h"
PROMPT_SLACK_S=20
PROMPT_BOUND_S=$(( guest_deadline_ms / 1000 + PROMPT_SLACK_S ))
echo "    prompt bound $PROMPT_BOUND_S s: the plugin's deadline $(( guest_deadline_ms / 1000 )) s (timeout_ms $guest_timeout_ms) + $PROMPT_SLACK_S s"
prompted_boot() {
	local boot=$1 what=$2
	b=$w/b$boot
	mkdir -p "$b"
	VM_SERIAL_IN=1 debian_boot "$b" "$w/vmlinuz-$kver" "$w/initrd.img" \
		"$append kmipvm.boot=$boot" "root=$w/disk.img"
	# The console line is cut by systemd's status width: "Starting systemd-cryptsetu…".
	DEBIAN_AT_PROMPT=${AT_PROMPT:-} debian_prompted "$b" "boot $boot ($what)" "Starting.*systemd-cryptsetu" \
		"Please enter passphrase for disk" "$PROMPT_BOUND_S" "${PASS-$pass}" "$slog"
	log_at_prompt=$DEBIAN_LOG_AT_PROMPT
	expect_grep "^KMIPVM previous-boot nonce: $nonce" "boot $boot ($what): the data on the root is intact" \
		cat "$b/serial.txt"
}
# plugin_tries: how many times the guest's journal says the token plugin
# gave up (its one error line per try, as guest-boot.sh shows the journal).
plugin_tries() { grep -cE "^KMIPVM \| .*token [0-9]+.*(no usable answer from the KMS|the KMS refuses key)" "$b/serial.txt"; }
# agent_lines PATTERN: the password agent's journal lines matching PATTERN.
agent_lines() { grep -cE "^KMIPVM \| .*$1" "$b/serial.txt"; }

# Boot 3, the KMS down (its port refuses): the prompt within the bound, no
# hang, and the plugin tried once, not in a loop (its journal: PyKMIP is
# down and sees nothing).
lab_server_stop main
prompted_boot 3 "KMS down"
grep -E "^KMIPVM \| .*(token [0-9]|kmip|KMS|askpass)" "$b/serial.txt" | sed 's/^KMIPVM | /    journal| /'
n=$(plugin_tries)
[ "$n" = 1 ] || fail "boot 3 (KMS down): the journal shows $n failed tries of the token plugin, want 1"
echo "ok boot 3 (KMS down): the token plugin tried once and gave up (no retry loop)"
n=$(agent_lines "askpass: /dev/.*: no usable answer from server group \\[default\\] for key '$uid'.*trying again")
[ "$n" -ge 1 ] || fail "boot 3 (KMS down): the password agent did not try the KMS beside the prompt"
[ "$(agent_lines "answered with the secret")" = 0 ] || fail "boot 3 (KMS down): the agent says it answered"
echo "ok boot 3 (KMS down): the password agent tried the KMS beside the prompt (failed attempts: $n) until the passphrase was typed"

# Boot 4, the KMS down at boot and started once the prompt is there:
# the password agent, trying beside the prompt, answers it from the KMS and
# the system boots with nothing typed.
# (PyKMIP starts a new log: gets 0 counts from its start.)
kms_back() { lab_server_restart main; }
AT_PROMPT=kms_back PASS= prompted_boot 4 "KMS down, then back"
grep -E "^KMIPVM \| .*(token [0-9]|kmip|KMS|askpass)" "$b/serial.txt" | sed 's/^KMIPVM | /    journal| /'
expect_grep "^KMIPVM \| /dev/.*: answered with the secret of key '$uid'" \
	"boot 4 (KMS down, then back): the password agent answered the prompt from the KMS" cat "$b/serial.txt"
[ "$(gets 0)" -ge 1 ] || fail "boot 4: PyKMIP did not serve the root's key after it came back"
echo "ok boot 4 (KMS down, then back): PyKMIP served the root's key once it was back; nothing typed"

# Boot 5, the key revoked on the host before the boot: the prompt, the
# guest's journal says the key is revoked, and PyKMIP is asked twice in all:
# once by the token plugin before the prompt, once by the password agent at
# the prompt, which says the key is revoked and does not ask again (no retry
# of a refused key, from either).
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "revoke the root's key '$uid'"
m=$(wc -l <"$slog")
prompted_boot 5 "key revoked"
grep -E "^KMIPVM \| .*(token [0-9]|kmip|KMS|askpass)" "$b/serial.txt" | sed 's/^KMIPVM | /    journal| /'
expect_grep "^KMIPVM \| .*key '$uid' is Deactivated \(revoked\)" \
	"boot 5 (key revoked): the journal of the unlock says the key is revoked" cat "$b/serial.txt"
n=$(plugin_tries)
[ "$n" = 1 ] || fail "boot 5 (key revoked): the journal shows $n failed tries of the token plugin, want 1"
n=$(agent_lines "askpass: /dev/.*: key '$uid' on server group \\[default\\]: Deactivated \\(revoked\\) or Compromised: not retrying")
[ "$n" = 1 ] || fail "boot 5 (key revoked): the password agent said $n times that the key is revoked, want 1"
echo "ok boot 5 (key revoked): the password agent said once that the key is revoked and did not retry"
before=$(debian_sessions "$slog" "$((m + 1))" "$log_at_prompt")
all=$(debian_sessions "$slog" "$((m + 1))" '$')
echo "    boot 5: PyKMIP sessions: $before before the prompt was seen here, $all to the guest's power-off"
[ "$before" -ge 1 ] || fail "boot 5 (key revoked): the guest never asked PyKMIP"
[ "$all" -le 2 ] || fail "boot 5 (key revoked): the guest asked PyKMIP $all times, want 2 at most (the plugin, the agent)"
echo "ok boot 5 (key revoked): PyKMIP was asked by the plugin and once by the agent, never again"
echo "ok timings: whole test $(( ($(lab_now_ms) - t_start) / 1000 )) s"
pass
