#!/bin/busybox sh
# /init of the test guest (tests/vm/lib.sh builds the initramfs): mount the
# kernel file systems, load the modules of /etc/vm/modules.load, bring up the
# network (QEMU user networking: 10.0.2.15/24, the host's loopback is
# 10.0.2.2), map the virtio disks' serial numbers to /dev/vdX, run the test's
# guest script /etc/vm/test.sh, report on the serial console, power off.
# The report protocol and the helpers the guest scripts share:
# tests/vm/guest-lib.sh (/etc/vm/guest-lib.sh here).
/bin/busybox mkdir -p /proc /sys /dev /run /tmp
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/cryptsetup /dev/pts /dev/shm
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
# No udevd: libdevmapper makes the /dev/mapper nodes itself, waits for nobody.
export DM_DISABLE_UDEV=1

. /etc/vm/guest-lib.sh
finish() {
	if [ $N_FAIL != 0 ]; then
		say "| --- kernel log (dmesg, last 40 lines)"
		dmesg | tail -n 40 | show
	fi
	say "| guest uptime at the end: $(cut -d' ' -f1 /proc/uptime) s"
	say "DONE $N_OK $N_FAIL"
	if grep -q 'kmipvm.shell=1' /proc/cmdline; then
		echo "kmipvm: a shell (exit it to power off)"
		setsid cttyhack sh
	fi
	sync
	poweroff -f
	sleep 10	# not reached
}

# check_rc WANT WHAT CMD...: CMD (output in /tmp/out, shown) exits with WANT
# ("!0": anything but 0).  RC holds CMD's exit code afterwards.
check_rc() {
	want=$1 what=$2
	shift 2
	t0=$(uptime_cs)
	"$@" >/tmp/out 2>&1
	RC=$?
	t1=$(uptime_cs)
	show /tmp/out
	case "$want" in
	!0) [ $RC != 0 ] ;;
	*) [ $RC = "$want" ] ;;
	esac && { ok "$what (exit $RC, $(( (t1 - t0) * 10 )) ms)"; return 0; }
	bad "$what: exit $RC, want $want"
	return 1
}
# out_has RE WHAT: the output of the last check_rc matches RE (grep -E)
out_has() {
	if grep -qE -- "$1" /tmp/out; then ok "$2"; return 0; fi
	bad "$2: no '$1' in the output"
	return 1
}

# ------------------------------------------------------------ set-up
. /etc/vm/env
set -u
while read -r m; do
	insmod "/lib/modules/$(uname -r)/$m" || bad "insmod $m"
done </etc/vm/modules.load

# A disk by its serial number (QEMU -device virtio-blk-pci,serial=S): /dev/vdX
disk() {
	for s in /sys/block/vd*/serial; do
		[ -e "$s" ] && [ "$(cat "$s")" = "$1" ] && { d=${s%/serial}; echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}

ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ||
	bad "network set-up"
i=0
while [ "$(cat /sys/class/net/eth0/operstate 2>/dev/null)" != up ] && [ $i -lt 100 ]; do
	usleep 50000
	i=$((i + 1))
done
[ -e /dev/mapper/control ] || bad "no /dev/mapper/control after loading dm-mod"
say "| kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s; disks: $(cd /sys/block && echo vd*)"

if [ -f /etc/vm/test.sh ]; then
	. /etc/vm/test.sh
else
	bad "no /etc/vm/test.sh in the initramfs"
fi
finish
