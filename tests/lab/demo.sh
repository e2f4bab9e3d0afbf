#!/bin/bash
# make demo: a narrated walk through kmipcrypt's main job against a KMIP
# server it starts itself (PyKMIP on a free port, mutual TLS with a
# throw-away CA): bind a LUKS2 volume to a key on the server, unlock it with
# no passphrase, see its status, kill it remotely by revoking the key, and
# the KMS administration and TTLV tools along the way.  The volumes are image
# files in a temp dir; where this kernel has device-mapper the unlock is real,
# else it verifies the key against the header (check only).
# DEMO_VM=1 then tells the boot story in a real Debian 12 guest under QEMU
# (tests/integration/test-boot.sh, narrated, each step timed): the guest
# built from Debian's packages, the product's package installed in it, its
# LUKS2 root bound to the KMS, booted with the root unlocked from the KMS,
# data written and read back on the next boot, a data volume opened at boot,
# a disk plugged in and unlocked, keys revoked and their volumes locked by
# kmipcryptd, then the KMS down and a key revoked at boot (the passphrase
# prompt instead).
# Everything it starts is stopped at the end, by PID; nothing outside a temp
# dir changes.
set -u
cli=$(realpath "${1:-build/kmipcrypt}")
cd "$(dirname "$0")/../.." || exit 1
. tests/lab/lib.sh
lab_init

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '$ kmipcrypt %s\n' "$*" >&2; "$cli" -c "$conf" "$@"; }
sh_()  { printf '$ %s\n' "$*" >&2; "$@"; }
die()  { echo "demo: $*" >&2; exit 1; }

say "Starting a PyKMIP server (mutual TLS, TLS 1.2) on a free port"
port=$(lab_server_start demo) || die "PyKMIP did not start; see $(lab_server_log demo)"
conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$port" kmip_version=auto timeout_ms=5000
echo "server on 127.0.0.1:$port; kmipcrypt configuration:"
sed 's/^/    /' "$conf"

dm=no
dmsetup version >/dev/null 2>&1 && dm=yes
# A real mapping made here is closed again on every way out.
demo_cleanup() {
	[ $dm = yes ] && cryptsetup status demo-data >/dev/null 2>&1 &&
		{ dmsetup remove --force demo-data >/dev/null 2>&1 || cryptsetup close demo-data; }
	lab_cleanup
}
trap demo_cleanup EXIT

say "A LUKS2 volume (a 32 MiB image file) with an ordinary passphrase in keyslot 0"
# PBKDF2 at 2000 iterations: quick for a demo, and not taken for a keyslot
# kmipcrypt made (PBKDF2 at exactly 1000: unbind does not count those as a
# way into the volume).
img=$LAB_TMP/data.img
printf 'correct horse battery staple' >"$LAB_TMP/pass"
truncate -s 32M "$img"
sh_ cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 2000 \
	--batch-mode "$img" "$LAB_TMP/pass" || die "luksFormat failed"

say "Bind it to the KMS: a random 32-byte secret becomes Secret Data on the server and opens a new keyslot"
run enroll "$img" --key-file "$LAB_TMP/pass" --name demo-data --object-group demo-host ||
	die "enroll failed"
echo "The token in the LUKS2 header names the key; no secret is on the disk:"
cryptsetup --disable-external-tokens token export --token-id 0 "$img"; echo

say "Unlock with no passphrase: the key's State is checked (only Active unlocks), the secret fetched"
if [ $dm = yes ]; then
	run unlock "$img" demo-data || die "unlock failed"
	run status "$img"
else
	echo "(this kernel has no device-mapper: verifying against the header, creating no mapping)"
	run unlock "$img" --test || die "unlock failed"
	run status "$img"
fi

say "The envelope kind: the secret is sealed by an AES key that never leaves the server"
img2=$LAB_TMP/vault.img
truncate -s 32M "$img2"
cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 2000 \
	--batch-mode "$img2" "$LAB_TMP/pass" || die "luksFormat failed"
run enroll "$img2" --kind envelope --key-file "$LAB_TMP/pass" --name demo-vault \
	--object-group demo-host ||
	die "enroll failed"
run unlock "$img2" --test || die "unlock failed"

say "What the server holds for this host (Object Group demo-host)"
run key locate --object-group demo-host || die "key locate failed"
uid=$(cryptsetup --disable-external-tokens token export --token-id 0 "$img" |
	"$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin)["uid"])')
run key show "$uid" || die "key show failed"

say "Remote kill: the security team revokes the key on the KMS ..."
run key revoke "$uid" --reason compromise --message "host reported stolen" || die "key revoke failed"
if [ $dm = yes ]; then
	say "... the open volume is locked (what kmipcryptd will do by itself): I/O frozen, key wiped"
	run lock demo-data || die "lock failed"
	run status "$img"
	say "... and it does not unlock again (exit code 4: key not usable)"
	run unlock "$img" demo-data
	echo "exit code: $?"
	run lock demo-data --action close || die "lock --action close failed"
	sh_ cryptsetup close demo-data
else
	say "... and the volume no longer unlocks (exit code 4: key not usable)"
	run unlock "$img" --test
	echo "exit code: $?"
fi
run status "$img"
echo "(the ordinary passphrase in keyslot 0 still opens it: the KMS binding is one way in, not the only one)"

say "Unbind the envelope volume and destroy its key on the server"
euid=$(cryptsetup --disable-external-tokens token export --token-id 0 "$img2" |
	"$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin)["uid"])')
run unbind "$img2" --destroy-key || die "unbind failed"
run key show "$euid"
echo "exit code: $? (gone from the server)"

say "The KMS tools: a volume key fetched wrapped in transit (NIST AES key wrap by a KEK)"
vk=$(run key create --name demo-volume --object-group demo-host) || die "create failed"
kek_file=$LAB_TMP/kek.bin
(umask 077; head -c 32 /dev/urandom >"$kek_file")
kek=$(run key register --type aes --secret-file "$kek_file" --name demo-kek --activate) ||
	die "register failed"
run key get "$vk" --wrap-key "$kek" --kek-file "$kek_file" || die "key get failed"

say "Decode a KMIP message: what kmipcrypt sends for Get Attributes (State)"
printf '%s\n' 42007801000000804200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000003842005c05000000040000000b0000000042007901000000204200940700000001320000000000000042000a07000000055374617465000000 >"$LAB_TMP/msg.hex"
run ttlv dump "$LAB_TMP/msg.hex" || die "ttlv dump failed"

# narrate: the boot test's lines as a story: each step with the time it took.
narrate() {
	local line t0 last now
	t0=$(lab_now_ms) last=$t0
	while IFS= read -r line; do
		now=$(lab_now_ms)
		case $line in
		"ok vm: "*) printf '      guest: %s\n' "${line#ok vm: }" ;;
		"ok "*)
			printf '  [%4d s, step %5.1f s] %s\n' $(( (now - t0) / 1000 )) \
				"$(( (now - last) / 100 ))e-1" "${line#ok }"
			last=$now ;;
		"    |"*) ;;
		"    "*) printf '      %s\n' "${line#    }" ;;
		"vm: DONE"* | "vm: previous-boot"*) ;;
		FAIL* | "vm: "*) printf '%s\n' "$line" ;;
		esac
	done
}

if [ "${DEMO_VM:-0}" = 1 ]; then
	say "At boot: a real Debian 12 guest whose LUKS2 root is unlocked from the KMS (QEMU, about 8 minutes; the first run builds the guest from Debian's packages, a few minutes more)"
	KMIPCRYPT=$cli bash tests/integration/test-boot.sh 2>&1 | narrate
	[ "${PIPESTATUS[0]}" = 0 ] || die "the boot story in the guest failed (see above)"
elif [ $dm = no ]; then
	say "Real activation needs device-mapper, which this kernel lacks"
	echo "DEMO_VM=1 make demo boots a real Debian guest from a LUKS2 root unlocked from the KMS,"
	echo "with remote kill and hot-plug (about 8 minutes more)."
fi

say "Done: the server is stopped and the temp dir removed"
