#!/bin/bash
# kmipcryptd on real dm-crypt (issue 9), in the QEMU guest of tests/vm
# (TCG, Debian's kernel) against the real PyKMIP server on this host.
#
# On the host: three LUKS2 images enrolled with kmipcrypt (passphrase kind),
# an initramfs with busybox, kmipcrypt, kmipcryptd, cryptsetup, dmsetup, the
# client certificate and three configurations: the guest's default one
# (10.0.2.2:PORT), one for unlocking c (its token's group [flaky] is the same
# server) and the daemon's (poll_interval 1 s, offline_grace 3 s, [flaky] a
# port nobody listens on, [volume vb] action = close, user nobody).  One boot
# runs tests/vm/guest-daemon.sh: the daemon suspends va within
# poll_interval + 2 s of its key's revocation (the guest measures it), a
# write no longer completes, a new key resumes it and the data is intact;
# vb is closed (reads fail); vc is locked by offline_grace.  Afterwards the
# host checks that the keys the guest revoked are revoked on the server.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"
. "$(dirname "$0")/../vm/lib.sh"
trap 'vm_stop; lab_cleanup' EXIT

vm_require || fail "the VM test needs packages that are not installed: run 'make deps' (see above)"
build=$(cd "$(dirname "$KMIPCRYPT")" && pwd)
daemon=$build/kmipcryptd
[ -x "$daemon" ] || fail "no $daemon: build it first (make all)"
vm_kernel || fail "no guest kernel (see above)"
echo "ok guest kernel $VM_KVER"

luks_lab timeout_ms=5000
declare -A img uid
for name in a b c; do
	img[$name]=$(newimg "vmd-$name")
	expect_rc 0 "$name: enroll on the host" K enroll "${img[$name]}" --kind passphrase \
		--key-file "$pass" --name "vmd-$name"
	uid[$name]=$(uid_of "${img[$name]}")
done
token_edit "${img[c]}" 0 't["group"] = "flaky"'

w=$LAB_TMP/vm
mkdir -p "$w"
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
down_port=$(lab_refused_port)
guest_conf() {	# FILE SERVERS: a [default] group as the guest sees it
	lab_config "$1" "$2" ca=/etc/kmipcrypt/ca.crt cert=/etc/kmipcrypt/client.crt \
		key=/etc/kmipcrypt/client.key timeout_ms=3000
}
group() {	# NAME SERVERS: another group with the same credentials
	printf '\n[%s]\nservers = %s\nca = /etc/kmipcrypt/ca.crt\ncert = /etc/kmipcrypt/client.crt\nkey = /etc/kmipcrypt/client.key\ntimeout_ms = 2000\n' "$1" "$2"
}
guest_conf "$w/kmipcrypt.conf" "10.0.2.2:$port"
cp "$w/kmipcrypt.conf" "$w/unlock.conf"
group flaky "10.0.2.2:$port" >>"$w/unlock.conf"
cp "$w/kmipcrypt.conf" "$w/daemon.conf"
{
	group flaky "10.0.2.2:$down_port"
	printf '\n[daemon]\npoll_interval = 1\noffline_grace = 3s\nuser = nobody\n'
	printf '\n[volume vb]\naction = close\n'
} >>"$w/daemon.conf"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$w/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$w/group"

r=$w/root
vm_root_init "$r" &&
	vm_add_bin "$r" "$KMIPCRYPT" /usr/sbin/kmipcrypt &&
	vm_add_bin "$r" "$daemon" /usr/sbin/kmipcryptd &&
	vm_add_bin "$r" "$(command -v cryptsetup)" /usr/sbin/cryptsetup &&
	vm_add_bin "$r" "$(command -v dmsetup)" /usr/sbin/dmsetup &&
	vm_add_file "$r" "$w/kmipcrypt.conf" /etc/kmipcrypt/kmipcrypt.conf 600 &&
	vm_add_file "$r" "$w/unlock.conf" /etc/kmipcrypt/unlock.conf 600 &&
	vm_add_file "$r" "$w/daemon.conf" /etc/kmipcrypt/daemon.conf 600 &&
	vm_add_file "$r" "$LAB_CERTS/ca.crt" /etc/kmipcrypt/ca.crt 644 &&
	vm_add_file "$r" "$LAB_CERTS/client.crt" /etc/kmipcrypt/client.crt 644 &&
	vm_add_file "$r" "$LAB_CERTS/client.key" /etc/kmipcrypt/client.key 600 &&
	vm_add_file "$r" "$pass" /etc/vm/pass 600 &&
	vm_add_file "$r" "$w/passwd" /etc/passwd 644 &&
	vm_add_file "$r" "$w/group" /etc/group 644 &&
	vm_add_file "$r" "$VM_HOME/guest-daemon.sh" /etc/vm/test.sh 644 &&
	vm_setenv "$r" NONCE "$nonce" &&
	vm_setenv "$r" UID_A "${uid[a]}" &&
	vm_setenv "$r" UID_B "${uid[b]}" &&
	vm_cpio "$r" "$w/initrd.cpio" || fail "cannot build the initramfs"
echo "ok initramfs: $(( $(stat -c %s "$w/initrd.cpio") / 1048576 )) MiB"

vm_boot "$w" "$w/initrd.cpio" "a=${img[a]}" "b=${img[b]}" "c=${img[c]}"
qemu_pid=${VM_PID:-}
timed_out=
vm_wait "${VM_TIMEOUT:-180}" || timed_out="no end within ${VM_TIMEOUT:-180} s: "
vm_results || fail "${timed_out}the guest's checks failed (console above; LAB_KEEP=1 keeps $w)"
echo "ok the guest ran its checks and powered off (boot to power-off: ${VM_SECS:-?} s)"
if [ -n "$qemu_pid" ]; then
	expect_rc 1 "QEMU (pid $qemu_pid) is gone" kill -0 "$qemu_pid"
fi
expect_eq "$(lab_pyclient main get-state "${uid[a]}" | lab_json state)" "DEACTIVATED" \
	"a: the key the guest revoked is Deactivated on the server"
expect_eq "$(lab_pyclient main get-state "${uid[b]}" | lab_json state)" "COMPROMISED" \
	"b: ... and b's Compromised"
expect_eq "$(lab_pyclient main get-state "${uid[c]}" | lab_json state)" "ACTIVE" \
	"c: c's key was never touched (locked for the unreachable group alone)"
pass
