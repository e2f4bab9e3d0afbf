#!/bin/bash
# unlock --all checks and activates volumes at once, each in a child process
# of its own (issue 8: "activations in parallel where it helps"), and that
# changes nothing of what unlock decides:
#  - six volumes of the three kinds: --jobs 3 proves each in a child (six
#    process ids), --jobs 1 in this process; both verify the same six, each
#    with one connection and one request;
#  - a volume whose first token names another volume's key: its child's proof
#    fails, the parent goes on to its second token, which unlocks;
#  - a revoked key among them: refused with its reason, the others verified;
#  - a keyslot with a memory-hard PBKDF (Argon2id): proven by the parent alone;
#  - no device-mapper here: a real unlock --all fails each volume with exit 5
#    from its child, as it does in turn;
#  - --kind: only the volumes with a token of that kind, the others skipped;
#  - --jobs out of range, or without --all: a usage error.
# Real activation at once is in the QEMU guest (tests/vm/guest-luks.sh, h).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab
log=$(lab_server_log main)
mark() { wc -l <"$log"; }
reqs_since() { tail -n +"$(( $1 + 1 ))" "$log" | grep -c "Received request at time"; }
conns_since() { tail -n +"$(( $1 + 1 ))" "$log" | grep -c "Receiving incoming connection"; }
# results: the result lines of the last run, sorted
results() { grep -E ': (verified|FAILED|unlocked)' "$LAB_TMP/out" | sort; }
# not_out RE WHAT: the output of the last run does not match RE
not_out() {
	cp "$LAB_TMP/out" "$LAB_TMP/last"
	expect_nogrep "$1" "$2" cat "$LAB_TMP/last"
}

: >"$LAB_TMP/list"
for k in passphrase:1 passphrase:2 envelope:3 envelope:4 volume-key:5 volume-key:6; do
	kind=${k%%:*}
	bound_format=
	[ "$kind" = volume-key ] && bound_format="--key-size 256"	# 256-bit volume keys, as test-luks-kinds
	v=$(bound "par${k##*:}" --kind "$kind") && [ -n "$v" ] || fail "a $kind volume"
	echo "$v" >>"$LAB_TMP/list"
done

m=$(mark)
expect_rc 0 "six volumes, --jobs 3" K -vv unlock --all --test --jobs 3 --from "$LAB_TMP/list"
expect_out "checking 6 volumes, 3 at a time \(in child processes\)" "... says 3 at a time"
pids=$(sed -n 's/.*: token 0 proven in process \([0-9]*\)$/\1/p' "$LAB_TMP/out" | sort -u | wc -l)
expect_eq "$pids" "6" "... each volume proven in a child of its own (six process ids)"
expect_eq "$(grep -c ': verified (check only' "$LAB_TMP/out")" "6" "... six verified"
expect_eq "$(conns_since "$m") $(reqs_since "$m")" "1 1" "... over one connection, in one request"
results >"$LAB_TMP/at-once"

m=$(mark)
expect_rc 0 "six volumes, --jobs 1" K -vv unlock --all --test --jobs 1 --from "$LAB_TMP/list"
not_out "in child processes|in process [0-9]" "... no child process"
expect_eq "$(results)" "$(cat "$LAB_TMP/at-once")" "... the same results as at once"
expect_eq "$(conns_since "$m") $(reqs_since "$m")" "1 1" "... over one connection, in one request"

ncpu=$(nproc)
expect_rc 0 "six volumes, default --jobs" K -vv unlock --all --test --from "$LAB_TMP/list"
if [ "$ncpu" -ge 2 ]; then
	w=$(( ncpu < 6 ? ncpu : 6 ))
	expect_out "checking 6 volumes, $w at a time" "... one per CPU ($ncpu CPUs: $w at a time)"
else
	not_out "in child processes" "... one CPU: no child process"
fi

# A first token that names another volume's key: the child fails, the parent tries token 1.
v2=$(sed -n 2p "$LAB_TMP/list")
K enroll "$v2" --key-file "$pass" --name par-second >/dev/null 2>&1 || fail "second enroll of $v2"
other=$(uid_of "$(sed -n 1p "$LAB_TMP/list")")
token_edit "$v2" 0 "t['uid'] = '$other'"
expect_rc 0 "a wrong first token among six, --jobs 3" K -vv unlock --all --test --jobs 3 --from "$LAB_TMP/list"
expect_out "$v2: token 0 failed in process [0-9]+" "... its child's proof fails"
expect_out "$v2: token 0 did not unlock; trying token 1" "... this process goes on to token 1"
expect_out "^$v2: verified" "... which unlocks"
expect_eq "$(grep -c ': verified (check only' "$LAB_TMP/out")" "6" "... six verified"

# A revoked key among them: the others still verified, it says why.
v3=$(sed -n 3p "$LAB_TMP/list")
lab_pyclient main revoke "$(uid_of "$v3")" --reason cessation >/dev/null || fail "revoke"
expect_rc 4 "a revoked key among six, --jobs 3: exit 4" K unlock --all --test --jobs 3 --from "$LAB_TMP/list"
expect_out "is Deactivated \(revoked\); refusing to unlock" "... it says why"
expect_out "^$v3: FAILED \(exit 4" "... its line says FAILED (exit 4"
expect_eq "$(grep -c ': verified (check only' "$LAB_TMP/out")" "5" "... the five others verified"

# A keyslot with Argon2id (cheap settings): proven by this process alone.
argon=$(newimg par-argon)
preactive_binding "$argon" par-argon-key	# a hand-made token 0 on keyslot 3 (PBKDF2)
lab_pyclient main activate "$pre" >/dev/null || fail "activate $pre"
CS luksConvertKey --key-slot 3 --key-file "$LAB_TMP/pre.pass" --pbkdf argon2id \
	--pbkdf-memory 32 --pbkdf-force-iterations 4 --pbkdf-parallel 1 "$argon" ||
	fail "luksConvertKey to argon2id"
expect_grep "PBKDF: +argon2id" "the token's keyslot uses Argon2id" CS luksDump "$argon"
echo "$argon" >>"$LAB_TMP/list"
expect_rc 4 "with the Argon2id volume, --jobs 3" K -vv unlock --all --test --jobs 3 --from "$LAB_TMP/list"
expect_out "$argon: keyslot 3 has a memory-hard PBKDF: activated alone" "... it is left to this process"
expect_out "^$argon: verified" "... and verified"
not_out "$argon: token 0 (proven|failed) in process" "... not proven in a child"

# No device-mapper on this host: each child's activation fails as it would in turn.
expect_rc 5 "unlock --all (real), --jobs 3, no device-mapper: exit 5" K unlock --all --jobs 3 --from "$LAB_TMP/list"
expect_eq "$(grep -c 'FAILED (exit 5' "$LAB_TMP/out")" "6" "... six volumes report exit 5 (the revoked one exit 4)"

# --kind: only the volumes with a token of that kind (the initramfs unit's
# volume-key volumes, which the token plugin cannot serve); the others skipped.
expect_rc 0 "--kind volume-key: the revoked envelope volume is skipped, exit 0" \
	K unlock --all --test --jobs 3 --kind volume-key --from "$LAB_TMP/list"
expect_eq "$(grep -c ': verified (check only' "$LAB_TMP/out")" "2" "... the two volume-key volumes verified"
expect_eq "$(grep -c ': skipped (no kmip token of the kinds asked for)' "$LAB_TMP/out")" "5" "... the five others skipped"
expect_rc 0 "--kind passphrase,envelope on one volume-key volume: skipped" \
	K unlock "$(sed -n 5p "$LAB_TMP/list")" --test --kind passphrase,envelope
expect_out ": skipped" "... says skipped"
expect_rc 1 "--kind tpm: usage error" K unlock --all --test --kind tpm --from "$LAB_TMP/list"
expect_rc 1 "--kind with --token: usage error" K unlock "$v2" --test --kind passphrase --token 0
expect_rc 1 "--jobs 0: usage error" K unlock --all --test --jobs 0 --from "$LAB_TMP/list"
expect_out "--jobs takes a number of volumes from 1 to 256" "... says the range"
expect_rc 1 "--jobs 257: usage error" K unlock --all --test --jobs 257 --from "$LAB_TMP/list"
expect_rc 1 "--jobs without --all: usage error" K unlock "$v2" --test --jobs 2
expect_rc 0 "unlock --help mentions --jobs" K unlock --help
expect_out "--jobs N" "... it does"
pass
