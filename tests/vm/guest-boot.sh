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
#                   (/run/net-*.conf gone): nothing in this guest brings the
#                   network up, so what is up came from the initramfs
exec >/dev/ttyS0 2>&1
M=KMIPVM
N_OK=0
N_FAIL=0
say() { echo "$M $*"; }
ok() { N_OK=$((N_OK + 1)); say "ok $*"; }
bad() { N_FAIL=$((N_FAIL + 1)); say "FAIL $*"; }
show() { sed "s/^/$M | /"; }
check() { what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }

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
journalctl -b -o cat -u 'systemd-cryptsetup@*' -u kmipcrypt-unlock.service --no-pager 2>&1 | show
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
