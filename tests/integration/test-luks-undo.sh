#!/bin/bash
# kmipcrypt enroll never leaves a volume half-bound: a failure injected at
# each step (KMIPCRYPT_FAIL_AT=register|activate|keyslot|token|verify, the
# test hook) for each kind leaves the LUKS2 header as it was (luksDump before
# and after, less the epoch) and no object on the KMS (PyKMIP's own client
# locates nothing by the enroll's Name: revoked and destroyed), and the output
# says what was undone.  Also a server that is down at enroll, and a rerun
# that then succeeds on the same volume.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

for kind in passphrase envelope volume-key; do
	img=$(newimg "undo-$kind" --key-size 256)
	h=$(header "$img")
	for step in register activate keyslot token verify; do
		name=undo-$kind-$step
		KMIPCRYPT_FAIL_AT=$step expect_rc 6 "$kind, failure at $step: enroll fails" \
			K enroll "$img" --kind $kind --key-file "$pass" --name "$name"
		expect_out "injecting a failure at step '$step'" "$kind/$step: the failure was injected there"
		expect_out "enroll failed at step '$step'; everything done before was undone" \
			"$kind/$step: says everything was undone"
		case $step in
		register) ;;
		activate) expect_out "undone: destroyed key" "$kind/$step: the Pre-Active object was destroyed" ;;
		*) expect_out "undone: revoked and destroyed key" "$kind/$step: the object was revoked and destroyed" ;;
		esac
		case $step in
		token|verify) expect_out "undone: removed keyslot 1" "$kind/$step: the keyslot was removed" ;;
		esac
		[ $step = verify ] && expect_out "undone: removed token 0" "$kind/$step: the token was removed"
		expect_eq "$(header "$img")" "$h" "$kind/$step: the header is as it was"
		expect_eq "$(lab_pyclient main locate --name "$name" | lab_json uids)" "" \
			"$kind/$step: nothing left on the KMS"
	done
	# The same volume then enrolls fine.
	expect_rc 0 "$kind: after all that, enroll succeeds" K enroll "$img" --kind $kind --key-file "$pass" --name "undo-$kind-ok"
	expect_rc 0 "$kind: ... and unlocks" K unlock "$img" --test
done

# No PyKMIP object in any state other than the three successful ones.
n=$(lab_pyclient main locate --group kmipcrypt | lab_json uids | wc -l)
expect_eq "$n" "3" "the KMS holds exactly the three successful enrolls' objects"
expect_eq "$(lab_pyclient main locate --state active | lab_json uids | wc -l)" "3" "... all Active"

# The server down at enroll: nothing changes.
img=$(newimg undo-down)
h=$(header "$img")
refused=$(lab_refused_port)
lab_config "$LAB_TMP/refused.conf" "$refused" timeout_ms=2000
expect_rc 2 "server down at enroll: exit 2" "$KMIPCRYPT" -c "$LAB_TMP/refused.conf" enroll "$img" --key-file "$pass"
expect_out "volume and the KMS are as they were" "... says nothing changed"
expect_eq "$(header "$img")" "$h" "... the header is as it was"

# An unknown value of the hook is not a step: nothing injected.
img=$(newimg undo-hook)
KMIPCRYPT_FAIL_AT=nonsense expect_rc 0 "KMIPCRYPT_FAIL_AT=nonsense injects nothing" K enroll "$img" --key-file "$pass" --name undo-hook
expect_out "KMIPCRYPT_FAIL_AT=nonsense names no step of this command; ignored" "... and says it is ignored"
pass
