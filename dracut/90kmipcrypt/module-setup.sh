#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut module kmipcrypt: unlock LUKS2 volumes bound to a KMIP key server
# (kmipcrypt-enroll(8)) in the initramfs.  See dracut/README.md.
#
# With systemd in the initramfs, systemd-cryptsetup unlocks a bound volume
# through the token plugin (libcryptsetup-token-kmip.so, installed into
# libcryptsetup's plugin directory as the system has it), after the network
# is up (a drop-in); volume-key tokens, which a plugin cannot serve, are
# opened by kmipcrypt-unlock.service before cryptsetup.target.  Without
# systemd, an initqueue hook runs `kmipcrypt unlock --all`.

# _kmipcrypt_bound DEV FSTYPE: DEV is a LUKS2 volume with a kmip token.
# The header only (no KMS, no network at image build time): the JSON
# metadata as cryptsetup prints it, a token whose type is exactly "kmip".
_kmipcrypt_bound() {
	[[ $2 == crypto_LUKS ]] || return 1
	cryptsetup luksDump --dump-json-metadata "$1" 2>/dev/null |
		grep -Eq '"type"[[:space:]]*:[[:space:]]*"kmip"'
}

# _kmipcrypt_names DEV: the names systemd-cryptsetup may give the volume DEV
# in the initramfs: luks-UUID (rd.luks.uuid=, dracut's hostonly command
# line) and its name in the system's crypttab (dracut copies the lines of
# the volumes it needs), one per line.
_kmipcrypt_names() {
	local uuid name src _ real
	uuid=$(cryptsetup luksUUID "$1" 2>/dev/null) || return 1
	echo "luks-$uuid"
	[[ -f $dracutsysrootdir/etc/crypttab ]] || return 0
	real=$(readlink -f "$1")
	while read -r name src _ || [[ -n $name ]]; do
		[[ -z $name || $name == \#* ]] && continue
		case $src in
		UUID=*) [[ ${src#UUID=} == "$uuid" ]] ;;
		/dev/disk/by-uuid/*) [[ ${src#/dev/disk/by-uuid/} == "$uuid" ]] ;;
		*) [[ $(readlink -f "$src" 2>/dev/null) == "$real" ]] ;;
		esac && echo "$name"
	done <"$dracutsysrootdir/etc/crypttab"
}

# _kmipcrypt_network_dropin DEV FSTYPE: for a bound volume DEV, its
# systemd-cryptsetup units wait for the network (the token plugin asks the
# KMS); the others keep their place in the boot.
_kmipcrypt_network_dropin() {
	local name unit
	_kmipcrypt_bound "$1" "$2" || return 1
	while IFS= read -r name; do
		unit=$(systemd-escape --template=systemd-cryptsetup@.service -- "$name") || continue
		inst_simple "$moddir/cryptsetup-network.conf" \
			"$systemdsystemunitdir/$unit.d/kmipcrypt-network.conf"
	done < <(_kmipcrypt_names "$1")
	return 0
}

# called by dracut
check() {
	require_binaries kmipcrypt cryptsetup || return 1
	[[ -f $dracutsysrootdir/etc/kmipcrypt/kmipcrypt.conf ]] || return 1
	# hostonly: included (with the network it depends on) when a volume the
	# initramfs opens is bound to the KMS, as dracut's crypt module is when
	# one is LUKS; otherwise only when asked for (--add kmipcrypt), so that
	# a host without a bound volume does not get the network in its
	# initramfs.  Not hostonly: only when asked for.
	if [[ $hostonly ]] || [[ $mount_needs ]]; then
		for_each_host_dev_fs _kmipcrypt_bound && return 0
	fi
	return 255
}

# called by dracut
depends() {
	echo crypt network
	return 0
}

# The plugin directory libcryptsetup looks in, as cryptsetup of the system says.
_kmipcrypt_plugin_dir() {
	cryptsetup --help 2>/dev/null | sed -n 's/^LUKS2 external token plugin path: \(.*\)\.$/\1/p'
}

# called by dracut
install() {
	local dir f conf files

	inst_multiple kmipcrypt cryptsetup
	# The token plugin only for systemd-cryptsetup.  Without systemd the
	# crypt module opens a volume with cryptsetup and a typed passphrase,
	# and cryptsetup 2.6 tries the volume's tokens first: with the plugin
	# each passphrase typed would ask the KMS again (a revoked key once
	# more, an unreachable KMS waited on for the plugin's deadline).  The
	# initqueue hook is the one bounded KMS attempt there.
	dir=$(_kmipcrypt_plugin_dir)
	if ! dracut_module_included "systemd"; then
		:
	elif [[ -n $dir && -f $dracutsysrootdir$dir/libcryptsetup-token-kmip.so ]]; then
		inst_library "$dir/libcryptsetup-token-kmip.so"
	else
		dwarn "kmipcrypt: no token plugin in libcryptsetup's plugin directory '$dir': systemd-cryptsetup cannot unlock from the KMS"
	fi
	# The configuration and every file it needs, wherever it is: each
	# group's CA, certificate, key and key password file, the KEK files
	# (`kmipcrypt config files`, kmipcrypt-config(8)).  Checked first: a
	# configuration that cannot work at boot is said now, loudly, not at the
	# next boot (the image is still made: a kernel update is not held up).
	# The initramfs then holds the client key: dracut writes it 0600.
	conf=$dracutsysrootdir/etc/kmipcrypt/kmipcrypt.conf
	if ! kmipcrypt -q -c "$conf" config check >/dev/null 2>"${DRACUT_TMPDIR:-/tmp}/kmipcrypt-check.$$"; then
		while IFS= read -r f; do dwarn "$f"; done <"${DRACUT_TMPDIR:-/tmp}/kmipcrypt-check.$$"
		dwarn "kmipcrypt: $conf is not usable (above): volumes will not unlock from the KMS at boot; fix it, then rebuild the initramfs"
	fi
	rm -f "${DRACUT_TMPDIR:-/tmp}/kmipcrypt-check.$$"
	if files=$(kmipcrypt -q -c "$conf" config files); then
		while IFS= read -r f; do
			[[ -e $f ]] || { dwarn "kmipcrypt: $f (named by $conf) does not exist"; continue; }
			inst_simple "${f#"$dracutsysrootdir"}"
		done <<<"$files"
	else
		dwarn "kmipcrypt: cannot list the files $conf needs: copying $dracutsysrootdir/etc/kmipcrypt as it is"
		while IFS= read -r -d '' f; do
			inst_simple "${f#"$dracutsysrootdir"}"
		done < <(find "$dracutsysrootdir/etc/kmipcrypt" -type f -print0)
	fi

	if dracut_module_included "systemd"; then
		inst_simple "$moddir/kmipcrypt-unlock.service" "$systemdsystemunitdir/kmipcrypt-unlock.service"
		$SYSTEMCTL -q --root "$initdir" add-wants cryptsetup.target kmipcrypt-unlock.service
		# systemd-cryptsetup asks the KMS through the plugin: after the
		# network.  hostonly: the bound volumes' units only (an unbound
		# volume's prompt does not wait for a network that may never come);
		# otherwise which volumes are bound is not known here: every unit.
		if [[ $hostonly ]]; then
			for_each_host_dev_fs _kmipcrypt_network_dropin ||
				dwarn "kmipcrypt: no volume the initramfs opens has a kmip token: no volume waits for the network"
		else
			inst_simple "$moddir/cryptsetup-network.conf" \
				"$systemdsystemunitdir/systemd-cryptsetup@.service.d/kmipcrypt-network.conf"
		fi
		# The password agent beside the prompt (kmipcrypt-askpass(8)): answers
		# the prompt from the KMS when the plugin's one try came too early
		# (network late, KMS briefly down).  Installed by `make install`.
		if [[ -f $dracutsysrootdir$systemdsystemunitdir/kmipcrypt-askpass.path ]]; then
			inst_multiple "$systemdsystemunitdir/kmipcrypt-askpass.path" \
				"$systemdsystemunitdir/kmipcrypt-askpass.service"
			$SYSTEMCTL -q --root "$initdir" add-wants cryptsetup.target kmipcrypt-askpass.path
		else
			dwarn "kmipcrypt: no kmipcrypt-askpass.path in $systemdsystemunitdir: the KMS is tried once, before the prompt"
		fi
	else
		inst_hook initqueue/settled 30 "$moddir/kmipcrypt-unlock.sh"
	fi
	# The network the KMS needed, taken down before switch_root (after
	# dracut's own kill-dhclient, cleanup 10); rd.kmipcrypt.keepnet=1 keeps it.
	inst_multiple -o ip systemctl
	inst_hook cleanup 90 "$moddir/kmipcrypt-netdown.sh"
	dracut_need_initqueue
}
