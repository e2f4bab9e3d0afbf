#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut initqueue hook (no systemd in the initramfs): unlock the bound volumes
# from the KMIP key server once the network is up; crypttab's names and options.
command -v kmipcrypt >/dev/null || exit 0
[ -f /etc/kmipcrypt/kmipcrypt.conf ] || exit 0
kmipcrypt unlock --all --timeout 30s >/dev/null 2>&1 || :
