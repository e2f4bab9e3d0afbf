#!/bin/bash
# Online reencryption on real dm-crypt (issue 11), in a QEMU guest (TCG)
# booting Debian's own kernel, against the real PyKMIP server on this host
# (tests/vm/README.md): two LUKS2 images enrolled here (pp: passphrase, vk:
# volume-key), unlocked in the guest, re-encrypted by `kmipcrypt reencrypt`
# through their open mappings while a writer and a reader run on each
# (tests/vm/guest-reencrypt.sh: no read differs, the key changes, the whole
# mapping reads the same before and after, and after a new unlock).  Back
# here: the header has no reencryption left, the volume key is new, the
# data segment decrypts with it (tests/integration/luks-data.py, AES-XTS)
# to exactly what the guest read through dm-crypt, the vk token names a new
# object and the old one is Deactivated (PyKMIP's own client), the pp token
# still its key; both unlock from the KMS here (check only).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"
. "$(dirname "$0")/../vm/lib.sh"
trap 'vm_stop; lab_cleanup' EXIT

t_start=$(lab_now_ms)
vm_require || fail "the VM test needs packages that are not installed: run 'make deps' (see above)"
vm_kernel || fail "no guest kernel (see above)"
echo "ok guest kernel $VM_KVER (cached in $(dirname "$VM_VMLINUZ"))"
luks_lab timeout_ms=5000
D="$LAB_PY $(cd "$(dirname "$0")" && pwd)/luks-data.py"

declare -A img uid vk0
for v in pp:passphrase vk:volume-key; do
	name=${v%%:*} kind=${v#*:}
	img[$name]=$(newimg "vmre-$name")
	expect_rc 0 "$name: enroll --kind $kind on the host" \
		K enroll "${img[$name]}" --kind "$kind" --key-file "$pass" --name "vmre-$name"
	uid[$name]=$(uid_of "${img[$name]}")
	vk0[$name]=$(CS luksDump --dump-volume-key -q --key-file "$pass" "${img[$name]}" | tr -d ' \t\n')
done

w=$LAB_TMP/vm
mkdir -p "$w"
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
lab_config "$w/kmipcrypt.conf" "10.0.2.2:$port" ca=/etc/kmipcrypt/ca.crt cert=/etc/kmipcrypt/client.crt \
	key=/etc/kmipcrypt/client.key timeout_ms=10000
r=$w/root
vm_root_init "$r" &&
	vm_add_bin "$r" "$KMIPCRYPT" /usr/sbin/kmipcrypt &&
	vm_add_bin "$r" "$(command -v cryptsetup)" /usr/sbin/cryptsetup &&
	vm_add_bin "$r" "$(command -v dmsetup)" /usr/sbin/dmsetup &&
	vm_add_file "$r" "$w/kmipcrypt.conf" /etc/kmipcrypt/kmipcrypt.conf 600 &&
	vm_add_file "$r" "$pass" /etc/kmipcrypt/pass 600 &&
	vm_add_file "$r" "$LAB_CERTS/ca.crt" /etc/kmipcrypt/ca.crt 644 &&
	vm_add_file "$r" "$LAB_CERTS/client.crt" /etc/kmipcrypt/client.crt 644 &&
	vm_add_file "$r" "$LAB_CERTS/client.key" /etc/kmipcrypt/client.key 600 &&
	vm_add_file "$r" "$VM_HOME/guest-reencrypt.sh" /etc/vm/test.sh 644 &&
	vm_setenv "$r" NONCE "$nonce" &&
	vm_cpio "$r" "$w/initrd.cpio" || fail "cannot build the initramfs"

vm_boot "$w" "$w/initrd.cpio" "pp=${img[pp]}" "vk=${img[vk]}"
timed_out=
vm_wait "${VM_TIMEOUT:-300}" || timed_out="no end within ${VM_TIMEOUT:-300} s: "
vm_results || fail "${timed_out}the guest's checks failed (console above; LAB_KEEP=1 keeps $w)"
echo "ok the guest re-encrypted both volumes online with I/O running (boot to power-off: ${VM_SECS:-?} s)"

# ------------------------------------------------ the images, back on the host
for name in pp vk; do
	i=${img[$name]}
	expect_nogrep "reencrypt|online-reencrypt" "$name: no reencryption left in the header" CS luksDump "$i"
	CS luksDump --dump-volume-key -q --key-file "$pass" "$i" >"$w/vk.$name" 2>/dev/null ||
		fail "$name: cannot dump the volume key with the kept passphrase keyslot"
	[ "$(tr -d ' \t\n' <"$w/vk.$name")" != "${vk0[$name]}" ] || fail "$name: the volume key did not change"
	echo "ok $name: a new volume key (the kept passphrase keyslot opens it)"
	want=$(tr -d '\r' <"$w/serial.log" | sed -n "s/^KMIPVM | sum $name //p")
	[ -n "$want" ] || fail "$name: the guest said no sum"
	expect_eq "$($D sum "$i" "$w/vk.$name")" "$want" \
		"$name: the data segment decrypts with the new key to what the guest read through dm-crypt"
	expect_rc 0 "$name: unlocks from the KMS here (check only)" K unlock "$i" --test
done
expect_eq "$(uid_of "${img[pp]}")" "${uid[pp]}" "pp: its token still names its key (the same secret, a new keyslot)"
new=$(uid_of "${img[vk]}")
[ -n "$new" ] && [ "$new" != "${uid[vk]}" ] || fail "vk: the token names '$new', want a new object"
echo "ok vk: the token names a new object '$new' (the new volume key)"
expect_eq "$(lab_pyclient main get-state "${uid[vk]}" | lab_json state)" "DEACTIVATED" \
	"vk: the old object '${uid[vk]}' is Deactivated (PyKMIP's own client)"
expect_eq "$(lab_pyclient main get-state "$new" | lab_json state)" "ACTIVE" "vk: the new object is Active"
echo "ok timings: whole test $(( ($(lab_now_ms) - t_start) / 1000 )) s"
pass
