/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keyslot secrets: the passphrase of a kmip keyslot is the base64 text of
 * its random secret (as systemd-cryptenroll does for TPM2 and FIDO2), so
 * that it is printable and can be typed or pasted for a manual recovery:
 * `kmipcrypt key get --passphrase UID` prints it (kmipcrypt-unlock(8), RECOVERY).
 */
#include <errno.h>
#include <string.h>

#include "luks/luks.h"
#include "util/hex.h"
#include "util/secmem.h"

int luks_secret_passphrase(const uint8_t *secret, size_t len, char **pass, size_t *pass_len)
{
	char *p;

	*pass = NULL;
	*pass_len = 0;
	if (!secret || len == 0 || len > KMIP_MATERIAL_MAX)
		return -EINVAL;
	p = secmem_alloc(BASE64_ENCODED_SIZE(len));
	if (!p)
		return -errno;
	*pass_len = base64_encode(secret, len, p);	/* constant time */
	*pass = p;
	return 0;
}
