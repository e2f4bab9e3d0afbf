#!/bin/sh
# The guest half of tests/integration/test-boot.sh: run by kmipvm-report.service
# in the booted Debian guest (after multi-user.target), it reports on the
# serial console in the protocol of tests/vm/init.sh (KMIPVM ok/FAIL/|/DONE)
# and powers the guest off.  What it checks depends on the boot:
#   kmipvm.boot=N   1: write kmipvm.nonce to /var/lib/kmipvm/nonce;
#                   later boots: report what the file holds (the host compares)
#   rd.luks.uuid=U  the root must be on /dev/mapper/luks-U (dracut's name)
#   kmipvm.root=N   ... on /dev/mapper/N instead (crypttab's name)
#   kmipvm.netdown=1  no address left on any interface from the initramfs
#                   (/run/net-*.conf of initramfs-tools gone): nothing in
#                   this guest brings the network up then, so what is up
#                   came from the initramfs.  (/run/systemd/network may hold
#                   a file of the real system's systemd-network-generator,
#                   which makes one of ip= again: its own configuration.)
#   kmipvm.netfile=F  the network is up, configured by the real system's
#                   own systemd-networkd file F (networkctl status)
#   kmipvm.kill=1   boot integration after the root (kill_checks below):
#                   kmipvm.data=NAME the data volume (kind volume-key,
#                   wrapped) the initramfs opened, kmipvm.hot=NAME the name
#                   the hot-plugged disk "hot" gets; the host plugs disks in
#                   and revokes keys when this script asks for it on the
#                   console ("KMIPVM | hotplug-wanted SERIAL", "KMIPVM |
#                   revoke-wanted"), and measures the locks from the
#                   "KMIPVM | locked NAME" lines
exec >/dev/ttyS0 2>&1
# The report protocol, check, wait_for, dm_sys, suspended: tests/vm/guest-lib.sh.
. /usr/local/lib/kmipvm/guest-lib.sh
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }
# by_serial SERIAL: /dev/vdX of the virtio disk with that serial number
by_serial() {
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && { echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}
daemon_log() { journalctl -b -o cat -u kmipcryptd.service --no-pager; }
# Journal entries of kmipcryptd's locks (kmipcryptd(8), daemon/audit.h).
MSG_LOCKED=20e6105e20d14e17a50d86c8d1e13390
MSG_ROTATED=b360f40b9530423d8a83debbd4637991

# kill_checks: scenario 3 (a data volume of kind volume-key, wrapped,
# opened at boot by the initramfs's kmipcrypt-unlock.service), scenario 7
# (a bound disk plugged in while the system runs: unlocked through the udev
# rule while /etc/kmipcrypt/hotplug exists, left alone once it is gone;
# kmipcryptd watches the new mapping from its udev event), scenario 6
# (kmipcryptd, started by its unit, suspends both when the host revokes
# their keys; the journal has the locks with their MESSAGE_ID; the root,
# [volume] action = none, stays as it is).
kill_checks() {
	data=$(arg kmipvm.data) hot=$(arg kmipvm.hot)
	check "the data volume (volume-key, wrapped) was opened at boot: /dev/mapper/$data" \
		test -b "/dev/mapper/$data"
	mkdir -p /mnt/data && mount -o ro "/dev/mapper/$data" /mnt/data &&
		say "| data volume: $(cat /mnt/data/kmipvm-data 2>&1)" && umount /mnt/data
	check "kmipcryptd is active (started by kmipcryptd.service)" \
		wait_for 120 systemctl -q is-active kmipcryptd.service
	check "... it watches the data volume" \
		wait_for 30 sh -c "journalctl -b -o cat -u kmipcryptd.service | grep -q ': $data (.*): watched'"
	say "| hotplug-wanted hot"
	check "the hot-plugged bound disk was unlocked through the udev rule: /dev/mapper/$hot" \
		wait_for 240 test -b "/dev/mapper/$hot"
	hd=$(by_serial hot)
	check "... the rule wanted kmipcrypt-unlock@${hd#/dev/}.service for $hd" \
		sh -c "udevadm info -q property '$hd' | grep -q '^SYSTEMD_WANTS=.*kmipcrypt-unlock@${hd#/dev/}'"
	journalctl -b -o cat -u "kmipcrypt-unlock@${hd#/dev/}.service" --no-pager | show
	check "... kmipcryptd watches it from its udev event" \
		wait_for 30 sh -c "journalctl -b -o cat -u kmipcryptd.service | grep -q ': $hot (.*): watched, .* (udev: '"
	rm -f /etc/kmipcrypt/hotplug
	say "| hotplug-wanted hot2"
	check "a second bound disk plugged in with /etc/kmipcrypt/hotplug gone" wait_for 240 by_serial hot2
	h2=$(by_serial hot2)
	udevadm settle --timeout=60
	check "... the udev rule leaves $h2 alone (no SYSTEMD_WANTS)" \
		sh -c "! udevadm info -q property '$h2' | grep -q kmipcrypt-unlock"
	check "... and nothing holds it" sh -c "[ -z \"\$(ls -A /sys/block/${h2#/dev/}/holders)\" ]"
	# The rotation policy on the real system: hot2's server group has
	# rotate_after = 1s, the others none; the service runs in its sandbox.
	u2=$(arg kmipvm.hot2uid)
	check "kmipcrypt-rekey.service (kmipcrypt rekey --due) ran and succeeded" \
		systemctl start kmipcrypt-rekey.service
	journalctl -b -o cat -u kmipcrypt-rekey.service --no-pager | show
	check "... the journal has the rotation of hot2's key '$u2' with MESSAGE_ID=$MSG_ROTATED" sh -c \
		"journalctl -b -o cat MESSAGE_ID=$MSG_ROTATED KMIPCRYPT_OLD_KEY_UID=$u2 | grep -q ."
	# As the administrator enables the policy: the timer, scheduled, runs the service.
	systemctl enable --now kmipcrypt-rekey.timer 2>&1 | show
	systemctl list-timers --all --no-pager kmipcrypt-rekey.timer 2>&1 | show
	check "kmipcrypt-rekey.timer, enabled, is waiting to start kmipcrypt-rekey.service" sh -c \
		"systemctl -q is-active kmipcrypt-rekey.timer &&
		 systemctl show -p Triggers --value kmipcrypt-rekey.timer | grep -q kmipcrypt-rekey.service &&
		 systemctl show -p NextElapseUSecRealtime --value kmipcrypt-rekey.timer | grep -q ."
	systemctl -q disable --now kmipcrypt-rekey.timer 2>&1 | show
	say "| revoke-wanted"
	for v in "$data" "$hot"; do
		if wait_for 120 suspended "$v"; then
			say "| locked $v"
			ok "kmipcryptd suspended $v after its key was revoked"
		else
			bad "kmipcryptd suspended $v after its key was revoked"
		fi
	done
	check "the root ([volume] action = none) is not suspended" not_suspended "$name"
	daemon_log | show
	check "the journal has each lock with MESSAGE_ID=$MSG_LOCKED" sh -c \
		"journalctl -b -o cat -u kmipcryptd.service MESSAGE_ID=$MSG_LOCKED | grep -q '$data' &&
		 journalctl -b -o cat -u kmipcryptd.service MESSAGE_ID=$MSG_LOCKED | grep -q '$hot'"
	systemctl status --no-pager -n 6 kmipcryptd.service 2>&1 | show
	check "systemctl status kmipcryptd shows the lock" \
		sh -c "systemctl status --no-pager -n 20 kmipcryptd.service | grep -q '$hot'"
	# Their keys are gone and nothing will resume them: removed before the poweroff.
	for v in "$data" "$hot"; do dmsetup remove --force "$v" 2>&1 | show; done
	# The later boots are about the boot path: the KMS's log must show the
	# unlock's sessions alone (test-boot.sh counts them).
	systemctl -q disable kmipcryptd.service 2>&1 | show
}

boot=$(arg kmipvm.boot)
luks=$(arg rd.luks.uuid)
name=$(arg kmipvm.root)
[ -n "$name" ] || name=luks-$luks
say "| boot $boot, kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s"
root=$(findmnt -n -o SOURCE /)
say "| root: $root"
check "boot $boot: the root file system is on /dev/mapper/$name" \
	test "$root" = "/dev/mapper/$name"
dmsetup table "$name" 2>&1 | sed 's/ [0-9a-f]\{64,\} / KEY /' | show
check "boot $boot: ... a dm-crypt mapping" sh -c "dmsetup table '$name' | grep -q ' crypt '"
check "boot $boot: multi-user.target reached" systemctl -q is-active multi-user.target
if [ "$(arg kmipvm.netdown)" = 1 ]; then
	ip -o addr show 2>&1 | show
	check "boot $boot: the initramfs network was taken down (no IPv4 address but loopback's)" \
		sh -c "! ip -4 -o addr show | grep -v ' lo ' | grep -q inet"
	check "boot $boot: ... and no /run/net-*.conf left" sh -c "! ls /run/net-*.conf >/dev/null 2>&1"
fi
nf=$(arg kmipvm.netfile)
if [ -n "$nf" ]; then
	check "boot $boot: the network is the real system's own (systemd-networkd, $nf)" \
		wait_for 60 sh -c "networkctl status eth0 2>/dev/null | grep -q 'Network File: $nf'"
fi
journalctl -b -o cat -u 'systemd-cryptsetup@*' -u kmipcrypt-unlock.service -u kmipcrypt-askpass.service \
	--no-pager 2>&1 | show
say "| network: $(ip -o -4 addr show 2>&1 | awk '{ printf "%s %s; ", $2, $4 }')run/systemd/network: $(ls /run/systemd/network 2>&1 | tr '\n' ' ')"
[ "$(arg kmipvm.kill)" = 1 ] && kill_checks
if [ "$boot" = 1 ]; then
	mkdir -p /var/lib/kmipvm && arg kmipvm.nonce >/var/lib/kmipvm/nonce && sync
	check "boot 1: wrote the nonce to the encrypted root" test -s /var/lib/kmipvm/nonce
else
	say "previous-boot nonce: $(cat /var/lib/kmipvm/nonce 2>/dev/null)"
fi
say "| guest uptime at the end: $(cut -d' ' -f1 /proc/uptime) s"
say "DONE $N_OK $N_FAIL"
sync
systemctl poweroff --no-block
