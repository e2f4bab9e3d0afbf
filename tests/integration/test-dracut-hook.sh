#!/bin/bash
# The dracut initqueue hook for an initramfs without systemd
# (dracut/90kmipcrypt/kmipcrypt-unlock.sh), run as dracut runs it: SOURCED
# by the init script's main loop (99base/init.sh: job=$job . "$job") at
# every pass until the root appears, by /bin/sh (dash here), with dracut's
# getarg, warn, vinfo and vwarn.  kmipcrypt is a stand-in that records its
# arguments and exits with a chosen status (the hook's contract is about
# exit statuses: kmipcrypt(8) EXIT STATUS; the real unlock is tested on a
# real guest by test-boot*.sh).  Checks:
#  - the hook never ends the shell that sources it (an `exit` there ends
#    dracut's init), also when kmipcrypt or its configuration is missing;
#  - exit status 2 (no usable answer) is asked again at the next pass, any
#    other status is final: not asked again;
#  - kmipcrypt.timeout= bounds all passes together: past it, no attempt,
#    one warning that the prompt follows; each attempt gets the time left.
# No server, no root, no sleeps.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
hook=$root/dracut/90kmipcrypt/kmipcrypt-unlock.sh
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
SH=$(command -v dash || echo /bin/sh)
d=$(mktemp -d /tmp/kmipcrypt-hook.XXXXXX) || fail "mktemp"
trap 'rm -rf "$d"' EXIT

# PATH in the passes: the stand-in and cat only (whatever else is installed).
mkdir -p "$d/bin" "$d/tools"
ln -s "$(command -v cat)" "$d/tools/cat"
cat >"$d/bin/kmipcrypt" <<'STUB'
#!/bin/sh
echo "call $*" >>"$KMIPCRYPT_HOOK_DIR/calls"
echo "kmipcrypt: stand-in message (status $(cat "$KMIPCRYPT_HOOK_DIR/rc"))"
exit "$(cat "$KMIPCRYPT_HOOK_DIR/rc")"
STUB
chmod +x "$d/bin/kmipcrypt"
: >"$d/kmipcrypt.conf"
cat >"$d/dracut-lib.sh" <<'LIB'
getarg() { [ "$1" = kmipcrypt.timeout= ] && echo "${TIMEOUT_ARG:-}"; }
warn() { echo "warn: $*" >>"$KMIPCRYPT_HOOK_DIR/log"; }
info() { echo "info: $*" >>"$KMIPCRYPT_HOOK_DIR/log"; }
vwarn() { while read -r line || [ -n "$line" ]; do warn "$line"; done; }
vinfo() { while read -r line || [ -n "$line" ]; do info "$line"; done; }
LIB

# passes N: source the hook N times in one shell, as init's main loop does.
passes() {
	env PATH="$d/bin:$d/tools" KMIPCRYPT_HOOK_DIR="$d/state" KMIPCRYPT_HOOK_CONF="${CONF-$d/kmipcrypt.conf}" \
		TIMEOUT_ARG="${TIMEOUT_ARG:-}" "$SH" -c '
		. "$1/dracut-lib.sh"
		i=0
		while [ "$i" -lt "$2" ]; do job=$3 . "$3"; i=$((i + 1)); done
		echo survived' sh "$d" "$1" "$hook"
}
fresh() { rm -rf "$d/state"; mkdir -p "$d/state"; echo "$1" >"$d/state/rc"; }
calls() { grep -c '^call' "$d/state/calls" 2>/dev/null || echo 0; }

fresh 2
[ "$(passes 3)" = survived ] || fail "the shell sourcing the hook did not survive three passes"
[ "$(calls)" = 3 ] || fail "status 2: $(calls) attempts in 3 passes, want 3"
ok "status 2 (no usable answer): asked again at each pass, the sourcing shell goes on"
grep -q '^call unlock --all --timeout [0-9]*s$' "$d/state/calls" || fail "arguments: $(head -1 "$d/state/calls")"
t=$(sed -n 's/^call unlock --all --timeout \([0-9]*\)s$/\1/p' "$d/state/calls" | head -1)
[ "$t" -ge 1 ] && [ "$t" -le 60 ] || fail "--timeout ${t}s, want 1..60 (the default limit)"
ok "each attempt gets the time left of the 60 s default (${t} s)"
grep -q '^warn: kmipcrypt: stand-in message' "$d/state/log" || fail "kmipcrypt's messages not passed to warn"
ok "a failed attempt's messages go to dracut's warn"

echo 4 >"$d/state/rc"
[ "$(passes 3)" = survived ] || fail "the shell did not survive"
[ "$(calls)" = 4 ] || fail "status 4 (the key refused): $(calls) attempts in all, want 4 (one after the three)"
ok "status 4 (a refused key) is final: asked once, not at later passes"

fresh 0
[ "$(passes 2)" = survived ] && [ "$(calls)" = 1 ] || fail "status 0: $(calls) attempts, want 1"
grep -q '^info: kmipcrypt: stand-in message' "$d/state/log" || fail "success messages not passed to info"
ok "status 0: done, its messages at info level"

fresh 2
read -r now _ </proc/uptime
echo $(( ${now%.*} - 100 )) >"$d/state/kmipcrypt.start"
[ "$(TIMEOUT_ARG=60 passes 2)" = survived ] && [ "$(calls)" = 0 ] || fail "past kmipcrypt.timeout=60: $(calls) attempts, want 0"
[ "$(grep -c 'no usable answer from the KMS within 60 s; the passphrase prompt follows' "$d/state/log")" = 1 ] ||
	fail "past the limit: not one warning: $(cat "$d/state/log")"
ok "past kmipcrypt.timeout= (first attempt 100 s ago, limit 60 s): no attempt, one warning"

fresh 2
echo $(( ${now%.*} - 5 )) >"$d/state/kmipcrypt.start"
TIMEOUT_ARG=20 passes 1 >/dev/null
t=$(sed -n 's/^call unlock --all --timeout \([0-9]*\)s$/\1/p' "$d/state/calls")
[ -n "$t" ] && [ "$t" -le 15 ] && [ "$t" -ge 13 ] || fail "kmipcrypt.timeout=20, 5 s gone: --timeout ${t}s, want about 15"
ok "kmipcrypt.timeout=20 with 5 s gone: the attempt gets ${t} s"

fresh 2
[ "$(CONF=$d/none passes 2)" = survived ] && [ "$(calls)" = 0 ] || fail "no configuration: the shell ended or kmipcrypt ran"
ok "no configuration: nothing done, and the sourcing shell goes on"
rm "$d/bin/kmipcrypt"
fresh 2
[ "$(passes 2)" = survived ] && [ "$(calls)" = 0 ] || fail "no kmipcrypt: the sourcing shell ended"
ok "no kmipcrypt in the image: nothing done, and the sourcing shell goes on"
echo "PASS ($n checks)"
