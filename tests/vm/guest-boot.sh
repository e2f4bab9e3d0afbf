#!/bin/sh
# The guest half of tests/integration/test-boot.sh: run by kmipvm-report.service
# in the booted Debian guest (after multi-user.target), it reports on the
# serial console in the protocol of tests/vm/init.sh (KMIPVM ok/FAIL/|/DONE)
# and powers the guest off.  What it checks depends on the boot:
#   kmipvm.boot=N   1: write kmipvm.nonce to /var/lib/kmipvm/nonce;
#                   later boots: report what the file holds (the host compares)
#   rd.luks.uuid=U  the root must be on /dev/mapper/luks-U
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
say "| boot $boot, kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s"
root=$(findmnt -n -o SOURCE /)
say "| root: $root"
check "boot $boot: the root file system is on /dev/mapper/luks-$luks" \
	test "$root" = "/dev/mapper/luks-$luks"
dmsetup table "luks-$luks" 2>&1 | sed 's/ [0-9a-f]\{64,\} / KEY /' | show
check "boot $boot: ... a dm-crypt mapping" sh -c "dmsetup table 'luks-$luks' | grep -q ' crypt '"
check "boot $boot: multi-user.target reached" systemctl -q is-active multi-user.target
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
