# shellcheck shell=sh
# The guest half of tests/integration/test-vm-daemon.sh, sourced by the
# guest's /init (tests/vm/init.sh: ok/bad/check/check_rc/out_has, disk) as
# /etc/vm/test.sh.  kmipcryptd on real dm-crypt against the host's PyKMIP
# (10.0.2.2), poll_interval 1 s:
#   a  va (action suspend): data written and synced; its key revoked on the
#      KMS (a KMIP Revoke to the host's PyKMIP): va suspended within
#      poll_interval + 2 s (measured here), its volume key wiped, a write no
#      longer completes; a new key enrolled, `kmipcrypt unlock` resumes it,
#      the held write completes, the data synced before the revoke is intact
#   b  vb ([volume vb] action = close): its key revoked: error table, reads
#      fail with an I/O error
#   c  vc: its token's group [flaky] is a port nobody listens on for the
#      daemon (offline_grace = 3s): suspended by the rule offline-grace
#   d  the state file, the audit lines, the two processes; SIGTERM
# Variables from the host (/etc/vm/env): NONCE, UID_A, UID_B.
K() { kmipcrypt "$@"; }
D=/etc/kmipcrypt/daemon.conf
error_table() { dmsetup table "$1" 2>/dev/null | grep -q '^0 [0-9]* error'; }
cycles() { sed -n 's/.*"cycles":\([0-9]*\).*/\1/p' /run/kmipcryptd/state.json 2>/dev/null; }
polled() { [ "$(cycles)" -ge "${1:-1}" ] 2>/dev/null; }

A=$(disk a) && B=$(disk b) && C=$(disk c) || bad "the three test disks (serials a b c) are not all there"
say "| disks: a=$A b=$B c=$C"
check_rc 0 "unlock $A va" K unlock "$A" va
check_rc 0 "unlock $B vb" K unlock "$B" vb
check_rc 0 "unlock $C vc (its group [flaky] is the host's server for this unlock)" \
	K -c /etc/kmipcrypt/unlock.conf unlock "$C" vc
yes "kmipvm-daemon-$NONCE" | head -c 65536 >/tmp/pat
check_rc 0 "a: 64 KiB written to va and synced" \
	dd if=/tmp/pat of=/dev/mapper/va bs=4096 oflag=direct conv=fsync

kmipcryptd -c "$D" -v >/tmp/daemon.log 2>&1 &
DPID=$!
t=$(wait_cs 3000 polled 1) && ok "kmipcryptd polls (first cycle after $((t * 10)) ms)" ||
	{ bad "kmipcryptd: no poll cycle within 30 s"; show /tmp/daemon.log; }
CPID=$(cat /proc/$DPID/task/$DPID/children 2>/dev/null | awk '{print $1}')
check "d: the locker runs as root" sh -c "grep -q '^Uid:[[:space:]]*0[[:space:]]' /proc/$DPID/status"
check "d: the poller ($CPID) runs as nobody, no capability" \
	sh -c "grep -q '^Uid:[[:space:]]*65534[[:space:]]' /proc/$CPID/status &&
	       grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/$CPID/status"
check "d: the state file watches va vb vc" \
	sh -c 'for v in va vb vc; do grep -q "\"mapping\":\"$v\"" /run/kmipcryptd/state.json || exit 1; done'

check_rc 0 "d: kmipcrypt status $A while the daemon runs" K status "$A"
out_has "kmipcryptd: watching it: fine \\(rule active\\)" "d: ... shows the daemon's view: fine"

# a: revoke va's key on the KMS; the daemon suspends va.
check "a: va's table has a key before" sh -c "! table_key va | grep -qE '^(0+|-)?\$'"
check_rc 0 "a: its key ($UID_A) revoked on the KMS" K key revoke "$UID_A" --reason cessation
t=$(wait_cs 1000 suspended va)
check "a: va suspended $((t * 10)) ms after the revoke (poll_interval 1 s; want <= 3000)" \
	test "$t" -le 300 -a "$(suspended va; echo $?)" = 0
k=$(table_key va)
check "a: ... its volume key wiped from the kernel" sh -c "echo '$k' | grep -qE '^(0+|-)?\$'"
check_rc 4 "a: kmipcrypt status $A: the key revoked (exit 4)" K status "$A"
out_has "kmipcryptd: watching it: revoked \\(rule deactivated\\).*; LOCKED by it" \
	"a: ... and the daemon's view: revoked, locked by it"
( dd if=/tmp/pat of=/dev/mapper/va bs=4096 count=1 seek=64 oflag=direct conv=fsync 2>/dev/null;
  echo "$?" >/tmp/late.rc ) &
WPID=$!
usleep 2000000
check "a: a write to va does not complete while it is locked (2 s)" sh -c "kill -0 $WPID && [ ! -e /tmp/late.rc ]"
check_rc 0 "a: a new key enrolled (token 1) while va is locked" \
	K enroll "$A" --kind passphrase --key-file /etc/vm/pass
check_rc 0 "a: kmipcrypt unlock $A va resumes it with the new key" K -v unlock "$A" va
out_has "resumed with token 1" "a: ... says resumed with token 1"
t=$(wait_cs 1000 test -e /tmp/late.rc)
check "a: the held write completes after the resume ($((t * 10)) ms)" test "$(cat /tmp/late.rc 2>/dev/null)" = 0
check "a: the data synced before the revoke is intact" \
	sh -c 'dd if=/dev/mapper/va of=/tmp/back bs=4096 count=16 iflag=direct 2>/dev/null && cmp -s /tmp/back /tmp/pat'
n=$(cycles)
wait_cs 1000 polled $((n + 2)) >/dev/null
check "a: the daemon does not lock va again (one key of two usable)" \
	test "$(grep -c 'va (.*suspend done' /tmp/daemon.log)" = 1 -a "$(suspended va; echo $?)" = 1

# b: close.
check_rc 0 "b: vb's key ($UID_B) revoked on the KMS" K key revoke "$UID_B" --reason compromise
t=$(wait_cs 1000 error_table vb)
check "b: vb's table replaced by an error target $((t * 10)) ms after the revoke" error_table vb
check_rc '!0' "b: a read of /dev/mapper/vb fails" \
	timeout 20 dd if=/dev/mapper/vb of=/dev/null bs=4096 count=1 iflag=direct
out_has "I/O error|Input/output error" "b: ... with an I/O error"

# c: the group the daemon cannot reach, offline_grace 3 s.
t=$(wait_cs 1000 suspended vc)
check "c: vc suspended (its group unreachable for offline_grace)" suspended vc
check "c: ... by the rule offline-grace" grep -q "vc (.*(rule offline-grace): suspend done" /tmp/daemon.log
check "d: audit lines for va, vb, vc" \
	sh -c "grep -q 'va (.*is Deactivated (rule deactivated): suspend done' /tmp/daemon.log &&
	       grep -q 'vb (.*is Compromised (rule compromised): close done' /tmp/daemon.log"
# gone PID: no such process, or a zombie (this shell reaps it only later)
gone() {
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}
kill -TERM "$DPID"
t=$(wait_cs 300 gone "$DPID")
stopped() { [ "$t" -le 100 ] && gone "$DPID" && gone "$CPID"; }
check "d: SIGTERM: the daemon is gone within a second ($((t * 10)) ms), the poller too" \
	stopped
say "| --- the daemon's log"
grep -v 'debug' /tmp/daemon.log | show
