# shellcheck shell=sh
# The guest half of tests/integration/test-vm-reencrypt.sh, sourced by the
# guest's /init (tests/vm/init.sh, tests/vm/guest-lib.sh) as /etc/vm/test.sh:
# online reencryption on real dm-crypt with I/O running, against the host's
# PyKMIP (10.0.2.2).  For each disk (pp: passphrase, vk: volume-key):
#   - kmipcrypt unlock; patterns A (8 MiB) and B (4 MiB after it) written;
#     the SHA-256 of the whole mapping taken;
#   - a writer rewriting B (the same bytes) and a reader comparing A (O_DIRECT)
#     run in loops; `kmipcrypt reencrypt` of the disk runs while both are
#     alive (online: through the open mapping); they are stopped after it;
#   - no read of A ever differed; the mapping's key changed; the whole
#     mapping has the same SHA-256 (said on the console for the host, which
#     decrypts the image with the new volume key and compares); closed and
#     unlocked again from the KMS, the same SHA-256.
# Variables from the host (/etc/vm/env): NONCE.
K() { kmipcrypt "$@"; }
pattern() { echo "kmipvm-$1-$NONCE"; }
PASSFILE=/etc/kmipcrypt/pass
PP=$(disk pp) && VK=$(disk vk) || bad "the two test disks (serials pp vk) are not both there"
say "| disks: pp=$PP vk=$VK"

# writer NAME: rewrite B (8 MiB in, 4 MiB) until /tmp/stop.NAME; counts its rounds.
writer() {
	n=0
	while [ ! -e "/tmp/stop.$1" ]; do
		dd if="/tmp/B.$1" of="/dev/mapper/$1" bs=1M seek=8 conv=fsync 2>/dev/null ||
			{ echo "write failed" >"/tmp/werr.$1"; return 1; }
		n=$((n + 1))
		echo "$n" >"/tmp/wn.$1"
	done
}
# reader NAME: compare A (O_DIRECT) until /tmp/stop.NAME; counts rounds and differences.
reader() {
	n=0 diff=0
	while [ ! -e "/tmp/stop.$1" ]; do
		dd if="/dev/mapper/$1" of="/tmp/rA.$1" bs=1M count=8 iflag=direct 2>/dev/null &&
			cmp -s "/tmp/rA.$1" "/tmp/A.$1" || diff=$((diff + 1))
		n=$((n + 1))
		echo "$n $diff" >"/tmp/rn.$1"
	done
}
rounds() { cut -d' ' -f1 "$1" 2>/dev/null || echo 0; }
at_least_one() { [ "$(rounds "/tmp/wn.$1")" -ge 1 ] && [ "$(rounds "/tmp/rn.$1")" -ge 1 ]; }

for v in pp:$PP:passphrase vk:$VK:volume-key; do
	name=${v%%:*} dev=${v#*:} kind=${v##*:}
	dev=${dev%:*}
	check_rc 0 "$kind: kmipcrypt unlock $dev $name" K unlock "$dev" "$name" || continue
	yes "$(pattern "$name-A")" | head -c 8388608 >"/tmp/A.$name"
	yes "$(pattern "$name-B")" | head -c 4194304 >"/tmp/B.$name"
	check_rc 0 "$kind: patterns A and B written through the mapping" sh -c \
		"dd if=/tmp/A.$name of=/dev/mapper/$name bs=1M conv=fsync &&
		 dd if=/tmp/B.$name of=/dev/mapper/$name bs=1M seek=8 conv=fsync"
	sum0=$(sha256sum <"/dev/mapper/$name" | cut -d' ' -f1)
	key0=$(table_key "$name")
	rm -f "/tmp/stop.$name" "/tmp/werr.$name" "/tmp/wn.$name" "/tmp/rn.$name"
	writer "$name" &
	wpid=$!
	reader "$name" &
	rpid=$!
	wait_cs 3000 at_least_one "$name" >/dev/null || bad "$kind: the writer and the reader did not start"
	check_rc 0 "$kind: kmipcrypt reencrypt $dev, online, the writer and the reader running" \
		K reencrypt "$dev" --key-file "$PASSFILE" --hotzone-size 1M --json
	out_has '"online": *true|"online":true' "$kind: ... through the open mapping (online)"
	check "$kind: ... the writer was still writing when it ended" kill -0 "$wpid"
	check "$kind: ... the reader was still reading when it ended" kill -0 "$rpid"
	: >"/tmp/stop.$name"
	wait "$wpid" "$rpid"
	say "| $kind: writer rounds $(rounds "/tmp/wn.$name"), reader rounds and differences $(cat "/tmp/rn.$name")"
	check "$kind: no write failed during the reencryption" test ! -e "/tmp/werr.$name"
	check "$kind: every read of A during the reencryption was A" \
		test "$(cut -d' ' -f2 "/tmp/rn.$name")" = 0
	key1=$(table_key "$name")
	check "$kind: the mapping's volume key changed" test -n "$key1" -a "$key1" != "$key0"
	sum1=$(sha256sum <"/dev/mapper/$name" | cut -d' ' -f1)
	check "$kind: the whole mapping reads the same (SHA-256)" test "$sum1" = "$sum0"
	say "| sum $name $sum1"
	check_rc 0 "$kind: close it" cryptsetup close "$name"
	check_rc 0 "$kind: unlocked again from the KMS" K unlock "$dev" "$name"
	sum2=$(sha256sum <"/dev/mapper/$name" | cut -d' ' -f1)
	check "$kind: ... and it reads the same (SHA-256)" test "$sum2" = "$sum0"
	check_rc 0 "$kind: closed" cryptsetup close "$name"
done
