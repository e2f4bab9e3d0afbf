/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The envelope of a keyslot secret: KMIP Encrypt by a server-side key, for
 * the envelope kind's token (enroll makes it, rekey makes it anew under a
 * new key).  AES-GCM bound to the volume where the server does it, AES-CBC
 * where it refuses: docs/token.md says why.
 */
#include <errno.h>
#include <string.h>
#include <openssl/rand.h>

#include "kmip/kmip.h"
#include "luks/luks_internal.h"
#include "util/log.h"
#include "util/secmem.h"

/* Did the server answer this Encrypt with a failure (rather than never answer)? */
static bool encrypt_refused(struct kmip_client *c)
{
	const struct kmip_result *res = kmip_last_result(c);

	return res && res->op == KMIP_OP_ENCRYPT && res->status != KMIP_STATUS_SUCCESS;
}

/* One Encrypt of the keyslot secret into t: AES-GCM, or AES-CBC. */
static int encrypt_as(struct kmip_client *c, const char *device, const char *uid,
		      const char *volume_uuid, int keyslot, const uint8_t *secret,
		      enum kmip_envelope_mode mode, struct kmip_token *t)
{
	struct kmip_crypt_params p = { .algorithm = KMIP_ALG_AES };
	uint8_t aad[KMIP_ENVELOPE_AAD_MAX], *ct = NULL;
	size_t ct_len = 0;
	bool gcm = mode == KMIP_ENVELOPE_AES_GCM, ok;
	int r;

	if (gcm) {
		r = kmip_envelope_aad(volume_uuid, keyslot, aad, sizeof(aad));
		if (r < 0)
			return log_error_errno(-ELUKS, "%s: the volume has no usable LUKS2 UUID",
					       device);
		p.mode = KMIP_BCM_GCM;
		p.iv_len = KMIP_ENVELOPE_GCM_IV;
		p.tag_len = KMIP_ENVELOPE_TAG;
		p.aad = aad;
		p.aad_len = (size_t)r;
	} else {
		p.mode = KMIP_BCM_CBC;
		p.padding = KMIP_PAD_PKCS5;
		p.iv_len = KMIP_ENVELOPE_CBC_IV;
	}
	/* Our own IV: not every server makes one. */
	if (RAND_bytes(p.iv, (int)p.iv_len) != 1)
		return log_error_errno(-EIO, "the random number generator failed");
	r = kmip_encrypt(c, uid, &p, secret, KMIP_SECRET_BYTES, &ct, &ct_len);
	if (r < 0)
		goto out;
	/* GCM: as long as the secret; CBC: whole blocks, padded. */
	ok = gcm ? ct_len == KMIP_SECRET_BYTES && p.iv_len == KMIP_ENVELOPE_GCM_IV :
		ct_len >= 16 && ct_len <= KMIP_ENVELOPE_MAX && ct_len % 16 == 0 &&
		p.iv_len == KMIP_ENVELOPE_CBC_IV;
	if (!ok) {
		r = log_error_errno(-EPROTO, "%s: the server's %s answer has %zu bytes (IV %zu) for "
				    "a secret of %d bytes", device, kmip_envelope_mode_name(mode),
				    ct_len, p.iv_len, KMIP_SECRET_BYTES);
		goto out;
	}
	t->mode = mode;
	memcpy(t->ciphertext, ct, ct_len);
	t->ciphertext_len = ct_len;
	memcpy(t->iv, p.iv, p.iv_len);
	t->iv_len = p.iv_len;
	memset(t->tag, 0, sizeof(t->tag));
	t->tag_len = 0;
	if (gcm) {
		memcpy(t->tag, p.tag, p.tag_len);
		t->tag_len = p.tag_len;
	}
out:
	explicit_bzero(&p, sizeof(p));
	secmem_free(ct);
	return r;
}

/*
 * AES-GCM where the server does it; AES-CBC, with a warning, where it
 * refuses (any failure answer, no tag in the answer, or a KMIP version
 * before 1.4).
 */
int luks_envelope_encrypt(struct kmip_client *c, const char *device, const char *uid,
			  const char *volume_uuid, int keyslot, const uint8_t *secret,
			  struct kmip_token *t)
{
	char why[KMIP_FAILURE_TEXT_SIZE];
	int r;

	r = encrypt_as(c, device, uid, volume_uuid, keyslot, secret, KMIP_ENVELOPE_AES_GCM, t);
	if (r == -EOPNOTSUPP || (r < 0 && encrypt_refused(c))) {
		log_warn("%s: the server does not do AES-GCM through KMIP Encrypt (%s); the "
			 "envelope is AES-CBC, which binds it to no volume (a changed envelope is "
			 "still refused like a wrong secret)", device,
			 encrypt_refused(c) ? kmip_failure_reason(c, r, why, sizeof(why)) :
			 "no tag in its answer, or KMIP before 1.4");
		r = encrypt_as(c, device, uid, volume_uuid, keyslot, secret, KMIP_ENVELOPE_AES_CBC, t);
	}
	if (r < 0 && r != -EPROTO)
		log_error("%s: %s", device, kmip_failure_text(c, r, why, sizeof(why),
			  "encrypting the keyslot secret with key '%s'", uid));
	if (r == 0)
		log_info("%s: keyslot secret encrypted by key '%s' (%s)", device, uid,
			 kmip_envelope_mode_name(t->mode));
	return r;
}
