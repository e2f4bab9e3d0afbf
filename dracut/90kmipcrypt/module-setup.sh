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

# called by dracut
check() {
	require_binaries kmipcrypt cryptsetup || return 1
	[[ -f $dracutsysrootdir/etc/kmipcrypt/kmipcrypt.conf ]] || return 1
	# Included when asked for (--add kmipcrypt) or when the host has a bound volume.
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
	local dir f

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
	# The configuration, the credentials and KEK files it keeps beside it
	# (credentials elsewhere are not found: keep them in /etc/kmipcrypt).
	# The initramfs then holds the client key: dracut writes it 0600.
	while IFS= read -r -d '' f; do
		inst_simple "${f#"$dracutsysrootdir"}"
	done < <(find "$dracutsysrootdir/etc/kmipcrypt" -type f -print0)

	if dracut_module_included "systemd"; then
		inst_simple "$moddir/kmipcrypt-unlock.service" "$systemdsystemunitdir/kmipcrypt-unlock.service"
		$SYSTEMCTL -q --root "$initdir" add-wants cryptsetup.target kmipcrypt-unlock.service
		# systemd-cryptsetup asks the KMS through the plugin: after the network.
		inst_simple "$moddir/cryptsetup-network.conf" \
			"$systemdsystemunitdir/systemd-cryptsetup@.service.d/kmipcrypt-network.conf"
	else
		inst_hook initqueue/settled 30 "$moddir/kmipcrypt-unlock.sh"
	fi
	dracut_need_initqueue
}
