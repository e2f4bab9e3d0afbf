#!/bin/bash
# Secrets across fork (issue 8): a secret in locked memory never crosses
# fork (util/secmem.h), and no process of kmipcrypt depends on one that its
# parent held.  The reported case: with the client key's password inline in
# the configuration (key_password = ..., an encrypted client key), every
# process of `unlock --all` aborted ("the unlock process died (signal 6)",
# exit 6) instead of saying that the server is down.  Against the real
# PyKMIP server, on LUKS2 image files, check only (--test):
#  a) the inline password is right: `unlock --test` of one volume works;
#  b) server up: `unlock --all` verifies every volume with it;
#  c) server down: `unlock --all` says "no server reachable" (exit 2) for
#     every volume, and no process dies of a signal nor reports a wrong
#     password;
#  d) the same with key_password_file instead, for comparison.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab

bound_prefix=fork
a=$(bound a)
b=$(bound b)
printf '%s\n' "$a" "$b" >"$LAB_TMP/list"
pw=$(cat "$LAB_CERTS/client-enc.pass")
down=$(lab_refused_port)
# inline FILE SERVER: a configuration with client-enc's password inline
inline() {
	lab_config "$1" "$2" client=client-enc key_password_file= key_password="$pw" timeout_ms=3000
	grep -q "^key_password = $pw\$" "$1" || fail "$1: no inline key_password"
}
inline "$LAB_TMP/up.conf" "$port"
inline "$LAB_TMP/down.conf" "$down"
# no_death WHAT: in the last command's output, no process died and none
# read an empty (wiped) or wrong password
no_death() {
	cp "$LAB_TMP/out" "$LAB_TMP/nd"
	expect_nogrep "died|signal" "$1: no unlock process died" cat "$LAB_TMP/nd"
	expect_nogrep "key_password" "$1: no password problem reported" cat "$LAB_TMP/nd"
}

# ------------------------------------------------ a) the password is right
expect_rc 0 "inline key_password: unlock --test of one volume" \
	"$KMIPCRYPT" -c "$LAB_TMP/up.conf" unlock --test "$a"

# ------------------------------------------------ b) server up
expect_rc 0 "inline key_password, server up: unlock --all --test" \
	"$KMIPCRYPT" -c "$LAB_TMP/up.conf" unlock --all --test --from "$LAB_TMP/list"
expect_out "^$a: verified" "server up: ... verifies A"
expect_out "^$b: verified" "server up: ... verifies B"
no_death "server up"

# ------------------------------------------------ c) server down (the report)
expect_rc 2 "inline key_password, server down: unlock --all --test says unreachable" \
	"$KMIPCRYPT" -c "$LAB_TMP/down.conf" unlock --all --test --from "$LAB_TMP/list"
expect_out "^$a: FAILED \(exit 2" "server down: ... A: exit 2 (no server reachable)"
expect_out "^$b: FAILED \(exit 2" "server down: ... B: exit 2"
expect_out "[Cc]onnection refused" "server down: ... saying why"
no_death "server down"

# ------------------------------------------------ d) key_password_file
lab_config "$LAB_TMP/file.conf" "$port" client=client-enc timeout_ms=3000
expect_rc 0 "key_password_file, server up: unlock --all --test" \
	"$KMIPCRYPT" -c "$LAB_TMP/file.conf" unlock --all --test --from "$LAB_TMP/list"
lab_config "$LAB_TMP/file-down.conf" "$down" client=client-enc timeout_ms=3000
expect_rc 2 "key_password_file, server down: unlock --all --test" \
	"$KMIPCRYPT" -c "$LAB_TMP/file-down.conf" unlock --all --test --from "$LAB_TMP/list"
no_death "key_password_file"

pass
