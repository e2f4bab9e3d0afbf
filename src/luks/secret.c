/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keyslot secrets: the passphrase of a kmip keyslot is the base64 text of
 * its random secret (as systemd-cryptenroll does for TPM2 and FIDO2), so
 * that it is printable and can be typed or pasted for a manual recovery:
 * `kmipcrypt key get --passphrase UID` prints it (kmipcrypt-unlock(8), RECOVERY).
 * And the keyslot itself (enroll, rekey): PBKDF2, a minimal iteration count.
 */
#include <errno.h>
#include <string.h>

#include "luks/luks_internal.h"
#include "util/hex.h"
#include "util/log.h"
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

int luks_keyslot_free(struct crypt_device *cd, const char *device)
{
	int i, max = crypt_keyslot_max(CRYPT_LUKS2);

	for (i = 0; i < max; i++)
		if (crypt_keyslot_status(cd, i) == CRYPT_SLOT_INACTIVE)
			return i;
	return log_error_errno(-ELUKS, "%s: no free keyslot", device);
}

int luks_keyslot_set_pbkdf(struct crypt_device *cd, const char *device)
{
	const struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha256",
		.iterations = KMIP_KEYSLOT_PBKDF2_ITERATIONS,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	int r = crypt_set_pbkdf_type(cd, &pbkdf);

	return r < 0 ? luks_crypt_fail(r, device, "setting PBKDF2 for the new keyslot") : 0;
}

int luks_keyslot_add_secret(struct crypt_device *cd, const char *device, int slot,
			    const uint8_t *vk, size_t vk_len, const uint8_t *secret, size_t len)
{
	char *pass = NULL;
	size_t pass_len = 0;
	int r;

	r = luks_keyslot_set_pbkdf(cd, device);
	if (r == 0)
		r = luks_secret_passphrase(secret, len, &pass, &pass_len);
	if (r == 0) {
		r = crypt_keyslot_add_by_volume_key(cd, slot, (const char *)vk, vk_len, pass,
						    pass_len);
		if (r < 0)
			r = luks_crypt_fail(r, device, "adding the keyslot");
	}
	secmem_free(pass);
	if (r >= 0)
		log_info("%s: keyslot %d added (PBKDF2, %d iterations)", device, r,
			 KMIP_KEYSLOT_PBKDF2_ITERATIONS);
	return r;
}
