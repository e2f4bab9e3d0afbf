# shellcheck shell=sh
# The guest half of tests/integration/test-vm-luks.sh, sourced by the guest's
# /init (tests/vm/init.sh: ok/bad/check/check_rc/out_has, disk) as
# /etc/vm/test.sh.  Real dm-crypt activation with kmipcrypt against the host's
# PyKMIP (10.0.2.2), one boot:
#   b  unlock --all: /etc/crypttab's one auto line (discard,readonly) opens as
#      its NAME, the noauto lines and libblkid's other finds are left alone
#   a  unlock DEVICE NAME for each kind; data written through the mapping
#      reads back, the raw disk holds no plaintext (the host decrypts it)
#   c  status DEVICE shows the mapping open
#   d  lock NAME (suspend: suspended, key wiped), then --action close (error
#      table: reads fail, the mapping stays)
#   e  the token plugin through cryptsetup's loader (passphrase, envelope)
#   f  a key revoked on the host before boot: exit 4, no mapping
#   g  a closed port on the host: exit 2 within --timeout
#   h  unlock --all activates three volumes at once (child processes, --jobs
#      2), as --jobs 1 does one by one: the same mappings, the data intact
# Variables from the host (/etc/vm/env): NONCE, DOWN_TIMEOUT_S.
K() { kmipcrypt "$@"; }
pattern() { echo "kmipvm-$1-$NONCE"; }
n_mappings() { ls /sys/block 2>/dev/null | grep -c '^dm-'; }
# readback NAME FILE: the first 64 KiB of /dev/mapper/NAME (O_DIRECT) equal FILE
readback() {
	dd if="/dev/mapper/$1" of=/tmp/back bs=4096 count=16 iflag=direct 2>/dev/null && cmp -s /tmp/back "$2"
}

PP=$(disk pp) && ENV=$(disk env) && VK=$(disk vk) && TAB=$(disk tab) && REV=$(disk rev) ||
	bad "the five test disks (serials pp env vk tab rev) are not all there"
say "| disks: pp=$PP env=$ENV vk=$VK tab=$TAB rev=$REV"

# ------------------------------------------------ b: crypttab and unlock --all
cat >/etc/crypttab <<EOF
# name  device  keyfile  options
tab $TAB none discard,readonly,same-cpu-crypt,submit-from-crypt-cpus,no-read-workqueue,no-write-workqueue,nofail
pp $PP none noauto
env $ENV none noauto
vk $VK none noauto
rev $REV none noauto
EOF
check_rc 0 "b: unlock --all (crypttab: one auto line, four noauto; libblkid scan)" K unlock --all
out_has "^$TAB: unlocked as tab\$" "b: ... its line says unlocked as tab"
check "b: /dev/mapper/tab exists (crypttab's NAME)" test -b /dev/mapper/tab
check "b: ... and it is the only mapping (noauto volumes left alone)" test "$(n_mappings)" = 1
check_rc 0 "b: dmsetup table tab" dmsetup table tab
out_has " crypt .*allow_discards" "b: crypttab's discard: the crypt target has allow_discards"
for f in same_cpu_crypt submit_from_crypt_cpus no_read_workqueue no_write_workqueue; do
	out_has " crypt .*$f" "b: crypttab's ${f//_/-}: the crypt target has $f"
done
check_rc 0 "b: cryptsetup status tab" cryptsetup status tab
out_has "mode: +read-?only" "b: crypttab's readonly: cryptsetup status says read-only"
out_has "flags: +discards" "b: ... and flags: discards"
s=$(dm_sys tab) && check "b: /sys/block/${s##*/}/ro is 1" test "$(cat "$s/ro")" = 1
check_rc '!0' "b: a write to the read-only mapping fails" \
	dd if=/dev/zero of=/dev/mapper/tab bs=4096 count=1 conv=fsync
check_rc 0 "b: unlock --all again: already open, nothing to do" K unlock --all
out_has "^$TAB: already unlocked as tab\$" "b: ... says tab is already unlocked"
check "b: ... still one mapping" test "$(n_mappings)" = 1
check_rc 5 "b: unlock $ENV tab (the name is another volume's mapping): exit 5" K unlock "$ENV" tab
out_has "exists already|in use" "b: ... says the name is taken"
check "b: ... still one mapping" test "$(n_mappings)" = 1

# ------------------------------------------------ a: unlock DEVICE NAME, data through dm-crypt
for v in pp:$PP:passphrase env:$ENV:envelope vk:$VK:volume-key; do
	name=${v%%:*} dev=${v#*:} kind=${v##*:}
	dev=${dev%:*}
	check_rc 0 "a: $kind: kmipcrypt unlock $dev $name" K -v unlock "$dev" "$name" || continue
	out_has "unlocked with token 0" "a: $kind: ... says unlocked"
	check "a: $kind: ... and no stray libcryptsetup line (\"is not active\")" \
		sh -c "! grep -q 'is not active' /tmp/out"
	check "a: $kind: /dev/mapper/$name is a block device" test -b "/dev/mapper/$name"
	check_rc 0 "a: $kind: dmsetup table $name: a crypt target on $dev" dmsetup table "$name"
	out_has "^0 [0-9]+ crypt aes-xts-plain64 " "a: $kind: ... aes-xts-plain64"
	yes "$(pattern "$name")" | head -c 65536 >"/tmp/pat.$name"
	check_rc 0 "a: $kind: write 64 KiB of a pattern through the mapping" \
		dd if="/tmp/pat.$name" of="/dev/mapper/$name" bs=4096 conv=fsync
	check "a: $kind: it reads back through the mapping (O_DIRECT)" readback "$name" "/tmp/pat.$name"
	if grep -qF "$(pattern "$name")" "$dev"; then
		bad "a: $kind: the raw disk $dev holds the plaintext pattern"
	else
		ok "a: $kind: the raw disk $dev does not hold the pattern (encrypted)"
	fi
done
check "a: four mappings open now (tab pp env vk)" test "$(n_mappings)" = 4

# ------------------------------------------------ c: status
for v in pp:$PP env:$ENV vk:$VK tab:$TAB; do
	check_rc 0 "c: kmipcrypt status ${v#*:}" K status "${v#*:}"
	out_has "mapping: open as ${v%%:*}\$" "c: ... mapping: open as ${v%%:*}"
	out_has "state Active" "c: ... key Active"
done
check_rc 4 "c: kmipcrypt status $REV (key revoked): exit 4" K status "$REV"
out_has "mapping: not open" "c: ... mapping: not open"

# ------------------------------------------------ d: lock (suspend, then close)
key_before=$(table_key vk)
check "d: before lock: vk's table has a key (${key_before%%:cryptsetup*}...)" \
	sh -c "[ -n '$key_before' ] && ! echo '$key_before' | grep -qE '^(0+|-)\$'"
check_rc 0 "d: kmipcrypt lock vk (suspend)" K -v lock vk
s=$(dm_sys vk)
check "d: /sys/block/${s##*/}/dm/suspended is 1" test "$(cat "$s/dm/suspended")" = 1
check_rc 0 "d: dmsetup info vk" dmsetup info vk
out_has "State: +SUSPENDED" "d: ... State: SUSPENDED"
key_after=$(table_key vk)
say "| table key after suspend: $(echo "$key_after" | cut -c1-24)..."
check "d: the key is wiped: dmsetup table --showkeys shows zeros or none" \
	sh -c "echo '$key_after' | grep -qE '^(0+|-)?\$'"
check_rc 0 "d: cryptsetup status vk" cryptsetup status vk
out_has "suspended" "d: ... cryptsetup status says suspended"
check_rc 0 "d: kmipcrypt status $VK while suspended" K status "$VK"
out_has "mapping: open as vk, SUSPENDED" "d: ... says SUSPENDED"
check_rc 0 "d: kmipcrypt unlock $VK vk resumes it (key still Active)" K -v unlock "$VK" vk
out_has "resumed with token 0" "d: ... says resumed"
out_has "^$VK: resumed vk \\(it was locked\\)\$" "d: ... and its result line says so"
check "d: ... dm/suspended is 0 again" test "$(cat "$s/dm/suspended")" = 0
check "d: ... and the data reads back" readback vk /tmp/pat.vk
check_rc 0 "d: kmipcrypt lock pp (suspend, passphrase kind)" K lock pp
check_rc 0 "d: kmipcrypt unlock $PP pp resumes it by passphrase" K -v unlock "$PP" pp
out_has "resumed with token 0" "d: ... says resumed"
check "d: ... and the data reads back" readback pp /tmp/pat.pp
check_rc 0 "d: kmipcrypt lock vk (suspend again, before close)" K lock vk
check_rc 0 "d: kmipcrypt lock vk --action close" K -v lock vk --action close
out_has "error target" "d: ... says the table is replaced by an error target"
check_rc 0 "d: dmsetup table vk" dmsetup table vk
out_has "^0 [0-9]+ error" "d: ... the table is an error target"
check "d: /sys/block/${s##*/}/dm/suspended is 0 (resumed on the error table)" \
	test "$(cat "$s/dm/suspended")" = 0
check_rc '!0' "d: a read of /dev/mapper/vk fails" \
	timeout 20 dd if=/dev/mapper/vk of=/dev/null bs=4096 count=1 iflag=direct
out_has "I/O error|Input/output error" "d: ... with an I/O error"
check "d: the mapping vk still exists" test -b /dev/mapper/vk -a -n "$(dm_sys vk)"
check_rc 0 "d: kmipcrypt status $VK after close (key still Active: exit 0)" K status "$VK"
out_has "mapping: open as vk, CLOSED" "d: ... says CLOSED"
check_rc 5 "d: kmipcrypt unlock $VK vk after close: refused (the name is an error target)" K unlock "$VK" vk
check_rc 5 "d: kmipcrypt lock nosuch: exit 5" K lock nosuch
out_has "no such open mapping" "d: ... says there is no such mapping"
check_rc 0 "d: cryptsetup close vk (after close, as lock --help says)" cryptsetup close vk

# ------------------------------------------------ e: the token plugin (cryptsetup's loader)
for v in pp:$PP:passphrase env:$ENV:envelope; do
	name=${v%%:*} dev=${v#*:} kind=${v##*:}
	dev=${dev%:*}
	check_rc 0 "e: $kind: cryptsetup close $name" cryptsetup close "$name"
	check_rc 0 "e: $kind: cryptsetup open --token-only $dev ${name}2 (plugin)" \
		cryptsetup open --token-only "$dev" "${name}2"
	check "e: $kind: /dev/mapper/${name}2 exists" test -b "/dev/mapper/${name}2"
	check "e: $kind: it reads the pattern written through kmipcrypt's mapping" \
		readback "${name}2" "/tmp/pat.$name"
done
check_rc 1 "e: volume-key: the plugin declines (cryptsetup exit 1), no mapping" \
	cryptsetup open --token-only "$VK" vk2
check "e: ... /dev/mapper/vk2 does not exist" test ! -e /dev/mapper/vk2

# ------------------------------------------------ f: remote kill (revoked before boot)
check_rc 4 "f: kmipcrypt unlock $REV rev (key revoked on the host): exit 4" K unlock "$REV" rev
out_has "Deactivated|revoked" "f: ... says the key is revoked"
check "f: ... no mapping rev" test ! -e /dev/mapper/rev
check_rc '!0' "f: cryptsetup open --token-only $REV rev (plugin): refused" \
	cryptsetup open --token-only "$REV" rev
check "f: ... no mapping rev" test ! -e /dev/mapper/rev

# ------------------------------------------------ g: a stopped server
t0=$(uptime_cs)
check_rc 2 "g: unlock with the server's port closed: exit 2" \
	K -c /etc/kmipcrypt/down.conf unlock "$REV" down --timeout "${DOWN_TIMEOUT_S}s"
t1=$(uptime_cs)
say "| took $(( (t1 - t0) * 10 )) ms"
check "g: ... within --timeout ${DOWN_TIMEOUT_S}s" test $((t1 - t0)) -le $((DOWN_TIMEOUT_S * 100))
check "g: ... no mapping down" test ! -e /dev/mapper/down

# ------------------------------------------------ h: unlock --all, activations at once
for m in pp2 env2; do
	check_rc 0 "h: cryptsetup close $m" cryptsetup close "$m"
done
cat >/etc/crypttab <<EOF
tab $TAB none discard,readonly
pp $PP none
env $ENV none
vk $VK none
rev $REV none
EOF
# result_lines: the result lines of the last run, sorted
result_lines() { grep -E ': (unlocked|already|FAILED)' /tmp/out | sort; }
for jobs in 2 1; do
	check_rc 4 "h: --jobs $jobs: unlock --all (three to open, one open, one revoked): exit 4" \
		K -vv unlock --all --jobs "$jobs"
	if [ "$jobs" = 2 ]; then
		out_has "activating 3 volumes, 2 at a time \(in child processes\)" \
			"h: --jobs 2: ... activated in child processes, two at a time"
		out_has ": token 0 proven in process [0-9]+" "h: --jobs 2: ... proven in a child"
		result_lines >/tmp/results.2
	else
		check "h: --jobs 1: ... no child process" sh -c "! grep -qE 'in child processes|in process [0-9]' /tmp/out"
		result_lines >/tmp/results.1
		check "h: --jobs 1: the same result lines as --jobs 2" cmp -s /tmp/results.1 /tmp/results.2
	fi
	for v in pp:$PP env:$ENV vk:$VK; do
		out_has "^${v#*:}: unlocked as ${v%%:*}\$" "h: --jobs $jobs: ${v#*:} unlocked as ${v%%:*}"
		check "h: --jobs $jobs: the data written in a reads back through ${v%%:*}" \
			readback "${v%%:*}" "/tmp/pat.${v%%:*}"
	done
	out_has "^$TAB: already unlocked as tab\$" "h: --jobs $jobs: tab already open"
	out_has "^$REV: FAILED \(exit 4" "h: --jobs $jobs: the revoked one refused"
	check "h: --jobs $jobs: four mappings (tab pp env vk)" test "$(n_mappings)" = 4
	for m in pp env vk; do
		cryptsetup close "$m" || bad "h: cryptsetup close $m"
	done
done
