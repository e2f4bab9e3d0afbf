#!/bin/bash
# kmipcrypt enroll never leaves a volume half-bound, nor a secret on the KMS
# that no token names:
#  - a failure injected at each step (KMIPCRYPT_FAIL_AT=STEP, the test hook)
#    for each kind: the LUKS2 header as it was (luksDump, less the epoch),
#    every undo said, nothing left on the KMS;
#  - SIGINT, SIGTERM, SIGHUP at each step (KMIPCRYPT_FAIL_AT=STEP:SIGNAL):
#    before the token is written undone as a failure and the process ends by
#    that signal (exit 128+N); after it the enroll finishes (exit 0, bound,
#    unlocks);
#  - SIGKILL at each step: at most one Pre-Active object (an Active one only
#    in the envelope's documented window, activate..token), every object no
#    token names marked unbound by `kmipcrypt key list`, the passphrase still
#    opens the volume, and the documented clean-up works;
#  - SIGINT and SIGTERM sent from outside at random times (the timing is the
#    point; no assertion depends on it);
#  - Ctrl-C at the passphrase prompt on a terminal: echo is on again,
#    nothing created;
#  - a server down at enroll; an unknown hook value.
# "Nothing left on the KMS" is asked of PyKMIP's own client: every object it
# can locate is named by a token of this test (or is the test's KEK).
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

named=$LAB_TMP/named		# uids that a token (or the test itself) accounts for
: >"$named"
# note_bound IMG: the uids of IMG's kmip tokens are accounted for
note_bound() {
	local id
	for id in $(CS luksDump "$1" | sed -n 's/^  \([0-9]*\): kmip$/\1/p'); do
		token_json "$1" "$id" | json_field uid >>"$named"
	done
}
# orphans: objects on the KMS that nothing accounts for, one per line
orphans() { comm -23 <(lab_pyclient main locate | lab_json uids | sed '/^$/d' | sort) <(sort -u "$named"); }
expect_no_orphans() { expect_eq "$(orphans | tr '\n' ' ')" "" "$1: no object on the KMS that no token names"; }
signum() { kill -l "${1#SIG}"; }
# unbound_uids: the objects `kmipcrypt key list` marks as unbound, one per line
unbound_uids() {
	K key list --json | python3 -c 'import json, sys
for o in json.load(sys.stdin):
	if o["unbound"]:
		print(o["uid"])'
}
in_list() { local x=$1; shift; case " $* " in *" $x "*) return 0 ;; esac; return 1; }

# The volume-key kind runs with --wrap-key (its extra step "wrap").
head -c 32 /dev/urandom >"$LAB_TMP/kek.bin"
chmod 600 "$LAB_TMP/kek.bin"
kek=$(K key register --type aes --secret-file "$LAB_TMP/kek.bin" --name undo-kek --activate) || fail "register KEK"
echo "$kek" >>"$named"

# Per kind: the enroll options, its steps in order, and those after the token (point of no return).
declare -A opts steps ponr
opts[passphrase]="--kind passphrase"
steps[passphrase]="register keyslot token activate verify"
ponr[passphrase]="activate verify"
opts[volume-key]="--kind volume-key --wrap-key $kek --kek-file $LAB_TMP/kek.bin"
steps[volume-key]="register wrap keyslot token activate verify"
ponr[volume-key]="activate verify"
opts[envelope]="--kind envelope"
steps[envelope]="register keyslot activate encrypt token unmark verify"
ponr[envelope]="unmark verify"
kinds="passphrase envelope volume-key"

# A pristine image per kind; every run works on a fresh copy (same header).
declare -A base hdr
for kind in $kinds; do
	base[$kind]=$(newimg "base-$kind" --key-size 256)
	hdr[$kind]=$(header "${base[$kind]}")
done
run=0
# fresh KIND: a copy of the kind's pristine image, in $img
fresh() { run=$((run + 1)); img=$LAB_TMP/run$run.img; cp --sparse=always "${base[$1]}" "$img"; }
# enroll KIND NAME: the enroll of this kind on $img (options word-split on purpose)
# shellcheck disable=SC2086
enroll() { K enroll "$img" ${opts[$1]} --key-file "$pass" --name "$2"; }

# ------------------------------------------------ a failure at each step
for kind in $kinds; do
	done_steps=""
	for step in ${steps[$kind]}; do
		fresh $kind
		KMIPCRYPT_FAIL_AT=$step expect_rc 6 "$kind, failure at $step: enroll fails" enroll $kind "undo-$kind-$step"
		expect_out "injecting a failure at step '$step'" "$kind/$step: the failure was injected there"
		expect_out "enroll failed at step '$step'; everything done before was undone" \
			"$kind/$step: says everything was undone"
		if in_list activate $done_steps; then
			expect_out "undone: revoked and destroyed key" "$kind/$step: the Active object was revoked and destroyed"
		elif in_list register $done_steps; then
			expect_out "undone: destroyed key" "$kind/$step: the Pre-Active object was destroyed"
		fi
		in_list keyslot $done_steps && expect_out "undone: removed keyslot 1" "$kind/$step: the keyslot was removed"
		in_list token $done_steps && expect_out "undone: removed token 0" "$kind/$step: the token was removed"
		expect_eq "$(header "$img")" "${hdr[$kind]}" "$kind/$step: the header is as it was"
		expect_no_orphans "$kind/$step"
		done_steps="$done_steps $step"
	done
	fresh $kind
	expect_rc 0 "$kind: the same volume then enrolls" enroll $kind "undo-$kind-ok"
	expect_rc 0 "$kind: ... and unlocks" K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
	note_bound "$img"
	expect_eq "$(unbound_uids | tr '\n' ' ')" "" "$kind: after a finished enroll key list marks nothing as unbound"
done
# The envelope is the only kind whose key is Active before the token exists.
expect_eq "$(lab_pyclient main locate --state active | lab_json uids | grep -c .)" "4" \
	"the KMS holds the three enrolled objects and the KEK, all Active"

# ------------------------------------------------ SIGINT, SIGTERM, SIGHUP at each step
for sig in SIGINT SIGTERM SIGHUP; do
	n=$(signum $sig)
	for kind in $kinds; do
		for step in ${steps[$kind]}; do
			fresh $kind
			name=undo-$kind-$step-$sig
			if in_list $step ${ponr[$kind]}; then
				KMIPCRYPT_FAIL_AT=$step:$sig expect_rc 0 "$sig at $kind/$step (token written): enroll finishes" \
					enroll $kind "$name"
				expect_out "raising $sig at step '$step'" "$sig at $kind/$step: the signal came there"
				expect_out "interrupted \($sig\) after the token was written: finishing the enroll" \
					"$sig at $kind/$step: says it finishes instead of undoing"
				expect_rc 0 "$sig at $kind/$step: the volume is bound and unlocks" \
					K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
				note_bound "$img"
			else
				KMIPCRYPT_FAIL_AT=$step:$sig expect_rc $((128 + n)) "$sig at $kind/$step: undone, ended by $sig" \
					enroll $kind "$name"
				expect_out "enroll interrupted \($sig\) at step '$step'; undone" "$sig at $kind/$step: says it undid"
				expect_eq "$(header "$img")" "${hdr[$kind]}" "$sig at $kind/$step: the header is as it was"
			fi
			expect_no_orphans "$sig at $kind/$step"
		done
	done
done

# A signal ignored when enroll started (nohup) stays ignored.
fresh passphrase
KMIPCRYPT_FAIL_AT=keyslot:SIGHUP expect_rc 0 "SIGHUP ignored from the start (nohup): enroll goes on" \
	env --ignore-signal=HUP "$KMIPCRYPT" -c "$conf" enroll "$img" --key-file "$pass" --name undo-nohup
note_bound "$img"

# ------------------------------------------------ SIGKILL at each step
# Nothing can catch it: what it leaves is what kmipcrypt-enroll(8) says, and
# the clean-up that page gives works.
for kind in $kinds; do
	for step in ${steps[$kind]}; do
		fresh $kind
		name=undo-$kind-$step-kill
		KMIPCRYPT_FAIL_AT=$step:SIGKILL expect_rc 137 "SIGKILL at $kind/$step" enroll $kind "$name"
		expect_rc 0 "SIGKILL at $kind/$step: the passphrase still opens the volume" \
			cryptsetup open --test-passphrase --key-file "$pass" "$img"
		pre=$(lab_pyclient main locate --state pre-active | lab_json uids | grep -c .)
		[ "$pre" -le 1 ] || fail "SIGKILL at $kind/$step: $pre Pre-Active objects"
		echo "ok SIGKILL at $kind/$step: $pre Pre-Active object(s), at most one"
		note_bound "$img"	# a token written before the kill names its object
		left=$(orphans)
		active=$(for u in $left; do lab_pyclient main get-state "$u" | lab_json state; done | grep -c '^ACTIVE$')
		if [ $kind = envelope ] && in_list $step encrypt token; then
			expect_eq "$active" "1" "SIGKILL at $kind/$step: the documented window: one Active key, no token"
		else
			expect_eq "$active" "0" "SIGKILL at $kind/$step: no Active object that no token names"
		fi
		marked=$(unbound_uids)
		for u in $left; do
			grep -qxF "$u" <<<"$marked" || fail "SIGKILL at $kind/$step: key list does not mark $u (no token names it) as unbound"
		done
		echo "ok SIGKILL at $kind/$step: key list marks every object no token names as unbound"
		if [ $kind = envelope ] && [ $step = unmark ]; then
			expect_grep "unbound: an envelope enroll did not finish \(Object Group kmipcrypt-enrolling\); unless 'kmipcrypt status' shows a volume bound to it" \
				"SIGKILL at envelope/unmark: key list says to check status before removing the marked key" K key list
		fi
		# The clean-up of kmipcrypt-enroll(8), INTERRUPTION.
		tid=$(CS luksDump "$img" | sed -n 's/^  \([0-9]*\): kmip$/\1/p')
		if [ -n "$tid" ]; then
			uid=$(token_json "$img" "$tid" | json_field uid)
			if [ "$(lab_pyclient main get-state "$uid" | lab_json state)" = PRE_ACTIVE ]; then
				expect_rc 4 "SIGKILL at $kind/$step: the token names a Pre-Active key: unlock refuses" \
					K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
				expect_rc 0 "SIGKILL at $kind/$step: 'kmipcrypt key activate' finishes it" K key activate "$uid"
			fi
			expect_rc 0 "SIGKILL at $kind/$step: the volume is bound and unlocks" \
				K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
		else
			for u in $left; do
				if [ "$(lab_pyclient main get-state "$u" | lab_json state)" = ACTIVE ]; then
					expect_rc 0 "SIGKILL at $kind/$step: 'kmipcrypt key destroy --revoke' removes Active $u" \
						K key destroy --revoke "$u"
				else
					expect_rc 0 "SIGKILL at $kind/$step: 'kmipcrypt key destroy' removes Pre-Active $u" \
						K key destroy "$u"
				fi
			done
			for s in $(keyslots "$img"); do
				[ "$s" = 0 ] && continue
				expect_rc 0 "SIGKILL at $kind/$step: 'cryptsetup luksKillSlot' removes keyslot $s" \
					cryptsetup luksKillSlot -q "$img" "$s"
			done
			expect_eq "$(header "$img")" "${hdr[$kind]}" "SIGKILL at $kind/$step: after the clean-up the header is as it was"
		fi
		expect_no_orphans "SIGKILL at $kind/$step, cleaned up"
	done
done

# ------------------------------------------------ signals from outside, at random times
# The delays spread over one enroll's duration; whatever the moment, the
# outcome is either undone (128+N) or bound (0), never half of each.
t0=$(lab_now_ms)
fresh envelope
enroll envelope undo-timed >/dev/null 2>&1 || fail "timed enroll"
span=$(( $(lab_now_ms) - t0 + 50 ))
note_bound "$img"
undone=0 finished=0
for i in $(seq 1 16); do
	kind=$(echo $kinds | cut -d' ' -f$(( i % 3 + 1 )))
	sig=$([ $((i % 2)) = 0 ] && echo INT || echo TERM)
	delay=$(( RANDOM % span ))
	fresh $kind
	# shellcheck disable=SC2086
	env --default-signal=INT,TERM,HUP "$KMIPCRYPT" -c "$conf" enroll "$img" ${opts[$kind]} \
		--key-file "$pass" --name "undo-random-$i" >"$LAB_TMP/out" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -$sig $pid 2>/dev/null
	wait $pid
	rc=$?
	sed 's/^/    | /' "$LAB_TMP/out"
	if [ $rc = 0 ]; then
		finished=$((finished + 1))
		expect_rc 0 "random $i ($kind, SIG$sig after $delay ms): finished, and unlocks" \
			K unlock "$img" --test --kek-file "$LAB_TMP/kek.bin"
		note_bound "$img"
	else
		undone=$((undone + 1))
		expect_eq "$rc" "$((128 + $(signum $sig)))" "random $i ($kind, SIG$sig after $delay ms): ended by the signal"
		expect_eq "$(header "$img")" "${hdr[$kind]}" "random $i: the header is as it was"
	fi
	expect_no_orphans "random $i"
done
echo "ok random signals: $undone undone, $finished finished (either is right)"

# ------------------------------------------------ Ctrl-C at the passphrase prompt
fresh passphrase
expect_rc 130 "Ctrl-C at the passphrase prompt: ended by SIGINT" "$LAB_PY" "$(dirname "$0")/pty-answer.py" --ctrl-c \
	"Enter an existing passphrase of $img: " "" "$KMIPCRYPT" -c "$conf" enroll "$img" --name undo-ctrl-c
expect_out "pty-answer.py: echo on" "... the terminal echoes again"
expect_eq "$(header "$img")" "${hdr[passphrase]}" "... the header is as it was"
expect_no_orphans "Ctrl-C at the prompt"

# ------------------------------------------------ the server down at enroll: nothing changes
fresh passphrase
refused=$(lab_refused_port)
lab_config "$LAB_TMP/refused.conf" "$refused" timeout_ms=2000
expect_rc 2 "server down at enroll: exit 2" "$KMIPCRYPT" -c "$LAB_TMP/refused.conf" enroll "$img" --key-file "$pass"
expect_out "volume and the KMS are as they were" "... says nothing changed"
expect_eq "$(header "$img")" "${hdr[passphrase]}" "... the header is as it was"

# ------------------------------------------------ values of the hook that name nothing
fresh passphrase
KMIPCRYPT_FAIL_AT=nonsense expect_rc 0 "KMIPCRYPT_FAIL_AT=nonsense injects nothing" enroll passphrase undo-hook
expect_out "KMIPCRYPT_FAIL_AT=nonsense names no step of this command; ignored" "... and says it is ignored"
note_bound "$img"
fresh passphrase
KMIPCRYPT_FAIL_AT=token:SIGSTOP expect_rc 0 "KMIPCRYPT_FAIL_AT=token:SIGSTOP (not a signal it sends) injects nothing" \
	enroll passphrase undo-hook-sig
expect_out "names no step of this command \(or no signal of SIGINT, SIGTERM, SIGHUP, SIGKILL\); ignored" "... and says so"
note_bound "$img"
expect_no_orphans "at the end"
pass
