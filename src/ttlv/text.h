/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Text forms of TTLV for people: an indented dump of a decoded message
 * (names resolved, enumerations and mask flags by name, dates in ISO 8601,
 * bytes in hex, key material redacted), and the small conversions the
 * dump, the XML encoding and the command line share (dates, hex input).
 */
#ifndef KMIPCRYPT_TTLV_TEXT_H
#define KMIPCRYPT_TTLV_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ttlv/ttlv.h"

/*
 * Dump a validated item and everything under it, one line per item,
 * indented by two spaces per level from `level`:
 *
 *   Batch Item
 *     Operation (Enumeration): Get
 *     Key Material (Byte String): <redacted, 16 bytes>
 *
 * Unless show_secrets is set, these values are replaced by their length:
 * every Byte String and Big Integer inside Key Value or Key Material (the
 * key itself, the parts of a transparent key, Secret Data, a wrapped key),
 * and Data and Password (and a few similar tags) of any type.  Text is
 * quoted and control characters escaped, so that hostile input cannot
 * drive the terminal.  0 or -EIO.
 */
int ttlv_text_dump_item(FILE *f, const struct ttlv_item *root, unsigned level,
			bool show_secrets);
/*
 * Decode buf[0..len) (size cap: max_len, 0 for TTLV_MAX_MESSAGE) and dump
 * it.  A message that does not decode is dumped as far as it was checked
 * (err->valid: complete items, and the Structures that hold the fault),
 * followed by a line "<malformed: ...>" at the level of the fault; the
 * decoder's error is returned and, when err is not NULL, its detail.
 */
int ttlv_text_dump(FILE *f, const uint8_t *buf, size_t len, size_t max_len,
		   bool show_secrets, struct ttlv_error *err);

/* Buffer size that holds every ttlv_error_format() sentence whole. */
#define TTLV_ERROR_TEXT 256
/*
 * One line saying where and why a message was refused, e.g.
 *   "Batch Count (0x42000D, Integer) at byte 48: length 5, an Integer is 4 bytes"
 *   "Batch Item (0x42000F, Structure) at byte 72: length 300 runs past the end
 *    of Request Message (byte 0): 40 bytes left"
 * Offsets are e's (from the first byte of the decoded buffer).  Writes at
 * most size bytes, always NUL-terminated (cut if too small); returns buf.
 * Names come from constant tables: thread-safe, nothing allocated.
 */
const char *ttlv_error_format(const struct ttlv_error *e, char *buf, size_t size);
/* Is this item's value redacted in a dump (tag, type, inside a key value)? */
bool ttlv_text_is_secret(uint32_t tag, uint8_t type, bool in_key_value);

/* ------------------------------------------------------------------ dates */

#define TTLV_DATETIME_LEN 40	/* buffer size for ttlv_datetime_format() */

/*
 * ISO 8601 in UTC: "2001-01-01T10:00:00+00:00" for POSIX seconds; with
 * ext, v is in microseconds: "2001-01-01T10:00:00.000001+00:00".
 * -ERANGE outside the years 0000..9999 (write a number instead).
 */
int ttlv_datetime_format(int64_t v, bool ext, char out[TTLV_DATETIME_LEN]);
/*
 * Parse "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)" into POSIX seconds
 * (or, with ext, microseconds).  A fraction is only accepted with ext (a
 * Date-Time has whole seconds).  0 or -EINVAL / -ERANGE.
 */
int ttlv_datetime_parse(const char *s, bool ext, int64_t *v);

/* -------------------------------------------------------------------- hex */

/*
 * Hex digits (either case) with any white space between them into bytes:
 * "42 00 78 01\n00 00 00 20".  The digits must pair up.  out may be NULL
 * to count.  0, -EINVAL (not hex, odd digit count), -EMSGSIZE (more than
 * max bytes).  *n is the byte count.
 */
int ttlv_hex_read(const char *s, size_t slen, uint8_t *out, size_t max, size_t *n);
/* Does s[0..len) hold only hex digits and white space (and some digits)? */
bool ttlv_hex_looks_like(const uint8_t *s, size_t len);

#endif
