#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut initqueue/settled hook (no systemd in the initramfs): unlock the
# volumes bound to a KMIP key server, with crypttab's names and options.
#
# dracut SOURCES initqueue hooks (99base/init.sh: job=$job . "$job"), at
# every pass of its main loop until the root appears.  So nothing here may
# exit (that would end init), and the outcome is remembered in /tmp: a final
# answer (any exit status but 2: unlocked, or the key refused, revoked, a
# TLS failure) is not asked again; "no usable answer" (2: the network not up
# yet, the KMS unreachable) is, at later passes, until kmipcrypt.timeout=
# (seconds from the first attempt; default 60) has passed.  After that, the
# crypt module's prompt is the passphrase's alone: the token plugin is not
# in this image (module-setup.sh), so a typed passphrase does not ask the
# KMS again.  (KMIPCRYPT_HOOK_DIR: where the outcome is kept, for
# tests/integration/test-dracut-hook.sh; /tmp in the initramfs.)

kmipcrypt_settled() {
	local d=${KMIPCRYPT_HOOK_DIR:-/tmp} now start limit left rc
	command -v kmipcrypt >/dev/null || return 0
	[ -f "${KMIPCRYPT_HOOK_CONF:-/etc/kmipcrypt/kmipcrypt.conf}" ] || return 0
	[ -e "$d/kmipcrypt.done" ] && return 0
	read -r now _ </proc/uptime
	now=${now%.*}
	[ -s "$d/kmipcrypt.start" ] || echo "$now" >"$d/kmipcrypt.start"
	read -r start <"$d/kmipcrypt.start"
	limit=$(getarg kmipcrypt.timeout=)
	case "$limit" in ''|*[!0-9]*|0) limit=60 ;; esac
	left=$((start + limit - now))
	if [ "$left" -le 0 ]; then
		warn "kmipcrypt: no usable answer from the KMS within $limit s; the passphrase prompt follows"
		: >"$d/kmipcrypt.done"
		return 0
	fi
	kmipcrypt unlock --all --timeout "${left}s" >"$d/kmipcrypt.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then vinfo <"$d/kmipcrypt.out"; else vwarn <"$d/kmipcrypt.out"; fi
	[ "$rc" = 2 ] || : >"$d/kmipcrypt.done"
	return 0
}

kmipcrypt_settled
