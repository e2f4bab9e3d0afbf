#!/bin/bash
# Real dm-crypt, in a QEMU guest (TCG) booting Debian's own kernel, against
# the real PyKMIP server on this host (tests/vm/README.md).  This machine's
# kernel has no device-mapper; the guest's has.
#
# On the host: five LUKS2 images (PBKDF2-1000) enrolled with kmipcrypt against
# PyKMIP (pp: passphrase, env: envelope, vk: volume-key with the default
# 512-bit xts key, tab: passphrase, rev: passphrase whose key PyKMIP's own
# client then revokes), an initramfs with busybox, kmipcrypt, cryptsetup,
# dmsetup, the token plugin in libcryptsetup's plugin directory, the client
# certificate and a kmipcrypt.conf naming 10.0.2.2:PORT (the host's loopback
# as QEMU's user network shows it; the lab's server certificate has SAN
# IP:10.0.2.2).  One boot runs tests/vm/guest-luks.sh: unlock --all with a
# crypttab (discard,readonly), unlock of each kind with data through the
# mapping, status, lock (suspend, close), the plugin through cryptsetup's
# loader, the revoked key (exit 4), a closed port (exit 2).  Afterwards the
# host checks the images: no plaintext, and the data area decrypts (AES-XTS,
# with the volume key cryptsetup dumps here) to what the guest wrote.
#
# The kernel package is downloaded once into build/vm-cache/.  QEMU is killed
# by its PID on every exit path.  VM_TIMEOUT (s, default 150) bounds the boot;
# VM_SHELL=1 gives an interactive shell in the guest after its checks;
# LAB_KEEP=1 keeps the work dir ($LAB_TMP/vm: initrd, images, serial.log, boot.sh).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"
. "$(dirname "$0")/../vm/lib.sh"
trap 'vm_stop; lab_cleanup' EXIT

t_start=$(lab_now_ms)
vm_require || fail "the VM test needs packages that are not installed: run 'make deps' (see above)"
build=$(cd "$(dirname "$KMIPCRYPT")" && pwd)
plugin=$build/libcryptsetup-token-kmip.so
[ -f "$plugin" ] || fail "no $plugin: build it first (make all)"
plugin_dir=$(cryptsetup --help | sed -n 's/^LUKS2 external token plugin path: \(.*\)\.$/\1/p')
[ -n "$plugin_dir" ] || fail "this cryptsetup has no external token plugin support"

# The guest reaches the host's PyKMIP as 10.0.2.2: the server certificate must say so.
expect_grep "IP Address:10.0.2.2(,|$)" "the lab's server certificate has SAN IP:10.0.2.2" \
	openssl x509 -in "$LAB_CERTS/server.crt" -noout -ext subjectAltName

vm_kernel || fail "no guest kernel (see above)"
echo "ok guest kernel $VM_KVER (cached in $(dirname "$VM_VMLINUZ"))"
t_kernel=$(lab_now_ms)

luks_lab timeout_ms=5000

# ------------------------------------------------ images, enrolled on the host
declare -A img uid
for v in pp:passphrase env:envelope vk:volume-key tab:passphrase rev:passphrase; do
	name=${v%%:*} kind=${v#*:}
	img[$name]=$(newimg "vm-$name")
	expect_rc 0 "$name: enroll --kind $kind on the host" \
		K enroll "${img[$name]}" --kind "$kind" --key-file "$pass" --name "vm-$name"
	uid[$name]=$(token_json "${img[$name]}" | json_field uid)
	[ -n "${uid[$name]}" ] || fail "$name: no uid in the token"
done
expect_eq "$(CS luksDump "${img[vk]}" | sed -n 's/^.*Key: *\([0-9]*\) bits$/\1/p' | head -n 1)" "512" \
	"vk: a 512-bit (xts) volume key"
lab_pyclient main revoke "${uid[rev]}" --reason cessation >/dev/null || fail "pyclient revoke"
expect_eq "$(lab_pyclient main get-state "${uid[rev]}" | lab_json state)" "DEACTIVATED" \
	"rev: revoked by PyKMIP's own client before the boot"
# data_offset IMG: the byte offset of the data segment
data_offset() { CS luksDump "$1" | awk '/^Data segments:/ { d = 1 } d && $1 == "offset:" { print $2; exit }'; }
# data_sum IMG: sha256 of the first 64 KiB of the data segment
data_sum() { dd if="$1" bs=4096 iflag=skip_bytes skip="$(data_offset "$1")" count=16 2>/dev/null | sha256sum; }
tab_before=$(data_sum "${img[tab]}")

# ------------------------------------------------ the guest's initramfs
w=$LAB_TMP/vm
mkdir -p "$w"
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
down_port=$(lab_refused_port)
guest_conf() {
	lab_config "$1" "$2" ca=/etc/kmipcrypt/ca.crt cert=/etc/kmipcrypt/client.crt \
		key=/etc/kmipcrypt/client.key timeout_ms="$3"
}
guest_conf "$w/kmipcrypt.conf" "10.0.2.2:$port" 10000
guest_conf "$w/down.conf" "10.0.2.2:$down_port" 3000
t0=$(lab_now_ms)
r=$w/root
vm_root_init "$r" &&
	vm_add_bin "$r" "$KMIPCRYPT" /usr/sbin/kmipcrypt &&
	vm_add_bin "$r" "$plugin" "$plugin_dir/libcryptsetup-token-kmip.so" &&
	vm_add_bin "$r" "$(command -v cryptsetup)" /usr/sbin/cryptsetup &&
	vm_add_bin "$r" "$(command -v dmsetup)" /usr/sbin/dmsetup &&
	vm_add_file "$r" "$w/kmipcrypt.conf" /etc/kmipcrypt/kmipcrypt.conf 600 &&
	vm_add_file "$r" "$w/down.conf" /etc/kmipcrypt/down.conf 600 &&
	vm_add_file "$r" "$LAB_CERTS/ca.crt" /etc/kmipcrypt/ca.crt 644 &&
	vm_add_file "$r" "$LAB_CERTS/client.crt" /etc/kmipcrypt/client.crt 644 &&
	vm_add_file "$r" "$LAB_CERTS/client.key" /etc/kmipcrypt/client.key 600 &&
	vm_add_file "$r" "$VM_HOME/guest-luks.sh" /etc/vm/test.sh 644 &&
	vm_setenv "$r" NONCE "$nonce" &&
	vm_setenv "$r" DOWN_TIMEOUT_S 10 &&
	vm_cpio "$r" "$w/initrd.cpio" || fail "cannot build the initramfs"
echo "ok initramfs: $(( $(stat -c %s "$w/initrd.cpio") / 1048576 )) MiB, $(( $(lab_now_ms) - t0 )) ms"

# ------------------------------------------------ boot
disks=()
for name in pp env vk tab rev; do disks+=("$name=${img[$name]}"); done
vm_boot "$w" "$w/initrd.cpio" "${disks[@]}"
qemu_pid=${VM_PID:-}
timed_out=
vm_wait "${VM_TIMEOUT:-150}" || timed_out="no end within ${VM_TIMEOUT:-150} s: "
vm_results || fail "${timed_out}the guest's checks failed (console above; LAB_KEEP=1 keeps $w)"
echo "ok the guest ran its checks and powered off (boot to power-off: ${VM_SECS:-?} s)"
if [ -n "$qemu_pid" ]; then
	expect_rc 1 "QEMU (pid $qemu_pid) is gone" kill -0 "$qemu_pid"
fi

# ------------------------------------------------ the images, back on the host
# What the guest wrote at the start of each mapping: its pattern, 64 KiB.
xts_decrypt() {	# IMG KEYHEX BYTES: the data segment's first BYTES, decrypted (AES-XTS, plain64)
	"$LAB_PY" -c '
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
img, key, off, n, ss = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(img, "rb") as f:
    f.seek(off)
    data = f.read(n)
out = b""
for i in range(0, n, ss):
    iv = (i // 512).to_bytes(16, "little")   # plain64: the 512-byte sector number
    d = Cipher(algorithms.AES(key), modes.XTS(iv)).decryptor()
    out += d.update(data[i:i + ss]) + d.finalize()
sys.stdout.buffer.write(out)' "$1" "$2" "$(data_offset "$1")" "$3" \
		"$(CS luksDump "$1" | awk '/^Data segments:/ { d = 1 } d && $1 == "sector:" { print $2; exit }')"
}
for name in pp env vk; do
	i=${img[$name]} pat="kmipvm-$name-$nonce"
	expect_eq "$(grep -c -a -F "$pat" "$i")" "0" "$name: the image holds no plaintext of what the guest wrote"
	vk=$(CS luksDump --dump-volume-key -q --key-file "$pass" "$i" |
		sed -n '/MK dump:/,$p' | sed 's/MK dump://' | tr -d ' \t\n')
	[ ${#vk} = 128 ] || fail "$name: cannot dump the volume key on the host"
	expect_eq "$(xts_decrypt "$i" "$vk" 8192 | sha256sum)" "$(yes "$pat" | head -c 8192 | sha256sum)" \
		"$name: its data area decrypts with the LUKS volume key to the guest's pattern (dm-crypt wrote it)"
done
expect_eq "$(data_sum "${img[tab]}")" "$tab_before" "tab: the read-only mapping wrote nothing"
expect_eq "$(K status "${img[rev]}" >/dev/null 2>&1; echo $?)" "4" "rev: still refused on the host (exit 4)"
echo "ok timings: kernel ready $(( (t_kernel - t_start) / 1000 )) s, whole test $(( ($(lab_now_ms) - t_start) / 1000 )) s"
pass
