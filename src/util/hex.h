/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Strict hex and base64 (RFC 4648, standard alphabet, padded) codecs for
 * short values such as key pins and identifiers.  Strict: no whitespace, no
 * "0x", no missing padding, no non-zero trailing bits, so that one value has
 * exactly one spelling.  The decoders are not constant-time: do not feed
 * them secrets.  base64_encode is: it also makes keyslot passphrases.
 */
#ifndef KMIPCRYPT_HEX_H
#define KMIPCRYPT_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The value of one hex digit (either case), or -1. */
int hex_nibble(char c);
/* Exactly 2 * out_len hex digits (either case) in s[0..slen).  0 or -EINVAL. */
int hex_decode(const char *s, size_t slen, uint8_t *out, size_t out_len);
/* Lower-case hex of in[0..len) into out, which holds 2 * len + 1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* The same written to f (errors show in ferror(f)). */
void hex_fput(FILE *f, const uint8_t *in, size_t len);
/*
 * Base64 of s[0..slen) into out[0..out_max).  Returns the decoded length,
 * -EINVAL on bad input, -ENOBUFS if out_max is too small.
 */
int base64_decode(const char *s, size_t slen, uint8_t *out, size_t out_max);
/* The size base64_encode needs for len bytes, terminating NUL included. */
#define BASE64_ENCODED_SIZE(len)	(4 * (((len) + 2) / 3) + 1)
/*
 * Padded base64 of in[0..len) into out, which holds BASE64_ENCODED_SIZE(len)
 * bytes, NUL-terminated.  Returns the length of the text.  Constant time: no
 * table lookup and no branch depends on the bytes, only on len.
 */
size_t base64_encode(const uint8_t *in, size_t len, char *out);

#endif
