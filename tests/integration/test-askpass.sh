#!/bin/bash
# kmipcrypt askpass, the systemd password agent (kmipcrypt-askpass(8)), against
# the real PyKMIP server and a real asker written from systemd's spec
# (tests/lab/askpass-asker.py, in a directory given by --dir):
#   (a) KMS up: the agent answers, the answer opens the image;
#   (b) KMS down when asked, started later: answered once it is back;
#   (c) key revoked: given up at once with a clear message, PyKMIP not asked again;
#   (d) hostile ask files (no Socket=, huge lines, a volume that is not bound,
#       NotAfter passed, a symlink, a FIFO) ignored without a crash, beside a
#       good request that is answered.
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/luks-common.sh"

luks_lab
bound_prefix=askpass
slog=$(lab_server_log main)
asker=$LAB_HOME/askpass-asker.py
d=$LAB_TMP/ask
mkdir -p "$d"

# ask IMG OUT [asker options]: a request for IMG in the background; its pid in $asker_pid
ask() {
	local img=$1 out=$2
	shift 2
	rm -f "$out"
	"$LAB_PY" "$asker" "$d" "cryptsetup:$img" "$out" "$@" &
	asker_pid=$!
	lab_wait_for 10 has_ask || fail "the asker wrote no ask file"
}
has_ask() { compgen -G "$d/ask.*" >/dev/null; }
no_ask() { ! has_ask; }
opens() { CS open --test-passphrase --key-file "$2" "$1" >/dev/null 2>&1; }
gone() { ! kill -0 "$1" 2>/dev/null; }
requests() { grep -c "Processing operation:" "$slog"; }

img=$(bound a --kind passphrase)

# ------------------------------------------------ (a) KMS up
ask "$img" "$LAB_TMP/answer" --timeout 60
expect_rc 0 "(a) KMS up: the agent answers and exits" K askpass --dir "$d" --deadline 60s
wait "$asker_pid"; rc=$?
expect_eq "$rc" 0 "(a) the asker got an answer"
opens "$img" "$LAB_TMP/answer" || fail "(a) the answer does not open $img"
echo "ok (a) the answer opens the image (cryptsetup open --test-passphrase)"
expect_out "answered with the secret of key" "(a) says which key answered"

# ------------------------------------------------ (b) KMS down, then back
lab_server_stop main
ask "$img" "$LAB_TMP/answer" --timeout 120
K askpass --dir "$d" --deadline 120s >"$LAB_TMP/agent.log" 2>&1 &
agent=$!
lab_wait_for 60 grep -q "trying again" "$LAB_TMP/agent.log" ||
	{ sed 's/^/    | /' "$LAB_TMP/agent.log"; fail "(b) no retry while the KMS is down"; }
echo "ok (b) KMS down: the agent retries"
lab_server_restart main
lab_wait_for 90 gone "$agent" || fail "(b) the agent did not finish after the KMS came back"
wait "$agent"; rc=$?
sed 's/^/    | /' "$LAB_TMP/agent.log"
expect_eq "$rc" 0 "(b) the agent exits 0"
wait "$asker_pid"; rc=$?
expect_eq "$rc" 0 "(b) answered once the KMS was back, no user input"
opens "$img" "$LAB_TMP/answer" || fail "(b) the answer does not open $img"
echo "ok (b) the answer opens the image"

# ------------------------------------------------ (c) key revoked: no retry
uid=$(uid_of "$img")
lab_pyclient main revoke "$uid" --reason cessation >/dev/null || fail "pyclient revoke"
ask "$img" "$LAB_TMP/answer" --timeout 120
K askpass --dir "$d" --deadline 120s >"$LAB_TMP/agent.log" 2>&1 &
agent=$!
lab_wait_for 60 grep -q "not retrying; type the passphrase" "$LAB_TMP/agent.log" ||
	{ sed 's/^/    | /' "$LAB_TMP/agent.log"; fail "(c) no clear refusal"; }
n=$(requests)
expect_grep "key '$uid' on server group \[default\]: Deactivated \(revoked\).*not retrying; type the passphrase" \
	"(c) revoked: one clear message" cat "$LAB_TMP/agent.log"
# The agent stays while the request stands (the user types); it must not ask
# PyKMIP again in that time: wait for something it does after the refusal
# (it reads the directory every 2 s) rather than for a fixed time.
kill "$asker_pid"; wait "$asker_pid" 2>/dev/null
lab_wait_for 30 gone "$agent" || fail "(c) the agent did not exit after the request went away"
wait "$agent"; rc=$?
expect_eq "$rc" 0 "(c) the agent exits when the request is gone"
expect_eq "$(requests)" "$n" "(c) PyKMIP was not asked again after the refusal"
expect_eq "$(grep -c "not retrying" "$LAB_TMP/agent.log")" 1 "(c) the refusal is said once"
[ ! -e "$LAB_TMP/answer" ] || fail "(c) an answer was sent for a revoked key"

# ------------------------------------------------ (d) hostile ask files
img=$(bound d --kind passphrase)
plain=$(newimg plain)
mono_now=$("$LAB_PY" -c 'import time; print(int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))')
printf '[Ask]\nId=cryptsetup:%s\nNotAfter=0\n' "$img" >"$d/ask.nosocket"
{ printf '[Ask]\nSocket=%s/sck.x\nId=cryptsetup:%s\nMessage=' "$d" "$img"
  head -c 100000 /dev/zero | tr '\0' A; printf '\n'; } >"$d/ask.huge"
printf '[Ask]\nSocket=%s/sck.x\nId=cryptsetup:%s\nNotAfter=%s\n' "$d" "$img" \
	$((mono_now - 1000000)) >"$d/ask.expired"
printf '[Ask]\nSocket=%s/sck.x\nId=cryptsetup:%s\n' "$d" "$plain" >"$d/ask.unbound"
printf '[Ask]\nSocket=%s/sck.x\nId=cryptsetup:%s\n' "$d" "$img" >"$LAB_TMP/elsewhere"
ln -s "$LAB_TMP/elsewhere" "$d/ask.symlink"
mkfifo "$d/ask.fifo"
printf '[Ask]\nSocket=/dev/null\nId=cryptsetup:%s\n' "$img" >"$d/ask.notasocket"
printf '[Ask]\nSocket=%s/sck.x\nSocket=%s/sck.y\nId=cryptsetup:%s\n' "$d" "$d" "$img" >"$d/ask.twice"
ask "$img" "$LAB_TMP/answer" --timeout 60
K askpass --dir "$d" --deadline 60s >"$LAB_TMP/out" 2>&1 &
agent=$!
wait "$asker_pid"; rc=$?
expect_eq "$rc" 0 "(d) hostile ask files beside a good request: the good request is answered"
opens "$img" "$LAB_TMP/answer" || fail "(d) the answer does not open $img"
echo "ok (d) ... with the right passphrase"
# The agent stays while requests stand (the unbound volume's, the user's to
# answer): it would be started again at once by the path unit otherwise.
kill -0 "$agent" 2>/dev/null || fail "(d) the agent left while a request stood"
echo "ok (d) the agent stays while a request stands (an unbound volume's)"
rm -f "$d"/ask.*
lab_wait_for 30 gone "$agent" || fail "(d) the agent did not exit once the requests were gone"
wait "$agent"; rc=$?
expect_eq "$rc" 0 "(d) no crash, exits 0 once no request stands"
expect_eq "$(grep -c 'answered with' "$LAB_TMP/out")" 1 "(d) only the good request is answered"
expect_rc 0 "no request at all: exits at once" K askpass --dir "$d"
expect_rc 0 "no ask directory: exits at once" K askpass --dir "$LAB_TMP/none"
expect_rc 1 "a bad --deadline: usage error" K askpass --dir "$d" --deadline 0
pass
