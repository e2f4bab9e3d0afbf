/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keyslot secrets: the passphrase of a kmip keyslot is the base64 text of
 * its random secret (as systemd-cryptenroll does for TPM2 and FIDO2), so
 * that it is printable and can be typed or pasted for a manual recovery:
 *   kmipcrypt key get UID --show-secret --json | ... | base64
 *
 * The encoder runs in constant time: no table lookup and no branch depends
 * on the secret's bytes.
 */
#include <errno.h>
#include <string.h>

#include "luks/luks.h"
#include "util/secmem.h"

static unsigned ct_lt(unsigned a, unsigned b)	/* 0xff if a < b (both < 256), else 0 */
{
	return ((a - b) >> 8) & 0xff;
}

static char b64_char(unsigned x)
{
	unsigned c;

	c = ct_lt(x, 26) & (x + 'A');
	c |= ~ct_lt(x, 26) & ct_lt(x, 52) & (x + 'a' - 26);
	c |= ~ct_lt(x, 52) & ct_lt(x, 62) & (x - 52 + '0');
	c |= ~ct_lt(x, 62) & ct_lt(x, 63) & '+';
	c |= ~ct_lt(x, 63) & '/';
	return (char)(c & 0xff);
}

int luks_secret_passphrase(const uint8_t *secret, size_t len, char **pass, size_t *pass_len)
{
	size_t n, i, o = 0;
	unsigned v;
	char *p;

	*pass = NULL;
	*pass_len = 0;
	if (!secret || len == 0 || len > KMIP_MATERIAL_MAX)
		return -EINVAL;
	n = 4 * ((len + 2) / 3);
	p = secmem_alloc(n + 1);
	if (!p)
		return -errno;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)secret[i] << 16 | (unsigned)secret[i + 1] << 8 | secret[i + 2];
		p[o++] = b64_char(v >> 18 & 63);
		p[o++] = b64_char(v >> 12 & 63);
		p[o++] = b64_char(v >> 6 & 63);
		p[o++] = b64_char(v & 63);
	}
	if (i < len) {
		v = (unsigned)secret[i] << 16 | (i + 1 < len ? (unsigned)secret[i + 1] << 8 : 0);
		p[o++] = b64_char(v >> 18 & 63);
		p[o++] = b64_char(v >> 12 & 63);
		p[o++] = i + 1 < len ? b64_char(v >> 6 & 63) : '=';
		p[o++] = '=';
	}
	explicit_bzero(&v, sizeof(v));
	p[o] = '\0';
	*pass = p;
	*pass_len = o;
	return 0;
}
