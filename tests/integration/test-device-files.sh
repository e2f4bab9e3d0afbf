#!/bin/bash
# A DEVICE that cannot hold a LUKS2 volume gets its own clear message from
# every command that takes one, before any KMS is asked, and exit 5: a
# missing path says "No such file or directory" (not libcryptsetup's "Block
# device required"), a directory, a FIFO (which must not block: nothing
# writes to it), a character device, a file without a LUKS header, one too
# short for a header (not libcryptsetup's "Input/output error") and a LUKS1
# volume each say what they are.  No server runs: the configuration
# names a refused port, which no command may reach.
. "$(dirname "$0")/common.sh"

command -v cryptsetup >/dev/null 2>&1 ||
	fail "cryptsetup is not installed; install it with 'make deps' (cryptsetup-bin)"

conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$(lab_refused_port)" timeout_ms=1000
d=$LAB_TMP/dev
mkdir -p "$d/dir"
(umask 077 && printf 'old passphrase' >"$LAB_TMP/pass")
mkfifo "$d/fifo"
ln -s "$d/absent" "$d/dangling"
head -c 4194304 /dev/zero >"$d/zeros.img"
: >"$d/empty.img"
printf 'LUKS' >"$d/short.img"
truncate -s 8M "$d/luks1.img"
cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 \
	--key-file "$LAB_TMP/pass" "$d/luks1.img" >/dev/null 2>&1 ||
	fail "cryptsetup luksFormat --type luks1 on an image file"

# case PATH WHAT REGEX: every command on PATH exits 5 with REGEX, in time.
case_() {
	local dev=$1 what=$2 re=$3 args rc
	for args in "status" "unlock --test" "unlock" "unlock-noname" "enroll --key-file $LAB_TMP/pass" "unbind"; do
		# "unlock DEVICE NAME": the mapping name given, nothing else opens it first;
		# "unlock DEVICE": the default name (luks-UUID) is read from the header first
		case $args in
		unlock) set -- unlock "$dev" kmip-test ;;
		unlock-noname) : >"$LAB_TMP/empty-crypttab"; set -- unlock "$dev" --crypttab "$LAB_TMP/empty-crypttab" ;;
		*) set -- $args "$dev" ;;
		esac
		timeout 30 "$KMIPCRYPT" -c "$conf" "$@" </dev/null >"$LAB_TMP/out" 2>&1
		rc=$?
		sed 's/^/    | /' "$LAB_TMP/out"
		[ $rc != 124 ] || fail "$what: 'kmipcrypt $*' still runs after 30 s"
		grep -qF -- "$dev: " "$LAB_TMP/out" && grep -qE -- "$re" "$LAB_TMP/out" ||
			fail "$what: 'kmipcrypt $*' does not say '$dev: ...$re'"
		! grep -q "Block device required" "$LAB_TMP/out" ||
			fail "$what: 'kmipcrypt $*' says libcryptsetup's 'Block device required'"
		[ $rc = 5 ] || fail "$what: 'kmipcrypt $*' exits $rc, want 5"
	done
	echo "ok $what: status, unlock (--test, with and without NAME), enroll and unbind say '$re' (exit 5)"
}

case_ "$d/absent" "a missing device" "cannot open the device: No such file or directory"
case_ "$d/dangling" "a dangling symbolic link" "cannot open the device: No such file or directory"
case_ "$d/dir" "a directory" "is a directory; a LUKS2 volume is a block device or an image file"
case_ "$d/fifo" "a FIFO" "is a FIFO \(named pipe\); a LUKS2 volume is"
case_ /dev/null "a character device" "is a character device; a LUKS2 volume is"
case_ "$d/zeros.img" "a file without a LUKS header" "not a LUKS volume: no valid LUKS header"
case_ "$d/empty.img" "an empty file" "not a LUKS volume: 0 bytes, too small for a LUKS header"
case_ "$d/short.img" "a file shorter than a header" "not a LUKS volume: 4 bytes, too small for a LUKS header"
case_ "$d/luks1.img" "a LUKS1 volume" "a LUKS1 volume; kmip tokens need LUKS2 \(convert with 'cryptsetup convert --type luks2"
pass
