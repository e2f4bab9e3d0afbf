#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut cleanup hook (kmipcrypt module): take down the network the
# initramfs brought up to reach the KMS, before switch_root, as
# initramfs-tools/scripts/local-bottom/kmipcrypt does: the real system
# configures its interfaces its own way (systemd-networkd, ifupdown,
# NetworkManager), and an address, a route, a DHCP lease or a .network
# file left from the initramfs would be taken for its own configuration
# (dracut's systemd-networkd writes /run/systemd/network/ from ip=, and /run
# is carried into the real system).
#
# Left up when the real system needs the initramfs network: a network root
# (netroot=, root= on NFS, iSCSI or NBD), an iSCSI session, or
# rd.kmipcrypt.keepnet=1 on the kernel command line.
#
# dracut SOURCES cleanup hooks (dracut-pre-pivot, or init without systemd):
# nothing here may exit.

kmipcrypt_netdown() {
	local f dev n=0 unit
	getargbool 0 rd.kmipcrypt.keepnet && { info "kmipcrypt: rd.kmipcrypt.keepnet: the initramfs network stays up"; return 0; }
	[ -n "${netroot:-}" ] && return 0
	case "$(getarg root=)" in
	nfs* | iscsi* | nbd* | dhcp* | /dev/nfs) return 0 ;;
	esac
	for f in /sys/class/iscsi_session/*; do
		[ -e "$f" ] && return 0
	done
	command -v ip >/dev/null 2>&1 || return 0
	# No daemon may give an address back: systemd-networkd (its DHCP leases
	# are kept on stop in the initramfs), dhclient (dracut's kill-dhclient
	# ran before this hook without systemd).
	if [ -n "${DRACUT_SYSTEMD:-}" ]; then
		for unit in systemd-networkd.socket systemd-networkd.service; do
			systemctl -q is-active "$unit" 2>/dev/null && systemctl stop "$unit"
		done
	fi
	for f in /tmp/dhclient.*.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for f in /sys/class/net/*; do
		dev=${f##*/}
		[ "$dev" = lo ] && continue
		[ -n "$(ip -o addr show dev "$dev" scope global 2>/dev/null)" ] || continue
		ip addr flush dev "$dev" scope global 2>/dev/null
		ip route flush dev "$dev" 2>/dev/null
		ip link set dev "$dev" down 2>/dev/null
		n=$((n + 1))
	done
	# What the initramfs's systemd-network-generator made of ip=.
	for f in /run/systemd/network/*.network /run/systemd/network/*.netdev /run/systemd/network/*.link; do
		[ -e "$f" ] && grep -q "systemd-network-generator" "$f" 2>/dev/null && rm -f "$f"
	done
	rm -f /tmp/net.*.did-setup /tmp/net.*.up /run/initramfs/state/etc/sysconfig/network-scripts/ifcfg-* 2>/dev/null
	[ "$n" -gt 0 ] && info "kmipcrypt: the initramfs network is down ($n interface(s)); rd.kmipcrypt.keepnet=1 keeps it"
	return 0
}

kmipcrypt_netdown
