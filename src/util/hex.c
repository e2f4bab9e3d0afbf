// SPDX-License-Identifier: LGPL-2.1-or-later
/* Strict hex and base64 codecs: see hex.h. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "util/hex.h"

int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, size_t slen, uint8_t *out, size_t out_len)
{
	size_t i;
	int r = -EINVAL;

	if (!s || !out || out_len > SIZE_MAX / 2 || slen != 2 * out_len)
		goto out;
	for (i = 0; i < out_len; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto out;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	r = 0;
out:
	return r;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void hex_fput(FILE *f, const uint8_t *in, size_t len)
{
	char buf[2 * 256 + 1];
	size_t n;

	for (; len; in += n, len -= n) {
		n = len < 256 ? len : 256;
		hex_encode(in, n, buf);
		fwrite(buf, 1, 2 * n, f);
	}
	explicit_bzero(buf, sizeof(buf));	/* may be key material (--show-secrets) */
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *s, size_t slen, uint8_t *out, size_t out_max)
{
	size_t i, n = 0, pad = 0;
	int r = -EINVAL;

	if (!s || !out || slen == 0 || slen % 4 || slen / 4 * 3 > INT_MAX)
		goto out;
	if (s[slen - 1] == '=')
		pad++;
	if (s[slen - 2] == '=')
		pad++;
	if (slen / 4 * 3 - pad > out_max) {
		r = -ENOBUFS;
		goto out;
	}
	for (i = 0; i < slen; i += 4) {
		int v[4], k, last = i + 4 == slen;
		uint32_t w;

		for (k = 0; k < 4; k++) {
			/* '=' only as the final one or two characters. */
			if (last && s[i + k] == '=' && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			v[k] = b64_value(s[i + k]);
			if (v[k] < 0)
				goto out;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Bits that padding hides must be zero: one spelling only. */
		if (last && pad == 2 && (w & 0xffff))
			goto out;
		if (last && pad == 1 && (w & 0xff))
			goto out;
		out[n++] = (uint8_t)(w >> 16);
		if (!last || pad < 2)
			out[n++] = (uint8_t)(w >> 8);
		if (!last || pad < 1)
			out[n++] = (uint8_t)w;
	}
	r = (int)n;
out:
	return r;
}

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

size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;
	unsigned v = 0;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_char(v >> 18 & 63);
		out[o++] = b64_char(v >> 12 & 63);
		out[o++] = b64_char(v >> 6 & 63);
		out[o++] = b64_char(v & 63);
	}
	if (i < len) {
		v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
		out[o++] = b64_char(v >> 18 & 63);
		out[o++] = b64_char(v >> 12 & 63);
		out[o++] = i + 1 < len ? b64_char(v >> 6 & 63) : '=';
		out[o++] = '=';
	}
	explicit_bzero(&v, sizeof(v));
	out[o] = '\0';
	return o;
}
