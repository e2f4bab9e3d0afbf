#!/bin/bash
# make demo: a narrated walk through kmipcrypt against a KMIP server it starts
# itself (PyKMIP on a free port, mutual TLS with a throw-away CA).  Everything
# it starts is stopped at the end, by PID; nothing outside a temp dir changes.
set -u
cli=$(realpath "${1:-build/kmipcrypt}")
cd "$(dirname "$0")/.." || exit 1
. tests/lab/lib.sh
lab_init

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '$ kmipcrypt %s\n' "$*" >&2; "$cli" -c "$conf" "$@"; }
die()  { echo "demo: $*" >&2; exit 1; }

say "Starting a PyKMIP server (mutual TLS, TLS 1.2) on a free port"
port=$(lab_server_start demo) || die "PyKMIP did not start; see $(lab_server_log demo)"
conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$port" kmip_version=auto timeout_ms=5000
echo "server on 127.0.0.1:$port; kmipcrypt configuration:"
sed 's/^/    /' "$conf"

say "Create a volume key (AES-256) and a key-encryption key, both Active"
vk=$(run key create --name demo-volume --object-group demo-host) || die "create failed"
kek_file=$LAB_TMP/kek.bin
head -c 32 /dev/urandom >"$kek_file"
echo "(the host keeps a copy of the KEK; it is registered on the server too)"
kek=$(run key register --type aes --secret-file "$kek_file" --name demo-kek --activate) ||
	die "register failed"
echo "volume key: $vk, key-encryption key: $kek"

say "Register a keyslot secret as the storage-array/SED profile does (Secret Data, Password)"
sd=$(run key register --type secret --generate 32 --name demo-slot --object-group demo-host --activate) ||
	die "register failed"
echo "secret: $sd"

say "List what the server holds, and find the host's objects by Object Group"
run key list
run key locate --object-group demo-host

say "Show one key's attributes"
run key show "$vk"

say "Get the volume key wrapped in transit (NIST AES key wrap by the KEK)"
run key get "$vk" --wrap-key "$kek"
say "... and unwrapped here with the host's copy of the KEK (fingerprint only)"
run key get "$vk" --wrap-key "$kek" --kek-file "$kek_file"

say "Remote kill: revoke the volume key as compromised"
run key revoke "$vk" --reason compromise --message "host reported stolen"
run key show "$vk" | grep -E "State|Name"

say "Destroy it; afterwards the server no longer knows it (exit code 4)"
run key destroy "$vk"
run key show "$vk"
echo "exit code: $?"

say "Decode a KMIP message: what kmipcrypt sends for Get Attributes (State)"
printf '%s\n' 42007801000000804200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000000042000d0200000004000000010000000042000f010000003842005c05000000040000000b0000000042007901000000204200940700000001320000000000000042000a07000000055374617465000000 >"$LAB_TMP/msg.hex"
run ttlv dump "$LAB_TMP/msg.hex"

say "Done: the server is stopped and the temp dir removed"
