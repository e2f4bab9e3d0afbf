// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * AES key wrap (RFC 3394, KMIP "NIST Key Wrap") and AES key wrap with
 * padding (RFC 5649, KMIP "AES Key Wrap Padding"), by OpenSSL's EVP wrap
 * ciphers.  The result goes to locked memory: unwrapping produces key
 * material.
 */
#include <errno.h>

#include <openssl/evp.h>

#include "kmip/kmip.h"
#include "util/secmem.h"

static const EVP_CIPHER *wrap_cipher(uint32_t mode, size_t kek_len)
{
	bool pad = mode == KMIP_BCM_AES_KEY_WRAP_PADDING;

	switch (kek_len) {
	case 16: return pad ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
	case 24: return pad ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
	case 32: return pad ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
	default: return NULL;
	}
}

/* Input lengths each mode accepts; RFC 3394 needs at least two 64-bit blocks. */
static int check_lengths(uint32_t mode, bool enc, size_t in_len)
{
	if (in_len > KMIP_MATERIAL_MAX)
		return -EINVAL;
	if (mode == KMIP_BCM_NIST_KEY_WRAP)
		return (in_len % 8 || in_len < (enc ? 16u : 24u)) ? -EINVAL : 0;
	if (enc)
		return in_len ? 0 : -EINVAL;
	return (in_len % 8 || in_len < 16) ? -EINVAL : 0;
}

static int aes_wrap(bool enc, uint32_t mode, const uint8_t *kek, size_t kek_len,
		    const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	int n = 0, fin = 0, r;

	*out = NULL;
	*out_len = 0;
	r = -EOPNOTSUPP;
	if (mode != KMIP_BCM_NIST_KEY_WRAP && mode != KMIP_BCM_AES_KEY_WRAP_PADDING)
		goto out;
	r = -EINVAL;
	cipher = wrap_cipher(mode, kek_len);
	if (!cipher || !kek || !in || check_lengths(mode, enc, in_len) < 0)
		goto out;
	r = -ENOMEM;
	/* Wrapping adds 8 bytes plus padding to 8; unwrapping only shrinks. */
	buf = secmem_alloc(in_len + 16);
	if (!buf)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		goto out;
	/* OpenSSL refuses the wrap modes through EVP unless asked explicitly. */
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	r = -EIO;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc ? 1 : 0) != 1)
		goto out;
	/* A failed integrity check shows up here, as -1 or 0. */
	r = enc ? -EIO : -EBADMSG;
	if (EVP_CipherUpdate(ctx, buf, &n, in, (int)in_len) != 1 || n <= 0)
		goto out;
	if (EVP_CipherFinal_ex(ctx, buf + n, &fin) != 1)
		goto out;
	*out_len = (size_t)n + (size_t)fin;
	*out = buf;
	buf = NULL;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the expanded key */
	secmem_free(buf);
	return r;
}

int kmip_unwrap(uint32_t mode, const uint8_t *kek, size_t kek_len,
		const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return aes_wrap(false, mode, kek, kek_len, in, in_len, out, out_len);
}

int kmip_wrap(uint32_t mode, const uint8_t *kek, size_t kek_len,
	      const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return aes_wrap(true, mode, kek, kek_len, in, in_len, out, out_len);
}
